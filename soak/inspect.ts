/**
 * Reads the daemon's database between two processes (after a SIGKILL or a SIGTERM, before the next
 * start), exactly as the next process will find it, and checks the store's guarantees there.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';

/** One injected System Log entry, in persistence order (`seq` is the fake's position). */
export interface Injected {
  seq: number;
  n: number;
  uuid: string;
  alertId: string;
  /** system.api_token.create (true) or another event type the filter must keep out. */
  matching: boolean;
  /** `published` long before persistence. */
  late: boolean;
  persistedAt: number;
  /**
   * Not a creation but an event of an alerted token's life the soak made: a request made with the
   * token (`use`, `transaction.detail.requestApiTokenId`), or its revocation (`revoke`). Stored by
   * the follow tick or the poller; the rest of the other type must never be stored.
   */
  followed?: { as: 'use' | 'revoke'; tokenId: string };
}

/** A follow-up row of the database. */
export interface FollowUpRow {
  /** `otw-followup-<uuid>`. */
  id: string;
  key: string;
  kind: string;
  /** The alert it follows, `otw-<uuid>`. */
  alertId: string;
  /** Its signals (`new-country`, `new-network`, ...), as stored. */
  signals: string[];
}

/** The `signals` list of a stored follow-up payload (stored JSON: anything else reads as none). */
function signalsOf(payload: string): string[] {
  try {
    const s = (JSON.parse(payload) as { signals?: unknown }).signals;
    return Array.isArray(s) ? s.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** A token_watches row, as much as the soak checks. */
export interface WatchRow {
  tokenId: string;
  watchUntil: string;
  followedThrough: string | null;
  closedAt: string | null;
  closeReason: string | null;
  firstUseUuid: string | null;
}

/** The state a process left behind. */
export interface Snapshot {
  at: number;
  exists: boolean;
  /** Position in the fake's log the stored cursor points at (everything before it was scanned). */
  cursorPosition: number | null;
  /** Stored token creations among the injected. */
  events: number;
  /** Stored events of the token lives the soak made (uses and revokes). */
  followedEvents: number;
  alerts: number;
  followups: FollowUpRow[];
  watches: WatchRow[];
  /** `${alertId}|${notifier}` of every delivery row marked sent (`otw-followup-<uuid>` for a follow-up). */
  sent: Set<string>;
  /** Delivery rows by status. */
  deliveries: Record<string, number>;
  ticks: { ok: number; failed: number; running: number };
  /** Broken guarantees found in this state (empty when all hold). */
  violations: string[];
}

/** The fake's polling cursor is base64url("p:<epoch>:<position>"); see src/simulator/okta-simulator.ts. */
export function cursorPosition(url: string): number | null {
  try {
    const after = new URL(url).searchParams.get('after');
    if (!after) return null;
    const parts = Buffer.from(after, 'base64url').toString().split(':');
    return parts[0] === 'p' && parts.length === 3 && /^\d+$/.test(parts[2]!) ? Number(parts[2]) : null;
  } catch {
    return null;
  }
}

/**
 * Snapshot plus checks:
 * - the cursor never points past an event that is not stored (every matching event the fake had at
 *   a position below the cursor is in `events`);
 * - every stored matching event has its alert, and every alert has one delivery row per enabled
 *   notifier (or belongs to a summary): the page transaction landed whole;
 * - no event of another type was stored (the filter was honoured).
 */
export function snapshot(dbPath: string, injected: Injected[], notifiers: string[]): Snapshot {
  const at = Date.now();
  const empty: Snapshot = { at, exists: false, cursorPosition: null, events: 0, followedEvents: 0, alerts: 0, followups: [], watches: [], sent: new Set(), deliveries: {}, ticks: { ok: 0, failed: 0, running: 0 }, violations: [] };
  if (!fs.existsSync(dbPath)) return empty;
  let db: Database.Database;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
  } catch (err) {
    return { ...empty, violations: [`the database cannot be opened: ${(err as Error).message}`] };
  }
  try {
    const hasTable = (name: string): boolean => db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
    // Killed before the first migration committed: nothing to check yet.
    if (!hasTable('cursor') || !hasTable('deliveries')) return { ...empty, exists: true };
    const violations: string[] = [];
    const cursor = db.prepare('SELECT next_url AS url FROM cursor WHERE org = ?').get('default') as { url: string } | undefined;
    const position = cursor ? cursorPosition(cursor.url) : null;
    if (cursor && position === null) violations.push('the stored cursor is not a polling cursor of the fake');
    const stored = new Set((db.prepare('SELECT uuid FROM events').all() as Array<{ uuid: string }>).map((r) => r.uuid));
    if (position !== null) {
      const missing = injected.filter((e) => e.seq < position && e.matching && !stored.has(e.uuid));
      if (missing.length) {
        violations.push(`the cursor is at position ${position} but ${missing.length} matching event(s) before it are not stored (first: #${missing[0]!.n} at seq ${missing[0]!.seq})`);
      }
    }
    const byUuid = new Map(injected.map((e) => [e.uuid, e]));
    const foreign = [...stored].filter((u) => byUuid.get(u)?.matching === false && !byUuid.get(u)?.followed);
    if (foreign.length) violations.push(`${foreign.length} event(s) of another type were stored`);

    const alerts = db.prepare('SELECT id, alert_id AS alertId, event_uuid AS uuid, summary_id AS summaryId FROM alerts').all() as Array<{ id: number; alertId: string; uuid: string; summaryId: number | null }>;
    const alerted = new Set(alerts.map((a) => a.uuid));
    const unalerted = [...stored].filter((u) => byUuid.get(u)?.matching && !alerted.has(u));
    if (unalerted.length) violations.push(`${unalerted.length} stored event(s) have no alert (first: ${unalerted[0]})`);

    // A database from before the follow-up migrations (killed while migrating) has no followups.
    const follow = hasTable('followups') && hasTable('token_watches');
    // Follow-ups before deliveries: the reads are separate statements while a daemon may commit in
    // between, and a follow-up commits with its delivery rows, so every one read here has its rows
    // in the read below (read the other way round, a fresh follow-up would look bare).
    const followups = follow
      ? (db.prepare(`SELECT f.id AS n, json_extract(f.payload, '$.id') AS id, f.key, f.kind, a.alert_id AS alertId, f.payload FROM followups f JOIN alerts a ON a.id = f.alert_id ORDER BY f.id`).all() as Array<Omit<FollowUpRow, 'signals'> & { n: number; payload: string }>)
      : [];
    const rows = db
      .prepare(
        follow
          ? `SELECT d.alert_id AS rowId, COALESCE(a.alert_id, json_extract(f.payload, '$.id')) AS alertId, d.followup_id AS followupId, d.notifier, d.status FROM deliveries d LEFT JOIN alerts a ON a.id = d.alert_id LEFT JOIN followups f ON f.id = d.followup_id`
          : 'SELECT d.alert_id AS rowId, a.alert_id AS alertId, NULL AS followupId, d.notifier, d.status FROM deliveries d LEFT JOIN alerts a ON a.id = d.alert_id',
      )
      .all() as Array<{ rowId: number | null; alertId: string | null; followupId: number | null; notifier: string; status: string }>;
    const sent = new Set<string>();
    const deliveries: Record<string, number> = {};
    const rowsOf = new Map<number, Set<string>>();
    const followupRowsOf = new Map<number, Set<string>>();
    for (const r of rows) {
      deliveries[r.status] = (deliveries[r.status] ?? 0) + 1;
      if (r.alertId && r.status === 'sent') sent.add(`${r.alertId}|${r.notifier}`);
      if (r.rowId !== null) {
        const set = rowsOf.get(r.rowId) ?? new Set<string>();
        set.add(r.notifier);
        rowsOf.set(r.rowId, set);
      }
      if (r.followupId !== null) {
        const set = followupRowsOf.get(r.followupId) ?? new Set<string>();
        set.add(r.notifier);
        followupRowsOf.set(r.followupId, set);
      }
    }
    // A follow-up is queued with its delivery rows in one transaction.
    const bare = followups.filter((f) => notifiers.some((n) => !followupRowsOf.get(f.n)?.has(n)));
    if (bare.length) violations.push(`${bare.length} follow-up(s) lack a delivery row for some notifier (first: ${bare[0]!.id} ${bare[0]!.key})`);
    const watches = follow
      ? (db
          .prepare('SELECT token_id AS tokenId, watch_until AS watchUntil, followed_through AS followedThrough, closed_at AS closedAt, close_reason AS closeReason, first_use_uuid AS firstUseUuid FROM token_watches')
          .all() as WatchRow[])
      : [];
    const incomplete = alerts.filter((a) => a.summaryId === null && notifiers.some((n) => !rowsOf.get(a.id)?.has(n)));
    // Alerts over MAX_ALERTS_PER_RUN wait for a summary; the soak sets the limit high, so none should.
    if (incomplete.length) violations.push(`${incomplete.length} alert(s) lack a delivery row for some notifier (first: ${incomplete[0]!.alertId})`);

    const ticks = { ok: 0, failed: 0, running: 0 };
    for (const t of db.prepare(`SELECT result, COUNT(*) AS n FROM ticks WHERE kind = 'poll' GROUP BY result`).all() as Array<{ result: keyof typeof ticks; n: number }>) {
      ticks[t.result] = t.n;
    }
    const creations = injected.filter((e) => e.matching && stored.has(e.uuid)).length;
    const followedEvents = injected.filter((e) => e.followed && stored.has(e.uuid)).length;
    return {
      at,
      exists: true,
      cursorPosition: position,
      events: creations,
      followedEvents,
      alerts: alerts.length,
      followups: followups.map(({ id, key, kind, alertId, payload }) => ({ id, key, kind, alertId, signals: signalsOf(payload) })),
      watches,
      sent,
      deliveries,
      ticks,
      violations,
    };
  } finally {
    db.close();
  }
}

/**
 * Moves every pending delivery's next attempt to now. Used once, at the drain, while no daemon
 * runs: it compresses the backoff waits the injected outages caused (up to hours with the
 * dispatcher's schedule) so the drain takes seconds. It changes when a row is tried, never whether.
 */
export function fastForwardPending(dbPath: string): number {
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db.prepare(`UPDATE deliveries SET next_attempt_at = ? WHERE status = 'pending'`).run(new Date().toISOString()).changes;
  } finally {
    db.close();
  }
}
