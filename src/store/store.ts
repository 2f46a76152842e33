import crypto from 'node:crypto';
import Database, { type Statement } from 'better-sqlite3';
import type { Alert, AlertSummary, DeliveryReceipt, Notification } from '../detect/alert';
import type { FollowUp } from '../follow/followup';
import { eventColumns } from '../detect/event-columns';
import { rawJson } from '../detect/raw-event';
import type { OktaLogEvent } from '../okta/log-event';
import type { Db } from './db';

/**
 * How long after its lease ended a claim by a live process is still respected. A process that sent
 * a row and cannot record it keeps its claim this long; past it, the pid may belong to another
 * program by now, and a possible duplicate is better than an alert held back for longer.
 */
export const CLAIM_HOLD_MAX_MS = 3600_000;

/** Where an event came from: the live poller, an Okta Event Hook delivery, a backfill, or the follow query of watched tokens. */
export type EventSource = 'poll' | 'push' | 'backfill' | 'follow';

/** The event hook this installation registered in Okta. */
export interface RegisteredEventHook {
  hookId: string;
  uri: string;
  registeredAt: string;
}

/** A delivery that is due, with what to send. */
export interface DueDelivery {
  id: number;
  notifier: string;
  attempts: number;
  createdAt: string;
  notification: Notification;
}

/** The counters `status` shows. */
export interface StoreStatus {
  schemaVersion: number;
  cursor: { url: string; updatedAt: string } | null;
  lastTick: TickRow | null;
  lastSuccessfulTick: TickRow | null;
  eventsSeen: number;
  alertsRaised: number;
  suppressed: number;
  summaries: number;
  deliveries: Array<{ notifier: string; pending: number; sent: number; failed: number }>;
}

/** One row of the ticks table. */
export interface TickRow {
  id: number;
  kind: string;
  startedAt: string;
  finishedAt: string | null;
  result: 'running' | 'ok' | 'failed' | 'interrupted';
  pages: number;
  requests: number;
  events: number;
  newEvents: number;
  newAlerts: number;
  suppressed: number;
  rateLimitRemaining: number | null;
  error: string | null;
}

/** An alert waiting for a summary: no deliveries of its own and no summary yet. */
const AWAITING_SUMMARY = `a.summary_id IS NULL AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = a.id)`;

/** Who a summary counts an alert against: the actor's login, else id (from the event's columns). */
const ACTOR_KEY = `COALESCE(e.actor_login, e.actor_id, 'unknown actor')`;

/** The alerts waiting for a summary, described in bounded space (Store.excessAwaitingSummary). */
export interface ExcessAlerts {
  count: number;
  /** The most frequent actors, most first. */
  actors: Array<{ actor: string; count: number }>;
  /** How many distinct actors there are in all. */
  actorCount: number;
  /** The first distinct token names, in alert order. */
  tokenNames: string[];
  /** How many distinct token names there are in all. */
  tokenNameCount: number;
  firstPublished: string | null;
  lastPublished: string | null;
  /** The first alert ids, in alert order. */
  alertIds: string[];
}

const TICK_COLUMNS = `id, kind, started_at AS startedAt, finished_at AS finishedAt, result, pages, requests, events,
  new_events AS newEvents, new_alerts AS newAlerts, suppressed, rate_limit_remaining AS rateLimitRemaining, error`;

// SQLite result codes that say something about the row being written (a constraint, a trigger's
// RAISE, a value too big), not about the database: only these may be blamed on one event.
const ROW_ERROR_CODES = /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/;

/**
 * True when an error says the database itself cannot be written (disk full, I/O error, locked,
 * read-only, corrupt): such an error must fail the whole page, never be recorded against one event.
 */
export function isStorageFailure(err: unknown): boolean {
  return err instanceof Database.SqliteError && !ROW_ERROR_CODES.test(err.code);
}

/**
 * All SQL of the project's own tables. Methods are synchronous (better-sqlite3); callers group
 * them with `transaction` where several writes must land together.
 */
export class Store {
  private readonly statements = new Map<string, Statement>();

  private readonly nested: (fn: () => unknown) => unknown;

  constructor(readonly db: Db) {
    this.nested = db.transaction((fn: () => unknown) => fn());
  }

  /**
   * The prepared statement for this SQL, prepared once per connection: a page of 1,000 events runs
   * thousands of statements, and preparing each time cost more than running it.
   */
  prepared(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  /** Runs fn in one IMMEDIATE transaction: all of its writes land, or none. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /**
   * Runs fn inside the current transaction as a SAVEPOINT (better-sqlite3 nests transactions that
   * way): when fn throws, its writes alone are rolled back and the error is rethrown, and the
   * enclosing transaction goes on. Lets one event of a page fail without losing the others.
   */
  savepoint<T>(fn: () => T): T {
    return this.nested(fn) as T;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // --- cursor --------------------------------------------------------------------------------

  getCursor(): { url: string; updatedAt: string } | null {
    const row = this.prepared('SELECT next_url AS url, updated_at AS updatedAt FROM cursor WHERE id = 1').get() as
      | { url: string; updatedAt: string }
      | undefined;
    return row ?? null;
  }

  setCursor(url: string, now: Date): void {
    this
      .prepared('INSERT INTO cursor (id, next_url, updated_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET next_url = excluded.next_url, updated_at = excluded.updated_at')
      .run(url, now.toISOString());
  }

  clearCursor(): void {
    this.prepared('DELETE FROM cursor').run();
  }

  /**
   * The time through which the live poller has read every event: the start of the last tick that
   * reached the first empty page. Null until one did. The only base of a cursor fallback.
   */
  caughtUpThrough(): string | null {
    const row = this.prepared('SELECT caught_up_through AS t FROM poll_progress WHERE id = 1').get() as { t: string } | undefined;
    return row?.t ?? null;
  }

  /** Records how far the poller has read (call inside the transaction of the first empty page). */
  setCaughtUpThrough(through: Date, now: Date): void {
    this
      .prepared(
        'INSERT INTO poll_progress (id, caught_up_through, updated_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET caught_up_through = excluded.caught_up_through, updated_at = excluded.updated_at',
      )
      .run(through.toISOString(), now.toISOString());
  }

  /** Records Okta's clock minus the local one, as the last caught-up tick measured it (after that tick's commit). */
  setOktaClockOffset(offsetMs: number): void {
    this.prepared('UPDATE poll_progress SET okta_clock_offset_ms = ? WHERE id = 1').run(Math.round(offsetMs));
  }

  /** Okta's clock minus the local one (ms) at the last caught-up tick, or null until one measured it. */
  oktaClockOffset(): number | null {
    const row = this.prepared('SELECT okta_clock_offset_ms AS o FROM poll_progress WHERE id = 1').get() as { o: number | null } | undefined;
    return row?.o ?? null;
  }

  /** Records a batch received by a source without a cursor (call inside the batch's transaction). */
  recordReceipt(source: EventSource, receivedAt: Date, events: number): void {
    this
      .prepared(
        `INSERT INTO source_receipts (source, last_received_at, batches, events, updated_at) VALUES (?, ?, 1, ?, ?)
         ON CONFLICT (source) DO UPDATE SET last_received_at = MAX(last_received_at, excluded.last_received_at),
           batches = batches + 1, events = events + excluded.events, updated_at = excluded.updated_at`,
      )
      .run(source, receivedAt.toISOString(), events, receivedAt.toISOString());
  }

  /** The last receipt of a source without a cursor, or null when it never received a batch. */
  lastReceipt(source: EventSource): { lastReceivedAt: string; batches: number; events: number } | null {
    const row = this
      .prepared('SELECT last_received_at AS lastReceivedAt, batches, events FROM source_receipts WHERE source = ?')
      .get(source) as { lastReceivedAt: string; batches: number; events: number } | undefined;
    return row ?? null;
  }

  // --- registered event hook ----------------------------------------------------------------

  /** The Okta event hook `event-hook register` created or updated, or null. */
  registeredEventHook(): RegisteredEventHook | null {
    const row = this.prepared('SELECT hook_id AS hookId, uri, registered_at AS registeredAt FROM registered_event_hook WHERE id = 1').get() as
      | RegisteredEventHook
      | undefined;
    return row ?? null;
  }

  /** Remembers our hook's id (replacing any earlier one). */
  setRegisteredEventHook(hook: { hookId: string; uri: string }, now: Date): void {
    this
      .prepared(
        'INSERT INTO registered_event_hook (id, hook_id, uri, registered_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET hook_id = excluded.hook_id, uri = excluded.uri, registered_at = excluded.registered_at',
      )
      .run(hook.hookId, hook.uri, now.toISOString());
  }

  /** Forgets our hook (after `event-hook remove`). */
  clearRegisteredEventHook(): void {
    this.prepared('DELETE FROM registered_event_hook').run();
  }

  // --- events --------------------------------------------------------------------------------

  /** The uuids among these that are not stored yet. */
  unseenUuids(uuids: string[]): Set<string> {
    const out = new Set(uuids);
    const stmt = this.prepared('SELECT 1 FROM events WHERE uuid = ?');
    for (const u of uuids) if (stmt.get(u)) out.delete(u);
    return out;
  }

  hasEvent(uuid: string): boolean {
    return this.prepared('SELECT 1 FROM events WHERE uuid = ?').get(uuid) !== undefined;
  }

  /**
   * Inserts the event unless its key is known; true when it was new. Columns are read with the
   * alert builder's rules (event-columns.ts), so no field type can make the insert throw; the raw
   * JSON is bounded (raw-event.ts). `key` is the uuid, or for an unreadable entry its content key.
   */
  insertEvent(e: OktaLogEvent | unknown, source: EventSource, now: Date, suppressedBy: string | null, key: string = (e as OktaLogEvent).uuid): boolean {
    const c = eventColumns(e);
    const info = this
      .prepared(
        `INSERT INTO events (uuid, published, event_type, actor_id, actor_login, country, as_number, token_id, token_name,
           outcome, raw, source, first_seen_at, suppressed_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uuid) DO NOTHING`,
      )
      .run(
        key,
        c.published,
        c.eventType,
        c.actorId,
        c.actorLogin,
        c.country,
        c.asNumber,
        c.tokenId,
        c.tokenName,
        c.outcome,
        rawJson(e),
        source,
        now.toISOString(),
        suppressedBy,
      );
    return info.changes === 1;
  }

  // --- alerts and the outbox -----------------------------------------------------------------

  /**
   * Stores the alert and, unless it goes into a summary, one pending delivery per notifier.
   * Returns the alert's row id.
   */
  insertAlert(alert: Alert, tickId: number | null, notifiers: string[], opts: { deferToSummary: boolean; now: Date }): number {
    const info = this
      .prepared('INSERT INTO alerts (alert_id, event_uuid, created_at, source, tick_id, payload) VALUES (?, ?, ?, ?, ?, ?)')
      .run(alert.id, alert.event.uuid, opts.now.toISOString(), alert.source === 'backfill' || alert.source === 'push' || alert.source === 'follow' ? alert.source : 'poll', tickId, JSON.stringify(alert));
    const rowId = Number(info.lastInsertRowid);
    if (!opts.deferToSummary) this.insertDeliveries({ alertId: rowId }, notifiers, opts.now);
    return rowId;
  }

  private insertDeliveries(target: { alertId: number } | { summaryId: number } | { followupId: number }, notifiers: string[], now: Date): void {
    const stmt = this.prepared(
      `INSERT INTO deliveries (alert_id, summary_id, followup_id, notifier, status, attempts, created_at, next_attempt_at)
       VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)`,
    );
    for (const n of notifiers) {
      stmt.run(
        'alertId' in target ? target.alertId : null,
        'summaryId' in target ? target.summaryId : null,
        'followupId' in target ? target.followupId : null,
        n,
        now.toISOString(),
        now.toISOString(),
      );
    }
  }

  /**
   * Stores a follow-up of the alert `followup.alertId` and queues one delivery per notifier, unless
   * one with the same `key` exists (its cause was already handled, by whichever path saw it first).
   * Returns the stored follow-up (its id filled in), or null when the key was known or the alert is
   * not in this database. Call inside the transaction that stores its cause.
   */
  insertFollowUp(followup: Omit<FollowUp, 'id'>, key: string, notifiers: string[], now: Date): FollowUp | null {
    const alert = this.prepared('SELECT id FROM alerts WHERE alert_id = ?').get(followup.alertId) as { id: number } | undefined;
    if (!alert) return null;
    const info = this
      .prepared('INSERT INTO followups (alert_id, kind, key, created_at, payload) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING')
      .run(alert.id, followup.kind, key, now.toISOString(), '{}');
    if (info.changes !== 1) return null;
    const id = Number(info.lastInsertRowid);
    // Random, not the row number: receivers dedupe on this id and mail clients on the Message-ID
    // made from it, so it must not repeat across databases (a new install, the demo, a second org).
    const full = { id: `otw-followup-${crypto.randomUUID()}`, ...followup } as FollowUp;
    this.prepared('UPDATE followups SET payload = ? WHERE id = ?').run(JSON.stringify(full), id);
    this.insertDeliveries({ followupId: id }, notifiers, now);
    return full;
  }

  /** The follow-ups of an alert, oldest first. */
  followUpsOf(alertId: string): FollowUp[] {
    const rows = this
      .prepared('SELECT f.payload FROM followups f JOIN alerts a ON a.id = f.alert_id WHERE a.alert_id = ? ORDER BY f.id')
      .all(alertId) as Array<{ payload: string }>;
    return rows.map((r) => JSON.parse(r.payload) as FollowUp);
  }

  /**
   * What a summary says about the alerts waiting for one (neither deliveries nor a summary: the
   * excess of a tick beyond MAX_ALERTS_PER_RUN, also after a crash between the last page and the
   * summary), computed by SQLite so that memory stays flat whatever the backlog: a count, the top
   * actors, the first distinct token names, the published range and the first alert ids, each list
   * bounded. Null when none wait. `insertSummary` in the same transaction links exactly these alerts.
   */
  excessAwaitingSummary(bounds: { actors: number; tokenNames: number; alertIds: number }): ExcessAlerts | null {
    // Read from the events' columns, not the alerts' JSON: no JSON is parsed, whatever the backlog.
    const waiting = `alerts a LEFT JOIN events e ON e.uuid = a.event_uuid WHERE ${AWAITING_SUMMARY}`;
    const head = this
      .prepared(
        `SELECT COUNT(*) AS count, MIN(e.published) AS firstPublished, MAX(e.published) AS lastPublished,
                COUNT(DISTINCT ${ACTOR_KEY}) AS actorCount, COUNT(DISTINCT e.token_name) AS tokenNameCount
           FROM ${waiting}`,
      )
      .get() as { count: number; firstPublished: string | null; lastPublished: string | null; actorCount: number; tokenNameCount: number };
    if (head.count === 0) return null;
    const actors = this
      .prepared(`SELECT ${ACTOR_KEY} AS actor, COUNT(*) AS count FROM ${waiting} GROUP BY 1 ORDER BY count DESC, actor LIMIT ?`)
      .all(bounds.actors) as Array<{ actor: string; count: number }>;
    const tokenNames = (
      this
        .prepared(
          `SELECT e.token_name AS name FROM ${waiting} AND e.token_name IS NOT NULL GROUP BY 1 ORDER BY MIN(a.id) LIMIT ?`,
        )
        .all(bounds.tokenNames) as Array<{ name: string }>
    ).map((r) => r.name);
    const alertIds = (this.prepared(`SELECT a.alert_id AS id FROM ${waiting} ORDER BY a.id LIMIT ?`).all(bounds.alertIds) as Array<{ id: string }>).map((r) => r.id);
    return {
      count: head.count,
      actors,
      actorCount: head.actorCount,
      tokenNames,
      tokenNameCount: head.tokenNameCount,
      firstPublished: head.firstPublished,
      lastPublished: head.lastPublished,
      alertIds,
    };
  }

  /**
   * Stores a summary, links every alert waiting for one to it (the set `excessAwaitingSummary`
   * described, when called in the same transaction) and queues one delivery per notifier.
   */
  insertSummary(summary: Omit<AlertSummary, 'id'>, tickId: number | null, notifiers: string[], now: Date): AlertSummary {
    const id = Number(
      this.prepared('INSERT INTO summaries (tick_id, created_at, payload) VALUES (?, ?, ?)').run(tickId, now.toISOString(), '{}').lastInsertRowid,
    );
    const full: AlertSummary = { id: `otw-summary-${id}`, ...summary };
    this.prepared('UPDATE summaries SET payload = ? WHERE id = ?').run(JSON.stringify(full), id);
    const linked = this
      .prepared(`UPDATE alerts SET summary_id = ? WHERE id IN (SELECT a.id FROM alerts a WHERE ${AWAITING_SUMMARY})`)
      .run(id).changes;
    if (linked !== summary.count) throw new Error(`summary ${full.id} covers ${summary.count} alerts but ${linked} were waiting`);
    this.insertDeliveries({ summaryId: id }, notifiers, now);
    return full;
  }

  getAlert(alertId: string): Alert | null {
    const row = this.prepared('SELECT payload FROM alerts WHERE alert_id = ?').get(alertId) as { payload: string } | undefined;
    return row ? (JSON.parse(row.payload) as Alert) : null;
  }

  /** Alerts, newest first. */
  listAlerts(limit: number): Array<{ alert: Alert; summarized: boolean }> {
    const rows = this
      .prepared('SELECT payload, summary_id AS summaryId FROM alerts ORDER BY id DESC LIMIT ?')
      .all(limit) as Array<{ payload: string; summaryId: number | null }>;
    return rows.map((r) => ({ alert: JSON.parse(r.payload) as Alert, summarized: r.summaryId !== null }));
  }

  /**
   * Pending deliveries whose next attempt is due, oldest first, optionally only for these notifiers.
   * The notifier filter is in SQL, before LIMIT, so rows of a disabled notifier never crowd out
   * those of enabled ones.
   */
  dueDeliveries(now: Date, limit: number, notifiers?: string[]): DueDelivery[] {
    if (notifiers && notifiers.length === 0) return [];
    // A follow-up waits until its alert went out on the same notifier (a reply needs something to
    // reply to, and an analyst must never read the reply first) and until the follow-ups of the
    // same alert before it did. An alert that goes out only in a summary waits for that summary's
    // delivery on the notifier (and, while it waits for a summary to be made, has no delivery at
    // all). One that failed for good holds them until `retry-failed` sends it; follow-ups before
    // it that failed for good hold nothing. A notifier enabled after the alert went out elsewhere
    // has no delivery of the alert: nothing holds its follow-ups.
    const rows = this
      .prepared(
        `SELECT d.id, d.notifier, d.attempts, d.created_at AS createdAt, a.payload AS alertPayload, s.payload AS summaryPayload,
                f.payload AS followupPayload, fa.payload AS followedAlertPayload, COALESCE(pd.receipt, sdr.receipt) AS parentReceipt,
                CASE WHEN pd.id IS NULL AND fa.summary_id IS NOT NULL THEN 'otw-summary-' || fa.summary_id END AS repliesToSummary
           FROM deliveries d
           LEFT JOIN alerts a ON a.id = d.alert_id
           LEFT JOIN summaries s ON s.id = d.summary_id
           LEFT JOIN followups f ON f.id = d.followup_id
           LEFT JOIN alerts fa ON fa.id = f.alert_id
           LEFT JOIN deliveries pd ON pd.alert_id = f.alert_id AND pd.notifier = d.notifier
           LEFT JOIN deliveries sdr ON pd.id IS NULL AND fa.summary_id IS NOT NULL AND sdr.summary_id = fa.summary_id AND sdr.notifier = d.notifier
          WHERE d.status = 'pending' AND d.next_attempt_at <= ?
            AND (? IS NULL OR d.notifier IN (SELECT value FROM json_each(?)))
            AND (d.followup_id IS NULL OR (
                  (pd.id IS NULL OR pd.status = 'sent')
                  AND (fa.summary_id IS NOT NULL OR EXISTS (SELECT 1 FROM deliveries ad WHERE ad.alert_id = fa.id))
                  AND NOT EXISTS (SELECT 1 FROM deliveries sd WHERE fa.summary_id IS NOT NULL AND sd.summary_id = fa.summary_id AND sd.notifier = d.notifier AND sd.status != 'sent')
                  AND NOT EXISTS (
                    SELECT 1 FROM followups ef JOIN deliveries ed ON ed.followup_id = ef.id AND ed.notifier = d.notifier
                     WHERE ef.alert_id = f.alert_id AND ef.id < f.id AND ed.status = 'pending')))
          ORDER BY d.next_attempt_at, d.id LIMIT ?`,
      )
      .all(now.toISOString(), notifiers ? 1 : null, JSON.stringify(notifiers ?? []), limit) as Array<{
      id: number;
      notifier: string;
      attempts: number;
      createdAt: string;
      alertPayload: string | null;
      summaryPayload: string | null;
      followupPayload: string | null;
      followedAlertPayload: string | null;
      parentReceipt: string | null;
      repliesToSummary: string | null;
    }>;
    return rows.map((r) => ({
      id: r.id,
      notifier: r.notifier,
      attempts: r.attempts,
      createdAt: r.createdAt,
      notification: notificationOf(r),
    }));
  }

  /** The earliest next attempt among pending deliveries, or null. */
  nextDueAt(): string | null {
    const row = this.prepared(`SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE status = 'pending'`).get() as { t: string | null };
    return row.t;
  }

  /**
   * Claims a due delivery for one send: moves its next attempt `leaseMs` ahead and records this
   * process as the claimer, only if it is still pending and due. True when this process got it;
   * another process on the same database then sees it as not due. If this process dies mid-send,
   * the row becomes due again when the lease ends. A lease that ended under a claimer that is still
   * alive (it sent the row and is still trying to record that) is not taken over, unless it ended
   * more than CLAIM_HOLD_MAX_MS ago, which bounds the harm of a reused pid.
   */
  claimDelivery(id: number, now: Date, leaseMs: number): boolean {
    const row = this
      .prepared(`SELECT next_attempt_at AS nextAt, claimed_by AS claimedBy FROM deliveries WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?`)
      .get(id, now.toISOString()) as { nextAt: string; claimedBy: number | null } | undefined;
    if (!row) return false;
    const holder = row.claimedBy;
    // Our own pid is claimable: rows this process sent but has not recorded are skipped by the
    // dispatcher before it asks, and anything else under our pid is left by an earlier process
    // that had the same pid (pid 1 in a container).
    if (holder !== null && holder !== process.pid && processAlive(holder) && now.getTime() - Date.parse(row.nextAt) < CLAIM_HOLD_MAX_MS) return false;
    // Compare-and-set on what was read, so two processes never both win.
    return (
      this
        .prepared(`UPDATE deliveries SET next_attempt_at = ?, claimed_by = ? WHERE id = ? AND status = 'pending' AND next_attempt_at = ? AND claimed_by IS ?`)
        .run(new Date(now.getTime() + leaseMs).toISOString(), process.pid, id, row.nextAt, holder).changes === 1
    );
  }

  /** Records a send the destination accepted, with what it answered that a follow-up needs (Slack's channel and ts). */
  markSent(id: number, now: Date, receipt: DeliveryReceipt | null = null): void {
    this
      .prepared(`UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_attempt_at = ?, last_error = NULL, claimed_by = NULL, receipt = ? WHERE id = ?`)
      .run(now.toISOString(), now.toISOString(), receipt ? JSON.stringify(receipt) : null, id);
  }

  markRetry(id: number, now: Date, nextAttemptAt: Date, error: string): void {
    this
      .prepared(`UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = ?, last_error = ?, claimed_by = NULL WHERE id = ?`)
      .run(now.toISOString(), nextAttemptAt.toISOString(), error, id);
  }

  markFailed(id: number, now: Date, error: string): void {
    this
      .prepared(`UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_attempt_at = ?, last_error = ?, claimed_by = NULL WHERE id = ?`)
      .run(now.toISOString(), error, id);
  }

  /** Puts failed deliveries back to pending, due now; returns how many. */
  retryFailed(now: Date, notifier?: string): number {
    const sql = `UPDATE deliveries SET status = 'pending', attempts = 0, created_at = ?, next_attempt_at = ?, claimed_by = NULL WHERE status = 'failed'${notifier ? ' AND notifier = ?' : ''}`;
    const args: unknown[] = [now.toISOString(), now.toISOString()];
    if (notifier) args.push(notifier);
    return this.prepared(sql).run(...args).changes;
  }

  /** Failed deliveries with their last error, newest first. */
  failedDeliveries(limit: number): Array<{ id: number; notifier: string; alertId: string | null; attempts: number; lastError: string | null; lastAttemptAt: string | null }> {
    return this
      .prepared(
        `SELECT d.id, d.notifier, COALESCE(a.alert_id, 'otw-summary-' || d.summary_id, json_extract(f.payload, '$.id')) AS alertId, d.attempts, d.last_error AS lastError, d.last_attempt_at AS lastAttemptAt
           FROM deliveries d LEFT JOIN alerts a ON a.id = d.alert_id LEFT JOIN followups f ON f.id = d.followup_id
          WHERE d.status = 'failed' ORDER BY d.id DESC LIMIT ?`,
      )
      .all(limit) as Array<{ id: number; notifier: string; alertId: string | null; attempts: number; lastError: string | null; lastAttemptAt: string | null }>;
  }

  // --- ticks ---------------------------------------------------------------------------------

  startTick(now: Date, kind: 'poll' | 'backfill' | 'follow' = 'poll'): number {
    return Number(
      this.prepared(`INSERT INTO ticks (kind, started_at, result, pid) VALUES (?, ?, 'running', ?)`).run(kind, now.toISOString(), process.pid).lastInsertRowid,
    );
  }

  /** Adds a page's counters to the tick (inside the page's transaction). */
  addToTick(id: number, d: { pages?: number; requests?: number; events?: number; newEvents?: number; newAlerts?: number; suppressed?: number; rateLimitRemaining?: number | null }): void {
    this
      .prepared(
        `UPDATE ticks SET pages = pages + ?, requests = requests + ?, events = events + ?, new_events = new_events + ?,
           new_alerts = new_alerts + ?, suppressed = suppressed + ?, rate_limit_remaining = COALESCE(?, rate_limit_remaining) WHERE id = ?`,
      )
      .run(d.pages ?? 0, d.requests ?? 0, d.events ?? 0, d.newEvents ?? 0, d.newAlerts ?? 0, d.suppressed ?? 0, d.rateLimitRemaining ?? null, id);
  }

  finishTick(id: number, now: Date, result: 'ok' | 'failed' | 'interrupted', extra: { requests?: number; rateLimitRemaining?: number | null; error?: string | null } = {}): void {
    this
      .prepared(
        `UPDATE ticks SET finished_at = ?, result = ?, requests = MAX(requests, ?), rate_limit_remaining = COALESCE(?, rate_limit_remaining), error = ? WHERE id = ?`,
      )
      .run(now.toISOString(), result, extra.requests ?? 0, extra.rateLimitRemaining ?? null, extra.error ?? null, id);
  }

  /**
   * Ticks left 'running' by a process that died: marked failed at start-up. Ticks of a process
   * that is still alive (a daemon next to a one-shot `poll` or `backfill`) are left alone.
   */
  closeAbandonedTicks(now: Date): number {
    const running = this.prepared(`SELECT id, pid FROM ticks WHERE result = 'running'`).all() as Array<{ id: number; pid: number | null }>;
    const close = this.prepared(`UPDATE ticks SET result = 'failed', finished_at = ?, error = 'interrupted: the process stopped during this tick' WHERE id = ? AND result = 'running'`);
    let n = 0;
    for (const t of running) {
      if (t.pid !== null && t.pid !== process.pid && processAlive(t.pid)) continue;
      n += close.run(now.toISOString(), t.id).changes;
    }
    return n;
  }

  /** When the first tick of this kind started (the daemon's first start on this database). */
  firstTickStartedAt(kind = 'poll'): string | null {
    const row = this.prepared('SELECT MIN(started_at) AS t FROM ticks WHERE kind = ?').get(kind) as { t: string | null };
    return row.t;
  }

  /** The newest self-watch alert of this change for this hook since `since`, or null (its alert id). */
  recentEventHookAlert(hookId: string | null, change: string, since: Date): string | null {
    const row = this
      .prepared(
        `SELECT alert_id AS id FROM alerts
          WHERE created_at >= ? AND json_extract(payload, '$.rule.id') = 'okta-event-hook-tampered'
            AND json_extract(payload, '$.eventHook.change') = ? AND json_extract(payload, '$.eventHook.id') IS ?
          ORDER BY id DESC LIMIT 1`,
      )
      .get(since.toISOString(), change, hookId) as { id: string } | undefined;
    return row?.id ?? null;
  }

  /** Alerts first raised by push since `since` (ISO time): MAX_ALERTS_PER_RUN's count for push. */
  pushAlertsSince(since: string): number {
    return (this.prepared("SELECT COUNT(*) AS n FROM alerts WHERE source = 'push' AND created_at >= ?").get(since) as { n: number }).n;
  }

  lastTick(kind = 'poll'): TickRow | null {
    return (this.prepared(`SELECT ${TICK_COLUMNS} FROM ticks WHERE kind = ? AND result != 'running' ORDER BY id DESC LIMIT 1`).get(kind) as TickRow | undefined) ?? null;
  }

  lastSuccessfulTick(kind = 'poll'): TickRow | null {
    return (this.prepared(`SELECT ${TICK_COLUMNS} FROM ticks WHERE kind = ? AND result = 'ok' ORDER BY id DESC LIMIT 1`).get(kind) as TickRow | undefined) ?? null;
  }

  // --- status --------------------------------------------------------------------------------

  /** Suppressed events grouped by what suppressed them, most first. */
  suppressedByReason(limit = 20): Array<{ reason: string; count: number; last: string }> {
    return this
      .prepared(
        `SELECT suppressed_by AS reason, COUNT(*) AS count, MAX(published) AS last FROM events
          WHERE suppressed_by IS NOT NULL GROUP BY suppressed_by ORDER BY count DESC LIMIT ?`,
      )
      .all(limit) as Array<{ reason: string; count: number; last: string }>;
  }

  /** Events stored per source (poll, push, backfill): which path saw each uuid first. */
  eventsBySource(): Record<string, number> {
    const rows = this.prepared('SELECT source, COUNT(*) AS n FROM events GROUP BY source').all() as Array<{ source: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.source, r.n]));
  }

  /**
   * When the last hook delivery reached the store (ISO), or null: a restart-proof "last push" for
   * status, counted per delivery (also one whose events the poller had already stored).
   */
  lastPushReceivedAt(): string | null {
    return this.lastReceipt('push')?.lastReceivedAt ?? null;
  }

  status(schemaVersion: number): StoreStatus {
    const count = (sql: string): number => (this.prepared(sql).get() as { n: number }).n;
    const deliveries = this
      .prepared(
        `SELECT notifier,
                SUM(status = 'pending') AS pending, SUM(status = 'sent') AS sent, SUM(status = 'failed') AS failed
           FROM deliveries GROUP BY notifier ORDER BY notifier`,
      )
      .all() as Array<{ notifier: string; pending: number; sent: number; failed: number }>;
    return {
      schemaVersion,
      cursor: this.getCursor(),
      lastTick: this.lastTick(),
      lastSuccessfulTick: this.lastSuccessfulTick(),
      eventsSeen: count('SELECT COUNT(*) AS n FROM events'),
      alertsRaised: count('SELECT COUNT(*) AS n FROM alerts'),
      suppressed: count('SELECT COUNT(*) AS n FROM events WHERE suppressed_by IS NOT NULL'),
      summaries: count('SELECT COUNT(*) AS n FROM summaries'),
      deliveries,
    };
  }
}

/** The notification a due delivery row carries. */
function notificationOf(r: { alertPayload: string | null; summaryPayload: string | null; followupPayload: string | null; followedAlertPayload: string | null; parentReceipt: string | null; repliesToSummary: string | null }): Notification {
  if (r.alertPayload !== null) return { kind: 'alert', alert: JSON.parse(r.alertPayload) as Alert };
  if (r.followupPayload !== null) {
    return {
      kind: 'followup',
      followup: JSON.parse(r.followupPayload) as FollowUp,
      alert: JSON.parse(r.followedAlertPayload ?? '{}') as Alert,
      parent: r.parentReceipt ? (JSON.parse(r.parentReceipt) as DeliveryReceipt) : null,
      ...(r.repliesToSummary ? { repliesTo: r.repliesToSummary } : {}),
    };
  }
  return { kind: 'summary', summary: JSON.parse(r.summaryPayload ?? '{}') as AlertSummary };
}

/** True when a process with this pid exists (a signal-0 probe). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
