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

// camelCase aliases are quoted: PostgreSQL folds unquoted names to lower case.
const COLUMNS = `r.id, a.alert_id AS "alertId", r.target, r.token_id AS "tokenId", r.action, r.by_via AS "byVia", r.by_id AS "byId",
  r.by_name AS "byName", r.requested_at AS "requestedAt", r.finished_at AS "finishedAt", r.result, r.reason, r.error`;
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
 * The response_actions table (migration 012; per org since 014: rows are written with, and a
 * token's revokes read within, the Store's org). Plain SQL over the Store's connection, so it runs
 * on SQLite and PostgreSQL alike; where a claim and its check must be one step, callers build it on
 * the Store a `store.transaction(async (tx) => ...)` hands them (`new AuditLog(tx)`).
 */
export class AuditLog {
  constructor(private readonly store: Store) {}

  /** Stores an attempt; returns its row id. */
  async insert(row: { alertRowId: number | null; target: string; tokenId: string | null; action: ResponseAction; by: Actor; at: Date; result: AuditResult; reason: string | null; error: string | null; finished: boolean }): Promise<number> {
    const at = row.at.toISOString();
    const inserted = await this.store.sql.get<{ id: number }>(
      `INSERT INTO response_actions (org, alert_id, target, token_id, action, by_via, by_id, by_name, requested_at, finished_at, result, reason, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [this.store.org, row.alertRowId, row.target, row.tokenId, row.action, row.by.via, row.by.id, row.by.name, at, row.finished ? at : null, row.result, row.reason, row.error],
    );
    return Number(inserted!.id);
  }

  /** Records how an attempt ended. */
  async finish(id: number, at: Date, result: AuditResult, error: string | null): Promise<void> {
    await this.store.sql.run('UPDATE response_actions SET finished_at = ?, result = ?, error = ? WHERE id = ?', [at.toISOString(), result, error, id]);
  }

  async get(id: number): Promise<AuditRow | null> {
    const r = await this.store.sql.get<RawRow>(`SELECT ${COLUMNS} FROM ${FROM} WHERE r.id = ?`, [id]);
    return r ? toRow(r) : null;
  }

  /**
   * The revoke of this token that stands: the latest one that is pending or succeeded (revoked, or
   * already gone), or null when none does (none yet, or every earlier one failed).
   */
  async standingRevoke(tokenId: string): Promise<AuditRow | null> {
    const r = await this.store.sql.get<RawRow>(
      `SELECT ${COLUMNS} FROM ${FROM} WHERE r.org = ? AND r.token_id = ? AND r.action = 'revoke' AND r.result IN ('pending', 'revoked', 'already-gone') ORDER BY r.id DESC LIMIT 1`,
      [this.store.org, tokenId],
    );
    return r ? toRow(r) : null;
  }

  /**
   * The revoke of this token that Okta answered with 204, or null. A token is revoked once, so
   * that answer means the revoke was ours: the watch's "revoked by <who> via okta-token-watch" when
   * Okta's revoke event comes in. A 404 (someone revoked it first) or a revoke still pending is not.
   */
  async revokedByUs(tokenId: string): Promise<AuditRow | null> {
    const r = await this.store.sql.get<RawRow>(`SELECT ${COLUMNS} FROM ${FROM} WHERE r.org = ? AND r.token_id = ? AND r.action = 'revoke' AND r.result = 'revoked' ORDER BY r.id DESC LIMIT 1`, [
      this.store.org,
      tokenId,
    ]);
    return r ? toRow(r) : null;
  }

  /** Every attempt on an alert, oldest first, at most `limit`. */
  async ofAlert(alertId: string, limit = 50): Promise<AuditRow[]> {
    return (await this.store.sql.all<RawRow>(`SELECT ${COLUMNS} FROM ${FROM} WHERE a.alert_id = ? ORDER BY r.id LIMIT ?`, [alertId, limit])).map(toRow);
  }
}
