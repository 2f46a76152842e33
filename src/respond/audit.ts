import type { Store } from '../store/store';
import type { ResponseAction } from './config';

/** Who acted: a Slack user (id and name as Slack gave them) or the OS user running the CLI. */
export interface Actor {
  via: 'slack' | 'cli';
  id: string | null;
  name: string | null;
}

/** A result as the audit table stores it. */
export type AuditResult = 'pending' | 'revoked' | 'already-gone' | 'forbidden' | 'failed' | 'recorded' | 'refused' | 'duplicate';

/** Who revoked a token through this program, as a watch and its status line say it. */
export function viaUsText(by: Actor): string {
  return `${by.name ?? by.id ?? 'someone'} (${by.via === 'slack' ? 'Slack' : 'CLI'}) via okta-token-watch`;
}

/** One row of the audit table. */
export interface AuditRow {
  id: number;
  /** The alert (`otw-...`), or null when the attempt named none this database knows. */
  alertId: string | null;
  target: string;
  tokenId: string | null;
  action: ResponseAction;
  by: Actor;
  requestedAt: string;
  finishedAt: string | null;
  result: AuditResult;
  reason: string | null;
  error: string | null;
}

const COLUMNS = `r.id, a.alert_id AS alertId, r.target, r.token_id AS tokenId, r.action, r.by_via AS byVia, r.by_id AS byId,
  r.by_name AS byName, r.requested_at AS requestedAt, r.finished_at AS finishedAt, r.result, r.reason, r.error`;
const FROM = 'response_actions r LEFT JOIN alerts a ON a.id = r.alert_id';

interface RawRow extends Omit<AuditRow, 'by'> {
  byVia: 'slack' | 'cli';
  byId: string | null;
  byName: string | null;
}

function toRow(r: RawRow): AuditRow {
  const { byVia, byId, byName, ...rest } = r;
  return { ...rest, by: { via: byVia, id: byId, name: byName } };
}

/**
 * The response_actions table (migration 012). Plain SQL over the project's Store; callers group
 * writes in `store.transaction` where a claim and its check must be one step.
 */
export class AuditLog {
  constructor(private readonly store: Store) {}

  /** Stores an attempt; returns its row id. */
  insert(row: { alertRowId: number | null; target: string; tokenId: string | null; action: ResponseAction; by: Actor; at: Date; result: AuditResult; reason: string | null; error: string | null; finished: boolean }): number {
    const at = row.at.toISOString();
    const info = this.store
      .prepared(
        `INSERT INTO response_actions (alert_id, target, token_id, action, by_via, by_id, by_name, requested_at, finished_at, result, reason, error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(row.alertRowId, row.target, row.tokenId, row.action, row.by.via, row.by.id, row.by.name, at, row.finished ? at : null, row.result, row.reason, row.error);
    return Number(info.lastInsertRowid);
  }

  /** Records how an attempt ended. */
  finish(id: number, at: Date, result: AuditResult, error: string | null): void {
    this.store.prepared('UPDATE response_actions SET finished_at = ?, result = ?, error = ? WHERE id = ?').run(at.toISOString(), result, error, id);
  }

  get(id: number): AuditRow | null {
    const r = this.store.prepared(`SELECT ${COLUMNS} FROM ${FROM} WHERE r.id = ?`).get(id) as RawRow | undefined;
    return r ? toRow(r) : null;
  }

  /**
   * The revoke of this token that stands: the latest one that is pending or succeeded (revoked, or
   * already gone), or null when none does (none yet, or every earlier one failed).
   */
  standingRevoke(tokenId: string): AuditRow | null {
    const r = this.store
      .prepared(`SELECT ${COLUMNS} FROM ${FROM} WHERE r.token_id = ? AND r.action = 'revoke' AND r.result IN ('pending', 'revoked', 'already-gone') ORDER BY r.id DESC LIMIT 1`)
      .get(tokenId) as RawRow | undefined;
    return r ? toRow(r) : null;
  }

  /**
   * The revoke of this token that Okta answered with 204, or null. A token is revoked once, so
   * that answer means the revoke was ours: the watch's "revoked by <who> via okta-token-watch" when
   * Okta's revoke event comes in. A 404 (someone revoked it first) or a revoke still pending is not.
   */
  async revokedByUs(tokenId: string): Promise<AuditRow | null> {
    const r = await this.store.sql.get<RawRow>(`SELECT ${COLUMNS} FROM ${FROM} WHERE r.token_id = ? AND r.action = 'revoke' AND r.result = 'revoked' ORDER BY r.id DESC LIMIT 1`, [tokenId]);
    return r ? toRow(r) : null;
  }

  /** Every attempt on an alert, oldest first, at most `limit`. */
  ofAlert(alertId: string, limit = 50): AuditRow[] {
    return (this.store.prepared(`SELECT ${COLUMNS} FROM ${FROM} WHERE a.alert_id = ? ORDER BY r.id LIMIT ?`).all(alertId, limit) as RawRow[]).map(toRow);
  }
}
