import crypto from 'node:crypto';
import os from 'node:os';
import type { Alert, AlertSummary, DeliveryReceipt, Notification } from '../detect/alert';
import type { FollowUp } from '../follow/followup';
import { eventColumns } from '../detect/event-columns';
import { rawJson } from '../detect/raw-event';
import type { OktaLogEvent } from '../okta/log-event';
import { isStorageFailure, type SqlConn, type SqlDb, type SqlParam } from './sql';

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
  /** The org of its alert, summary or follow-up: its notifier instance is that org's. */
  org: string;
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

const TICK_COLUMNS = `id, kind, started_at AS "startedAt", finished_at AS "finishedAt", result, pages, requests, events,
  new_events AS "newEvents", new_alerts AS "newAlerts", suppressed, rate_limit_remaining AS "rateLimitRemaining", error`;

export { isStorageFailure };

/** The org of a single-org installation (no ORGS_FILE), and of every row written before migration 014. */
export const DEFAULT_ORG = 'default';

/**
 * All SQL of the project's own tables, written once for both engines (see sql.ts). Every method is
 * asynchronous. A Store is bound to a connection (`sql`: the database, or one open transaction) and
 * to an org (`org`): per-org reads and writes use that org; cross-org ones (due deliveries, the
 * delivery counters) do not filter.
 */
export class Store {
  /** The connection this store's statements run on; other modules' own SQL goes through it too. */
  readonly sql: SqlConn;
  /** The org whose rows this store reads and writes (`default` unless `forOrg` named another). */
  readonly org: string;

  constructor(
    readonly db: SqlDb,
    conn?: SqlConn,
    org: string = DEFAULT_ORG,
  ) {
    this.sql = conn ?? db;
    this.org = org;
  }

  /** The same connection, scoped to another org. */
  forOrg(name: string): Store {
    return name === this.org ? this : new Store(this.db, this.sql, name);
  }

  /**
   * Runs fn in one transaction (IMMEDIATE on SQLite): all of its writes land, or none. fn gets a
   * Store bound to the transaction; use only it inside fn (the outer store would wait for the
   * transaction to end on SQLite, or run outside it on PostgreSQL). Called on a transaction's
   * store, it nests as a savepoint.
   */
  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.sql.inTransaction) return this.savepoint(fn);
    return this.db.transaction((conn) => fn(new Store(this.db, conn, this.org)));
  }

  /**
   * Runs fn inside the current transaction as a SAVEPOINT: when fn throws, its writes alone are
   * rolled back and the error is rethrown, and the enclosing transaction goes on (usable on
   * PostgreSQL too). Lets one event of a page fail without losing the others.
   */
  async savepoint<T>(fn: (sp: Store) => Promise<T>): Promise<T> {
    return this.sql.savepoint((conn) => fn(new Store(this.db, conn, this.org)));
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  // --- cursor --------------------------------------------------------------------------------

  async getCursor(): Promise<{ url: string; updatedAt: string } | null> {
    const row = await this.sql.get<{ url: string; updatedAt: string }>('SELECT next_url AS url, updated_at AS "updatedAt" FROM cursor WHERE org = ?', [this.org]);
    return row ?? null;
  }

  async setCursor(url: string, now: Date): Promise<void> {
    await this.sql.run(
      'INSERT INTO cursor (org, next_url, updated_at) VALUES (?, ?, ?) ON CONFLICT (org) DO UPDATE SET next_url = excluded.next_url, updated_at = excluded.updated_at',
      [this.org, url, now.toISOString()],
    );
  }

  async clearCursor(): Promise<void> {
    await this.sql.run('DELETE FROM cursor WHERE org = ?', [this.org]);
  }

  /**
   * The time through which the live poller has read every event: the start of the last tick that
   * reached the first empty page. Null until one did. The only base of a cursor fallback.
   */
  async caughtUpThrough(): Promise<string | null> {
    const row = await this.sql.get<{ t: string }>('SELECT caught_up_through AS t FROM poll_progress WHERE org = ?', [this.org]);
    return row?.t ?? null;
  }

  /** Records how far the poller has read (call inside the transaction of the first empty page). */
  async setCaughtUpThrough(through: Date, now: Date): Promise<void> {
    await this.sql.run(
      'INSERT INTO poll_progress (org, caught_up_through, updated_at) VALUES (?, ?, ?) ON CONFLICT (org) DO UPDATE SET caught_up_through = excluded.caught_up_through, updated_at = excluded.updated_at',
      [this.org, through.toISOString(), now.toISOString()],
    );
  }

  /** Records Okta's clock minus the local one, as the last caught-up tick measured it (after that tick's commit). */
  async setOktaClockOffset(offsetMs: number): Promise<void> {
    await this.sql.run('UPDATE poll_progress SET okta_clock_offset_ms = ? WHERE org = ?', [Math.round(offsetMs), this.org]);
  }

  /** Okta's clock minus the local one (ms) at the last caught-up tick, or null until one measured it. */
  async oktaClockOffset(): Promise<number | null> {
    const row = await this.sql.get<{ o: number | null }>('SELECT okta_clock_offset_ms AS o FROM poll_progress WHERE org = ?', [this.org]);
    return row?.o ?? null;
  }

  /** Records a batch received by a source without a cursor (call inside the batch's transaction). */
  async recordReceipt(source: EventSource, receivedAt: Date, events: number): Promise<void> {
    await this.sql.run(
      `INSERT INTO source_receipts (org, source, last_received_at, batches, events, updated_at) VALUES (?, ?, ?, 1, ?, ?)
       ON CONFLICT (org, source) DO UPDATE SET
         last_received_at = CASE WHEN source_receipts.last_received_at > excluded.last_received_at THEN source_receipts.last_received_at ELSE excluded.last_received_at END,
         batches = source_receipts.batches + 1, events = source_receipts.events + excluded.events, updated_at = excluded.updated_at`,
      [this.org, source, receivedAt.toISOString(), events, receivedAt.toISOString()],
    );
  }

  /** The last receipt of a source without a cursor, or null when it never received a batch. */
  async lastReceipt(source: EventSource): Promise<{ lastReceivedAt: string; batches: number; events: number } | null> {
    const row = await this.sql.get<{ lastReceivedAt: string; batches: number; events: number }>(
      'SELECT last_received_at AS "lastReceivedAt", batches, events FROM source_receipts WHERE org = ? AND source = ?',
      [this.org, source],
    );
    return row ?? null;
  }

  // --- registered event hook ----------------------------------------------------------------

  /** The Okta event hook `event-hook register` created or updated, or null. */
  async registeredEventHook(): Promise<RegisteredEventHook | null> {
    const row = await this.sql.get<RegisteredEventHook>('SELECT hook_id AS "hookId", uri, registered_at AS "registeredAt" FROM registered_event_hook WHERE org = ?', [
      this.org,
    ]);
    return row ?? null;
  }

  /** Remembers our hook's id (replacing any earlier one). */
  async setRegisteredEventHook(hook: { hookId: string; uri: string }, now: Date): Promise<void> {
    await this.sql.run(
      'INSERT INTO registered_event_hook (org, hook_id, uri, registered_at) VALUES (?, ?, ?, ?) ON CONFLICT (org) DO UPDATE SET hook_id = excluded.hook_id, uri = excluded.uri, registered_at = excluded.registered_at',
      [this.org, hook.hookId, hook.uri, now.toISOString()],
    );
  }

  /** Forgets our hook (after `event-hook remove`). */
  async clearRegisteredEventHook(): Promise<void> {
    await this.sql.run('DELETE FROM registered_event_hook WHERE org = ?', [this.org]);
  }

  // --- events --------------------------------------------------------------------------------

  /** The uuids among these that are not stored yet. */
  async unseenUuids(uuids: string[]): Promise<Set<string>> {
    const out = new Set(uuids);
    for (const u of uuids) if (await this.sql.get('SELECT 1 AS x FROM events WHERE uuid = ?', [u])) out.delete(u);
    return out;
  }

  async hasEvent(uuid: string): Promise<boolean> {
    return (await this.sql.get('SELECT 1 AS x FROM events WHERE uuid = ?', [uuid])) !== undefined;
  }

  /**
   * Inserts the event unless its key is known; true when it was new. Columns are read with the
   * alert builder's rules (event-columns.ts), so no field type can make the insert throw; the raw
   * JSON is bounded (raw-event.ts). `key` is the uuid, or for an unreadable entry its content key.
   */
  async insertEvent(e: OktaLogEvent | unknown, source: EventSource, now: Date, suppressedBy: string | null, key: string = (e as OktaLogEvent).uuid): Promise<boolean> {
    const c = eventColumns(e);
    const info = await this.sql.run(
      `INSERT INTO events (org, uuid, published, event_type, actor_id, actor_login, country, as_number, token_id, token_name,
         outcome, raw, source, first_seen_at, suppressed_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uuid) DO NOTHING`,
      [this.org, key, c.published, c.eventType, c.actorId, c.actorLogin, c.country, c.asNumber, c.tokenId, c.tokenName, c.outcome, rawJson(e), source, now.toISOString(), suppressedBy],
    );
    return info.changes === 1;
  }

  // --- alerts and the outbox -----------------------------------------------------------------

  /**
   * Stores the alert and, unless it goes into a summary, one pending delivery per notifier.
   * Returns the alert's row id.
   */
  async insertAlert(alert: Alert, tickId: number | null, notifiers: string[], opts: { deferToSummary: boolean; now: Date }): Promise<number> {
    const source = alert.source === 'backfill' || alert.source === 'push' || alert.source === 'follow' ? alert.source : 'poll';
    const row = await this.sql.get<{ id: number }>(
      'INSERT INTO alerts (org, alert_id, event_uuid, created_at, source, tick_id, payload) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
      [this.org, alert.id, alert.event.uuid, opts.now.toISOString(), source, tickId, JSON.stringify(alert)],
    );
    const rowId = Number(row!.id);
    if (!opts.deferToSummary) await this.insertDeliveries({ alertId: rowId }, notifiers, opts.now);
    return rowId;
  }

  private async insertDeliveries(target: { alertId: number } | { summaryId: number } | { followupId: number }, notifiers: string[], now: Date): Promise<void> {
    for (const n of notifiers) {
      await this.sql.run(
        `INSERT INTO deliveries (alert_id, summary_id, followup_id, notifier, status, attempts, created_at, next_attempt_at)
         VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)`,
        [
          'alertId' in target ? target.alertId : null,
          'summaryId' in target ? target.summaryId : null,
          'followupId' in target ? target.followupId : null,
          n,
          now.toISOString(),
          now.toISOString(),
        ],
      );
    }
  }

  /**
   * Stores a follow-up of the alert `followup.alertId` and queues one delivery per notifier, unless
   * one with the same `key` exists (its cause was already handled, by whichever path saw it first).
   * Returns the stored follow-up (its id filled in), or null when the key was known or the alert is
   * not in this database. Call inside the transaction that stores its cause.
   */
  async insertFollowUp(followup: Omit<FollowUp, 'id'>, key: string, notifiers: string[], now: Date): Promise<FollowUp | null> {
    const alert = await this.sql.get<{ id: number }>('SELECT id FROM alerts WHERE alert_id = ? AND org = ?', [followup.alertId, this.org]);
    if (!alert) return null;
    const inserted = await this.sql.get<{ id: number }>(
      'INSERT INTO followups (alert_id, kind, key, created_at, payload) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id',
      [alert.id, followup.kind, key, now.toISOString(), '{}'],
    );
    if (!inserted) return null;
    const id = Number(inserted.id);
    // Random, not the row number: receivers dedupe on this id and mail clients on the Message-ID
    // made from it, so it must not repeat across databases (a new install, the demo, a second org).
    const full = { id: `otw-followup-${crypto.randomUUID()}`, ...followup } as FollowUp;
    await this.sql.run('UPDATE followups SET payload = ? WHERE id = ?', [JSON.stringify(full), id]);
    await this.insertDeliveries({ followupId: id }, notifiers, now);
    return full;
  }

  /** The follow-ups of an alert, oldest first. */
  async followUpsOf(alertId: string): Promise<FollowUp[]> {
    const rows = await this.sql.all<{ payload: string }>('SELECT f.payload FROM followups f JOIN alerts a ON a.id = f.alert_id WHERE a.alert_id = ? ORDER BY f.id', [alertId]);
    return rows.map((r) => JSON.parse(r.payload) as FollowUp);
  }

  /**
   * What a summary says about the alerts waiting for one (neither deliveries nor a summary: the
   * excess of a tick beyond MAX_ALERTS_PER_RUN, also after a crash between the last page and the
   * summary), computed by the database so that memory stays flat whatever the backlog: a count, the
   * top actors, the first distinct token names, the published range and the first alert ids, each
   * list bounded. Null when none wait. `insertSummary` in the same transaction links exactly these alerts.
   */
  async excessAwaitingSummary(bounds: { actors: number; tokenNames: number; alertIds: number }): Promise<ExcessAlerts | null> {
    // Read from the events' columns, not the alerts' JSON: no JSON is parsed, whatever the backlog.
    const waiting = `alerts a LEFT JOIN events e ON e.uuid = a.event_uuid WHERE a.org = ? AND ${AWAITING_SUMMARY}`;
    const head = (await this.sql.get<{ count: number; firstPublished: string | null; lastPublished: string | null; actorCount: number; tokenNameCount: number }>(
      `SELECT COUNT(*) AS count, MIN(e.published) AS "firstPublished", MAX(e.published) AS "lastPublished",
              COUNT(DISTINCT ${ACTOR_KEY}) AS "actorCount", COUNT(DISTINCT e.token_name) AS "tokenNameCount"
         FROM ${waiting}`,
      [this.org],
    ))!;
    if (Number(head.count) === 0) return null;
    const actors = await this.sql.all<{ actor: string; count: number }>(
      `SELECT ${ACTOR_KEY} AS actor, COUNT(*) AS count FROM ${waiting} GROUP BY 1 ORDER BY count DESC, actor LIMIT ?`,
      [this.org, bounds.actors],
    );
    const tokenNames = (
      await this.sql.all<{ name: string }>(`SELECT e.token_name AS name FROM ${waiting} AND e.token_name IS NOT NULL GROUP BY 1 ORDER BY MIN(a.id) LIMIT ?`, [this.org, bounds.tokenNames])
    ).map((r) => r.name);
    const alertIds = (await this.sql.all<{ id: string }>(`SELECT a.alert_id AS id FROM ${waiting} ORDER BY a.id LIMIT ?`, [this.org, bounds.alertIds])).map((r) => r.id);
    return {
      count: Number(head.count),
      actors: actors.map((a) => ({ actor: a.actor, count: Number(a.count) })),
      actorCount: Number(head.actorCount),
      tokenNames,
      tokenNameCount: Number(head.tokenNameCount),
      firstPublished: head.firstPublished,
      lastPublished: head.lastPublished,
      alertIds,
    };
  }

  /**
   * Stores a summary, links every alert waiting for one to it (the set `excessAwaitingSummary`
   * described, when called in the same transaction) and queues one delivery per notifier.
   */
  async insertSummary(summary: Omit<AlertSummary, 'id'>, tickId: number | null, notifiers: string[], now: Date): Promise<AlertSummary> {
    const row = await this.sql.get<{ id: number }>('INSERT INTO summaries (org, tick_id, created_at, payload) VALUES (?, ?, ?, ?) RETURNING id', [this.org, tickId, now.toISOString(), '{}']);
    const id = Number(row!.id);
    const full: AlertSummary = { id: `otw-summary-${id}`, ...summary };
    await this.sql.run('UPDATE summaries SET payload = ? WHERE id = ?', [JSON.stringify(full), id]);
    const linked = (await this.sql.run(`UPDATE alerts SET summary_id = ? WHERE id IN (SELECT a.id FROM alerts a WHERE a.org = ? AND ${AWAITING_SUMMARY})`, [id, this.org])).changes;
    if (linked !== summary.count) throw new Error(`summary ${full.id} covers ${summary.count} alerts but ${linked} were waiting`);
    await this.insertDeliveries({ summaryId: id }, notifiers, now);
    return full;
  }

  async getAlert(alertId: string): Promise<Alert | null> {
    const row = await this.sql.get<{ payload: string }>('SELECT payload FROM alerts WHERE alert_id = ?', [alertId]);
    return row ? (JSON.parse(row.payload) as Alert) : null;
  }

  /** Alerts, newest first. */
  async listAlerts(limit: number): Promise<Array<{ alert: Alert; summarized: boolean }>> {
    const rows = await this.sql.all<{ payload: string; summaryId: number | null }>('SELECT payload, summary_id AS "summaryId" FROM alerts WHERE org = ? ORDER BY id DESC LIMIT ?', [this.org, limit]);
    return rows.map((r) => ({ alert: JSON.parse(r.payload) as Alert, summarized: r.summaryId !== null }));
  }

  /**
   * Pending deliveries whose next attempt is due, oldest first, optionally only for these notifiers.
   * The notifier filter is in SQL, before LIMIT, so rows of a disabled notifier never crowd out
   * those of enabled ones. Across orgs: whichever process serves deliveries serves every org's
   * it knows; `orgs` (also in SQL, before LIMIT) leaves the rows of an org this process has no
   * destinations for (removed from its ORGS_FILE, or added on a newer replica) to one that has.
   */
  async dueDeliveries(now: Date, limit: number, notifiers?: string[], orgs?: readonly string[]): Promise<DueDelivery[]> {
    if ((notifiers && notifiers.length === 0) || (orgs && orgs.length === 0)) return [];
    // A follow-up waits until its alert went out on the same notifier (a reply needs something to
    // reply to, and an analyst must never read the reply first) and until the follow-ups of the
    // same alert before it did. An alert that goes out only in a summary waits for that summary's
    // delivery on the notifier (and, while it waits for a summary to be made, has no delivery at
    // all). One that failed for good holds them until `retry-failed` sends it; follow-ups before
    // it that failed for good hold nothing. A notifier enabled after the alert went out elsewhere
    // has no delivery of the alert: nothing holds its follow-ups.
    const only = notifiers ? `AND d.notifier IN (${notifiers.map(() => '?').join(', ')})` : '';
    const onlyOrgs = orgs ? `AND COALESCE(a.org, s.org, fa.org) IN (${orgs.map(() => '?').join(', ')})` : '';
    const rows = await this.sql.all<DueRow>(
      `SELECT d.id, COALESCE(a.org, s.org, fa.org) AS org, d.notifier, d.attempts, d.created_at AS "createdAt", a.payload AS "alertPayload", s.payload AS "summaryPayload",
              f.payload AS "followupPayload", fa.payload AS "followedAlertPayload", COALESCE(pd.receipt, sdr.receipt) AS "parentReceipt",
              CASE WHEN pd.id IS NULL AND fa.summary_id IS NOT NULL THEN 'otw-summary-' || fa.summary_id END AS "repliesToSummary"
         FROM deliveries d
         LEFT JOIN alerts a ON a.id = d.alert_id
         LEFT JOIN summaries s ON s.id = d.summary_id
         LEFT JOIN followups f ON f.id = d.followup_id
         LEFT JOIN alerts fa ON fa.id = f.alert_id
         LEFT JOIN deliveries pd ON pd.alert_id = f.alert_id AND pd.notifier = d.notifier
         LEFT JOIN deliveries sdr ON pd.id IS NULL AND fa.summary_id IS NOT NULL AND sdr.summary_id = fa.summary_id AND sdr.notifier = d.notifier
        WHERE d.status = 'pending' AND d.next_attempt_at <= ?
          ${only}
          ${onlyOrgs}
          AND (d.followup_id IS NULL OR (
                (pd.id IS NULL OR pd.status = 'sent')
                AND (fa.summary_id IS NOT NULL OR EXISTS (SELECT 1 FROM deliveries ad WHERE ad.alert_id = fa.id))
                AND NOT EXISTS (SELECT 1 FROM deliveries sd WHERE fa.summary_id IS NOT NULL AND sd.summary_id = fa.summary_id AND sd.notifier = d.notifier AND sd.status != 'sent')
                AND NOT EXISTS (
                  SELECT 1 FROM followups ef JOIN deliveries ed ON ed.followup_id = ef.id AND ed.notifier = d.notifier
                   WHERE ef.alert_id = f.alert_id AND ef.id < f.id AND ed.status = 'pending')))
        ORDER BY d.next_attempt_at, d.id LIMIT ?`,
      [now.toISOString(), ...(notifiers ?? []), ...(orgs ?? []), limit],
    );
    return rows.map((r) => ({
      id: r.id,
      org: r.org ?? DEFAULT_ORG,
      notifier: r.notifier,
      attempts: r.attempts,
      createdAt: r.createdAt,
      notification: notificationOf(r),
    }));
  }

  /** The earliest next attempt among pending deliveries, or null. */
  async nextDueAt(): Promise<string | null> {
    const row = await this.sql.get<{ t: string | null }>(`SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE status = 'pending'`);
    return row?.t ?? null;
  }

  /**
   * Claims a due delivery for one send: moves its next attempt `leaseMs` ahead and records `holder`
   * (this replica, `<hostname>:<pid>:<hex>`) as the claimer, only if it is still pending and due.
   * True when this replica got it; every other process on the same database then sees it as not
   * due. If the claimer dies mid-send, the row becomes due again when the lease ends. A lease that
   * ended under a claimer on this host that is still alive (it sent the row and is still trying to
   * record that) is not taken over, unless it ended more than CLAIM_HOLD_MAX_MS ago, which bounds
   * the harm of a reused pid. A claim by another host cannot be probed: it expires with its lease.
   *
   * On PostgreSQL the row is locked FOR UPDATE SKIP LOCKED in a transaction of its own: a row
   * another replica is claiming at this moment is skipped at once instead of waited for.
   */
  async claimDelivery(id: number, now: Date, leaseMs: number, holder: string = replicaHolder()): Promise<boolean> {
    if (this.sql.engine === 'postgres' && !this.sql.inTransaction) {
      return this.db.transaction((tx) => new Store(this.db, tx, this.org).claimDelivery(id, now, leaseMs, holder));
    }
    const lock = this.sql.engine === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
    const row = await this.sql.get<{ nextAt: string; claimedBy: string | number | null }>(
      `SELECT next_attempt_at AS "nextAt", claimed_by AS "claimedBy" FROM deliveries WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?${lock}`,
      [id, now.toISOString()],
    );
    if (!row) return false;
    const claimedBy = row.claimedBy === null ? null : String(row.claimedBy);
    if (claimedBy !== null && heldByLiveProcessHere(claimedBy, holder) && now.getTime() - Date.parse(row.nextAt) < CLAIM_HOLD_MAX_MS) return false;
    // Compare-and-set on what was read, so two processes never both win (SQLite has no row locks).
    const set = await this.sql.run(
      `UPDATE deliveries SET next_attempt_at = ?, claimed_by = ? WHERE id = ? AND status = 'pending' AND next_attempt_at = ? AND claimed_by IS NOT DISTINCT FROM ?`,
      [new Date(now.getTime() + leaseMs).toISOString(), holder, id, row.nextAt, claimedBy],
    );
    return set.changes === 1;
  }

  /** Records a send the destination accepted, with what it answered that a follow-up needs (Slack's channel and ts). */
  async markSent(id: number, now: Date, receipt: DeliveryReceipt | null = null): Promise<void> {
    await this.sql.run(
      `UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_attempt_at = ?, last_error = NULL, claimed_by = NULL, receipt = ? WHERE id = ?`,
      [now.toISOString(), now.toISOString(), receipt ? JSON.stringify(receipt) : null, id],
    );
  }

  async markRetry(id: number, now: Date, nextAttemptAt: Date, error: string): Promise<void> {
    await this.sql.run(`UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = ?, last_error = ?, claimed_by = NULL WHERE id = ?`, [
      now.toISOString(),
      nextAttemptAt.toISOString(),
      error,
      id,
    ]);
  }

  async markFailed(id: number, now: Date, error: string): Promise<void> {
    await this.sql.run(`UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_attempt_at = ?, last_error = ?, claimed_by = NULL WHERE id = ?`, [
      now.toISOString(),
      error,
      id,
    ]);
  }

  /** Puts failed deliveries back to pending, due now; returns how many. */
  /** Puts failed deliveries back to pending: all of them, or one notifier's, or one org's. */
  async retryFailed(now: Date, notifier?: string, org?: string): Promise<number> {
    const ofOrg = org ? ` AND id IN (SELECT d.id FROM ${DELIVERY_WITH_ORG} WHERE d.status = 'failed' AND ${DELIVERY_ORG} = ?)` : '';
    const sql = `UPDATE deliveries SET status = 'pending', attempts = 0, created_at = ?, next_attempt_at = ?, claimed_by = NULL WHERE status = 'failed'${notifier ? ' AND notifier = ?' : ''}${ofOrg}`;
    const args: SqlParam[] = [now.toISOString(), now.toISOString()];
    if (notifier) args.push(notifier);
    if (org) args.push(org);
    return (await this.sql.run(sql, args)).changes;
  }

  /** Failed deliveries with their last error, newest first. */
  async failedDeliveries(limit: number): Promise<Array<{ id: number; org: string; notifier: string; alertId: string | null; attempts: number; lastError: string | null; lastAttemptAt: string | null }>> {
    const rows = await this.sql.all<{
      id: number;
      org: string | null;
      notifier: string;
      alertId: string | null;
      summaryId: number | null;
      followupPayload: string | null;
      attempts: number;
      lastError: string | null;
      lastAttemptAt: string | null;
    }>(
      `SELECT d.id, ${DELIVERY_ORG} AS org, d.notifier, a.alert_id AS "alertId", d.summary_id AS "summaryId", f.payload AS "followupPayload", d.attempts,
              d.last_error AS "lastError", d.last_attempt_at AS "lastAttemptAt"
         FROM ${DELIVERY_WITH_ORG}
        WHERE d.status = 'failed' ORDER BY d.id DESC LIMIT ?`,
      [limit],
    );
    // The follow-up's id is in its JSON: read here rather than with an engine's JSON function.
    return rows.map((r) => ({
      id: r.id,
      org: r.org ?? DEFAULT_ORG,
      notifier: r.notifier,
      alertId: r.alertId ?? (r.summaryId !== null ? `otw-summary-${r.summaryId}` : followupIdOf(r.followupPayload)),
      attempts: r.attempts,
      lastError: r.lastError,
      lastAttemptAt: r.lastAttemptAt,
    }));
  }

  // --- ticks ---------------------------------------------------------------------------------

  async startTick(now: Date, kind: 'poll' | 'backfill' | 'follow' = 'poll'): Promise<number> {
    const row = await this.sql.get<{ id: number }>(`INSERT INTO ticks (org, kind, started_at, result, pid) VALUES (?, ?, ?, 'running', ?) RETURNING id`, [
      this.org,
      kind,
      now.toISOString(),
      process.pid,
    ]);
    return Number(row!.id);
  }

  /** Adds a page's counters to the tick (inside the page's transaction). */
  async addToTick(id: number, d: { pages?: number; requests?: number; events?: number; newEvents?: number; newAlerts?: number; suppressed?: number; rateLimitRemaining?: number | null }): Promise<void> {
    await this.sql.run(
      `UPDATE ticks SET pages = pages + ?, requests = requests + ?, events = events + ?, new_events = new_events + ?,
         new_alerts = new_alerts + ?, suppressed = suppressed + ?, rate_limit_remaining = COALESCE(?, rate_limit_remaining) WHERE id = ?`,
      [d.pages ?? 0, d.requests ?? 0, d.events ?? 0, d.newEvents ?? 0, d.newAlerts ?? 0, d.suppressed ?? 0, d.rateLimitRemaining ?? null, id],
    );
  }

  async finishTick(id: number, now: Date, result: 'ok' | 'failed' | 'interrupted', extra: { requests?: number; rateLimitRemaining?: number | null; error?: string | null } = {}): Promise<void> {
    const requests = extra.requests ?? 0;
    await this.sql.run(
      `UPDATE ticks SET finished_at = ?, result = ?, requests = CASE WHEN requests > ? THEN requests ELSE ? END,
         rate_limit_remaining = COALESCE(?, rate_limit_remaining), error = ? WHERE id = ?`,
      [now.toISOString(), result, requests, requests, extra.rateLimitRemaining ?? null, extra.error ?? null, id],
    );
  }

  /**
   * Ticks left 'running' by a process that died: marked failed at start-up. Ticks of a process
   * that is still alive (a daemon next to a one-shot `poll` or `backfill`) are left alone. Only this
   * org's: a replica taking over one org must not close the live ticks of the others (run by this
   * process, or by replicas on other hosts whose pids mean nothing here).
   */
  async closeAbandonedTicks(now: Date): Promise<number> {
    const running = await this.sql.all<{ id: number; pid: number | null }>(`SELECT id, pid FROM ticks WHERE org = ? AND result = 'running'`, [this.org]);
    let n = 0;
    for (const t of running) {
      if (t.pid !== null && t.pid !== process.pid && processAlive(t.pid)) continue;
      const closed = await this.sql.run(`UPDATE ticks SET result = 'failed', finished_at = ?, error = 'interrupted: the process stopped during this tick' WHERE id = ? AND result = 'running'`, [
        now.toISOString(),
        t.id,
      ]);
      n += closed.changes;
    }
    return n;
  }

  /** When the first tick of this kind started (the daemon's first start on this database). */
  async firstTickStartedAt(kind = 'poll'): Promise<string | null> {
    const row = await this.sql.get<{ t: string | null }>('SELECT MIN(started_at) AS t FROM ticks WHERE org = ? AND kind = ?', [this.org, kind]);
    return row?.t ?? null;
  }

  /** The newest self-watch alert of this change for this hook since `since`, or null (its alert id). */
  async recentEventHookAlert(hookId: string | null, change: string, since: Date): Promise<string | null> {
    // Tested in TypeScript, not with the engine's JSON access: PostgreSQL's jsonb refuses a payload
    // holding \u0000 (attacker text from any event of the hour), which failed the whole lookup.
    // The LIKE only narrows the rows read; the parsed payload decides.
    const rows = await this.sql.all<{ id: string; payload: string }>(
      `SELECT alert_id AS id, payload FROM alerts WHERE org = ? AND created_at >= ? AND payload LIKE '%okta-event-hook-tampered%' ORDER BY alerts.id DESC`,
      [this.org, since.toISOString()],
    );
    for (const r of rows) {
      const p = parsePayload(r.payload) as { rule?: { id?: unknown }; eventHook?: { change?: unknown; id?: unknown } } | null;
      if (p?.rule?.id === 'okta-event-hook-tampered' && p.eventHook?.change === change && (p.eventHook.id ?? null) === hookId) return r.id;
    }
    return null;
  }

  /** Alerts first raised by push since `since` (ISO time): MAX_ALERTS_PER_RUN's count for push. */
  async pushAlertsSince(since: string): Promise<number> {
    const row = await this.sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM alerts WHERE org = ? AND source = 'push' AND created_at >= ?", [this.org, since]);
    return Number(row?.n ?? 0);
  }

  async lastTick(kind = 'poll'): Promise<TickRow | null> {
    return (await this.sql.get<TickRow>(`SELECT ${TICK_COLUMNS} FROM ticks WHERE org = ? AND kind = ? AND result != 'running' ORDER BY id DESC LIMIT 1`, [this.org, kind])) ?? null;
  }

  async lastSuccessfulTick(kind = 'poll'): Promise<TickRow | null> {
    return (await this.sql.get<TickRow>(`SELECT ${TICK_COLUMNS} FROM ticks WHERE org = ? AND kind = ? AND result = 'ok' ORDER BY id DESC LIMIT 1`, [this.org, kind])) ?? null;
  }

  // --- status --------------------------------------------------------------------------------

  /** Suppressed events grouped by what suppressed them, most first. */
  async suppressedByReason(limit = 20): Promise<Array<{ reason: string; count: number; last: string }>> {
    const rows = await this.sql.all<{ reason: string; count: number; last: string }>(
      `SELECT suppressed_by AS reason, COUNT(*) AS count, MAX(published) AS last FROM events
        WHERE org = ? AND suppressed_by IS NOT NULL GROUP BY suppressed_by ORDER BY count DESC LIMIT ?`,
      [this.org, limit],
    );
    return rows.map((r) => ({ ...r, count: Number(r.count) }));
  }

  /** Events stored per source (poll, push, backfill): which path saw each uuid first. */
  async eventsBySource(): Promise<Record<string, number>> {
    const rows = await this.sql.all<{ source: string; n: number }>('SELECT source, COUNT(*) AS n FROM events WHERE org = ? GROUP BY source', [this.org]);
    return Object.fromEntries(rows.map((r) => [r.source, Number(r.n)]));
  }

  /**
   * When the last hook delivery reached the store (ISO), or null: a restart-proof "last push" for
   * status, counted per delivery (also one whose events the poller had already stored).
   */
  async lastPushReceivedAt(): Promise<string | null> {
    return (await this.lastReceipt('push'))?.lastReceivedAt ?? null;
  }

  /**
   * The outbox counted by org, notifier and status, for every org in the database (one outbox for
   * all of them): a row's org is its alert's, its summary's or its follow-up's alert's.
   */
  async outboxCounts(opts: { status?: 'pending' } = {}): Promise<Array<{ org: string; notifier: string; status: string; n: number }>> {
    const rows = await this.sql.all<{ org: string | null; notifier: string; status: string; n: number }>(
      `SELECT ${DELIVERY_ORG} AS org, d.notifier, d.status, COUNT(*) AS n
         FROM ${DELIVERY_WITH_ORG}
        ${opts.status ? 'WHERE d.status = ?' : ''}
        GROUP BY ${DELIVERY_ORG}, d.notifier, d.status
        ORDER BY 1, 2, 3`,
      opts.status ? [opts.status] : [],
    );
    return rows.map((r) => ({ org: r.org ?? DEFAULT_ORG, notifier: r.notifier, status: r.status, n: Number(r.n) }));
  }

  async status(schemaVersion: number): Promise<StoreStatus> {
    const count = async (sql: string): Promise<number> => Number((await this.sql.get<{ n: number }>(sql))?.n ?? 0);
    const deliveries = (
      await this.sql.all<{ notifier: string; pending: number; sent: number; failed: number }>(
        `SELECT notifier,
                SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending, SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) AS sent,
                SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed
           FROM deliveries GROUP BY notifier ORDER BY notifier`,
      )
    ).map((d) => ({ notifier: d.notifier, pending: Number(d.pending), sent: Number(d.sent), failed: Number(d.failed) }));
    return {
      schemaVersion,
      cursor: await this.getCursor(),
      lastTick: await this.lastTick(),
      lastSuccessfulTick: await this.lastSuccessfulTick(),
      eventsSeen: await count('SELECT COUNT(*) AS n FROM events'),
      alertsRaised: await count('SELECT COUNT(*) AS n FROM alerts'),
      suppressed: await count('SELECT COUNT(*) AS n FROM events WHERE suppressed_by IS NOT NULL'),
      summaries: await count('SELECT COUNT(*) AS n FROM summaries'),
      deliveries,
    };
  }
}

/** Outbox counts (rows of Store.outboxCounts) as one row per org and notifier with its pending, sent and failed. */
export function outboxByOrgAndNotifier(rows: ReadonlyArray<{ org: string; notifier: string; status: string; n: number }>): Array<{ org: string; notifier: string; pending: number; sent: number; failed: number }> {
  const out = new Map<string, { org: string; notifier: string; pending: number; sent: number; failed: number }>();
  for (const r of rows) {
    const key = `${r.org}\0${r.notifier}`;
    let d = out.get(key);
    if (!d) out.set(key, (d = { org: r.org, notifier: r.notifier, pending: 0, sent: 0, failed: 0 }));
    if (r.status === 'pending' || r.status === 'sent' || r.status === 'failed') d[r.status] += r.n;
  }
  return [...out.values()];
}

/** The deliveries with what names their org: the alert, the summary, or the follow-up's alert. */
const DELIVERY_WITH_ORG = `deliveries d
           LEFT JOIN alerts a ON a.id = d.alert_id
           LEFT JOIN summaries s ON s.id = d.summary_id
           LEFT JOIN followups f ON f.id = d.followup_id
           LEFT JOIN alerts fa ON fa.id = f.alert_id`;
/** A delivery's org, over {@link DELIVERY_WITH_ORG}. */
const DELIVERY_ORG = 'COALESCE(a.org, s.org, fa.org)';

/** One row of the due-deliveries query. */
interface DueRow {
  id: number;
  org: string | null;
  notifier: string;
  attempts: number;
  createdAt: string;
  alertPayload: string | null;
  summaryPayload: string | null;
  followupPayload: string | null;
  followedAlertPayload: string | null;
  parentReceipt: string | null;
  repliesToSummary: string | null;
}

/** The `id` in a stored follow-up's JSON, or null. */
function followupIdOf(payload: string | null): string | null {
  if (payload === null) return null;
  try {
    const id = (JSON.parse(payload) as { id?: unknown }).id;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
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

let holderOfThisProcess: string | null = null;

/**
 * This process's name in claims, made once: `<hostname>:<pid>:<8 hex>`. The random part tells this
 * process from an earlier one that had the same pid (pid 1 in a container).
 */
export function replicaHolder(): string {
  holderOfThisProcess ??= `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
  return holderOfThisProcess;
}

/**
 * True when a claim's holder is another process on this host that is still alive. `me` is the
 * claiming process: its own claims are claimable (rows it sent but has not recorded are skipped by
 * the dispatcher before it asks), and so is a claim by an earlier process with our pid. A claim of
 * a version before 14 is a bare pid, of this host.
 */
function heldByLiveProcessHere(claimedBy: string, me: string): boolean {
  if (claimedBy === me) return false;
  const m = /^(.*):(\d+):[0-9a-f]*$/.exec(claimedBy);
  const host = m ? m[1] : os.hostname();
  const pid = Number(m ? m[2] : claimedBy);
  if (host !== os.hostname() || !Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  return processAlive(pid);
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

/** A stored JSON payload, or null when it does not parse. */
function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
