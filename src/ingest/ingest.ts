import type { Clock } from '../clock';
import type { PollConfig } from '../config';
import type { Alert, TokenState } from '../detect/alert';
import type { Decision, Detector } from '../detect/detector';
import { text } from '../detect/fields';
import { entryKey } from '../detect/raw-event';
import { ruleById } from '../detect/rules';
import { SUMMARY_BOUNDS } from '../detect/summary';
import { unreadableReason } from '../detect/unreadable';
import { attributeEvent, DEFAULT_FOLLOW_WINDOW_MS, isWatchedTokenEvent, lifecycleFollowUp, startWatch, type WatchContext } from '../follow/watch';
import type { Logger } from '../logger';
import type { OktaLogEvent } from '../okta/log-event';
import { setFollowCursor, setFollowedThrough } from '../store/follow-cursors';
import { isStorageFailure, type EventSource, type Store } from '../store/store';

/** What ingest needs: the store, the detector and the notifiers' names, nothing about the source. */
export interface IngestDeps {
  store: Store;
  detector: Detector;
  /** Names of the enabled notifiers: one pending delivery each per alert. */
  notifiers: string[];
  poll: Pick<PollConfig, 'maxAlertsPerRun' | 'followWindowMs'>;
  clock: Clock;
  logger: Logger;
}

/**
 * The source's own progress, written in the batch's transaction so it can never run ahead of (or
 * behind) the events it covers. One variant per source; a new source adds its own.
 */
export type Checkpoint =
  /** The live poller: the `after` cursor to resume from (null: leave it), and on its first empty page the time it has read through. */
  | { source: 'poll'; cursorUrl: string | null; caughtUpThrough: Date | null }
  /** An Okta Event Hook delivery: no cursor (Okta pushes, there is nothing to resume), only its receipt. */
  | { source: 'push'; receivedAt: Date }
  /** A backfill: its progress is its tick row (pages, events), added to per page; never the live cursor. */
  | { source: 'backfill' }
  /**
   * The follow query of one group of watched tokens (src/ingest/follow.ts): the group's `next` link
   * (null: leave it), and on its first empty page the time (Okta's clock) those tokens are read through.
   */
  | { source: 'follow'; groupKey: string; cursorUrl: string | null; tokenIds: readonly string[]; followedThrough: Date | null };

/** One batch as a source hands it to ingest. */
export interface Batch {
  /** The entries as the source received them, of any shape (attacker-controlled, even their types). */
  entries: readonly unknown[];
  checkpoint: Checkpoint;
  /** The tick (or run) this batch belongs to; its counters are added to in the same transaction. */
  tickId: number | null;
  /** Alerts already raised by earlier batches of the same run: past MAX_ALERTS_PER_RUN they go into a summary. */
  alertsSoFar: number;
  rateLimitRemaining?: number | null;
  requests?: number;
}

/** What ingesting one batch did. */
export interface IngestOutcome {
  newEvents: number;
  newAlerts: number;
  suppressed: number;
  alerts: Alert[];
}

/**
 * The ONE place that decides whether an event is new: every source (System Log page, event hook
 * delivery, backfill page) hands its batch here, so "a uuid alerts once, whichever source saw it
 * first" holds by construction. Decides, enriches and stores the batch. The token lookup (network)
 * happens before the transaction; everything that must land together happens inside it: new
 * events by uuid, their alerts, their pending deliveries and the source's checkpoint.
 *
 * `entries` may be of any shape. One entry can never stop the batch: an entry detection cannot
 * read (unreadable.ts), or one whose decision, alert or rows throw, is stored under its key with
 * its raw JSON and alerted as "an event this program could not read". Each entry runs in its own
 * SAVEPOINT, so a failure rolls back only that entry's writes. Only a failure of the database itself
 * (disk full, I/O error) fails the batch, which then commits nothing (the checkpoint included).
 */
export async function ingest(deps: IngestDeps, batch: Batch): Promise<IngestOutcome> {
  const { store, detector, clock } = deps;
  const source: EventSource = batch.checkpoint.source;
  const entries = batch.entries;
  const items = entries.map((entry) => ({ entry, key: entryKey(entry), unreadable: unreadableReason(entry) }));
  const unseen = await store.unseenUuids(items.map((i) => i.key));
  if (items.some((i) => unseen.has(i.key) && i.unreadable === null)) await detector.refresh();
  const decideAt = clock.now();
  const decisions = new Map<string, BatchDecision>();
  for (const it of items) {
    if (!unseen.has(it.key) || decisions.has(it.key)) continue;
    if (it.unreadable !== null) {
      decisions.set(it.key, { unreadable: it.unreadable });
      continue;
    }
    try {
      decisions.set(it.key, detector.decide(it.entry as OktaLogEvent, decideAt));
    } catch (err) {
      decisions.set(it.key, { unreadable: `the detection rule failed on it (${errorText(err)})` });
    }
  }
  // Only alerts that go out one by one show the token's state; those beyond MAX_ALERTS_PER_RUN go
  // into a summary, so a catch-up of thousands of events does not cost thousands of lookups.
  const individual = Math.max(0, deps.poll.maxAlertsPerRun - batch.alertsSoFar);
  const toAlert = items
    .filter((i) => isAlert(decisions.get(i.key)))
    .map((i) => i.entry as OktaLogEvent)
    .slice(0, individual);
  let tokenStates = new Map<string, TokenState>();
  if (toAlert.length > 0) {
    tokenStates = await detector.lookupTokens(toAlert).catch((err: unknown) => {
      // Enrichment only: the alerts go out without the token's state.
      deps.logger.warn('the token lookup failed for this batch', { error: errorText(err) });
      return new Map<string, TokenState>();
    });
  }

  return store.transaction(async (tx) => {
    const now = clock.now();
    const out: IngestOutcome = { newEvents: 0, newAlerts: 0, suppressed: 0, alerts: [] };
    let alerts = batch.alertsSoFar;
    // Each entry's writes go through its savepoint's store (sp), never the outer one.
    const alertNow = (sp: Store, alert: Alert, summarizable = true): Promise<number> =>
      sp.insertAlert(alert, batch.tickId, deps.notifiers, { deferToSummary: summarizable && alerts >= deps.poll.maxAlertsPerRun, now });
    const windowMs = deps.poll.followWindowMs ?? DEFAULT_FOLLOW_WINDOW_MS;
    for (const it of items) {
      const decision = decisions.get(it.key);
      // Seen before this batch (by any source): nothing to do. Twice in this batch: insertEvent says so below.
      if (!decision) continue;
      let result: EntryResult;
      try {
        result = await tx.savepoint(async (sp): Promise<EntryResult> => {
          if ('unreadable' in decision) return recordUnreadable(deps, sp, it.entry, it.key, decision.unreadable, source, now, (a) => alertNow(sp, a));
          const e = it.entry as OktaLogEvent;
          const watch: WatchContext = { store: sp, notifiers: deps.notifiers, now, windowMs, org: deps.detector.org ?? null };
          // What a watched token did is what the follow query is for, not noise the rules turned
          // away: it must not fill status's suppressed counts.
          const followed = !decision.alert && decision.unwatchedType === true && (await isWatchedTokenEvent(sp, e));
          const suppressedBy = decision.alert || followed ? null : decision.suppressedBy;
          // The uuid primary key is the arbiter between sources: a push and a poll of the same
          // event racing in two transactions cannot both insert it, so only one alerts.
          if (!(await sp.insertEvent(e, source, now, suppressedBy, it.key))) return { kind: 'seen' };
          // Whichever source stored the event first attributes it, so a first use is seen once.
          await attributeEvent(watch, e, it.key);
          if (!decision.alert) return followed ? { kind: 'followed' } : { kind: 'suppressed', reason: decision.suppressedBy };
          // A lifecycle event of a token we alerted on is news about that alert, told in its thread.
          if ((await lifecycleFollowUp(watch, e, it.key, decision.ruleId)).kind === 'followup') return { kind: 'followed' };
          const alert = await detector.buildAlert(e, { source, now, store: sp, tokenState: tokenStates.get(it.key), ruleId: decision.ruleId });
          // A summary speaks of token creations: a rule that says otherwise always goes out on its own.
          const alertRowId = await alertNow(sp, alert, ruleById(decision.ruleId)?.summarizable !== false);
          await startWatch(watch, alert, alertRowId);
          return { kind: 'alert', alert };
        });
      } catch (err) {
        if (isStorageFailure(err)) throw err;
        // This entry alone failed (its writes are rolled back): keep it and alert it as unreadable.
        // If even that throws, the batch fails and commits nothing; the source retries it.
        const reason = `storing or alerting it failed (${errorText(err)})`;
        result = await tx.savepoint((sp) => recordUnreadable(deps, sp, it.entry, it.key, reason, source, now, (a) => alertNow(sp, a)));
      }
      if (result.kind === 'seen') continue;
      out.newEvents++;
      if (result.kind === 'followed') continue;
      if (result.kind === 'suppressed') {
        out.suppressed++;
        deps.logger.info('event suppressed', { uuid: it.key, reason: result.reason });
        continue;
      }
      alerts++;
      out.newAlerts++;
      out.alerts.push(result.alert);
    }
    await writeCheckpoint(tx, batch.checkpoint, entries.length, now);
    if (batch.tickId !== null) {
      await tx.addToTick(batch.tickId, {
        pages: 1,
        events: entries.length,
        newEvents: out.newEvents,
        newAlerts: out.newAlerts,
        suppressed: out.suppressed,
        rateLimitRemaining: batch.rateLimitRemaining ?? null,
        requests: batch.requests ?? 0,
      });
    }
    return out;
  });
}

/** Writes the source's own progress (inside the batch's transaction). */
async function writeCheckpoint(store: Store, cp: Checkpoint, events: number, now: Date): Promise<void> {
  switch (cp.source) {
    case 'poll':
      if (cp.cursorUrl !== null) await store.setCursor(cp.cursorUrl, now);
      if (cp.caughtUpThrough) await store.setCaughtUpThrough(cp.caughtUpThrough, now);
      return;
    case 'push':
      await store.recordReceipt('push', cp.receivedAt, events);
      return;
    case 'backfill':
      return;
    case 'follow':
      if (cp.cursorUrl !== null) await setFollowCursor(store, cp.groupKey, cp.cursorUrl, now);
      if (cp.followedThrough) await setFollowedThrough(store, cp.tokenIds, cp.followedThrough);
      return;
  }
}

/** A detector decision, or the reason an entry goes the unreadable way. */
type BatchDecision = Decision | { unreadable: string };

/** `followed`: stored as a watched token's activity or as a follow-up of an alert, neither alerted nor suppressed. */
type EntryResult = { kind: 'seen' } | { kind: 'suppressed'; reason: string } | { kind: 'followed' } | { kind: 'alert'; alert: Alert };

function isAlert(d: BatchDecision | undefined): boolean {
  return d !== undefined && 'alert' in d && d.alert;
}

/** Stores an entry under its key with its raw JSON (bounded) and queues the unreadable-event alert. */
async function recordUnreadable(
  deps: Pick<IngestDeps, 'detector' | 'logger'>,
  store: Store,
  entry: unknown,
  key: string,
  reason: string,
  source: EventSource,
  now: Date,
  alertNow: (alert: Alert) => Promise<unknown>,
): Promise<EntryResult> {
  if (!(await store.insertEvent(entry, source, now, null, key))) return { kind: 'seen' };
  const alert = deps.detector.buildUnreadableAlert(entry, key, reason, { source, now });
  await alertNow(alert);
  deps.logger.error('an event could not be read; it is stored and alerted as unreadable', { uuid: key, reason: alert.unreadable!.reason });
  return { kind: 'alert', alert };
}

/** An error's message, bounded: it may quote event text. */
function errorText(err: unknown): string {
  return text(err instanceof Error ? `${err.name}: ${err.message}` : String(err), 200) ?? 'unknown error';
}

/**
 * Alerts beyond MAX_ALERTS_PER_RUN (including any left by a crash before this point) go out as
 * ONE summary per notifier. Returns how many alerts it covered.
 */
export async function summarizeExcess(deps: Pick<IngestDeps, 'store' | 'detector' | 'notifiers' | 'clock' | 'logger'>, tickId: number | null): Promise<number> {
  return deps.store.transaction(async (tx) => {
    // Check-then-write: on PostgreSQL two processes (a replica's takeOver or tick, a backfill) that
    // both read the waiting alerts would each link them (the link's subquery is not re-read after
    // the other commits) and each queue a summary: the same alerts told twice per notifier.
    await tx.sql.lock(`summary:${tx.org}`);
    const excess = await tx.excessAwaitingSummary(SUMMARY_BOUNDS);
    if (!excess) return 0;
    const now = deps.clock.now();
    const summary = await tx.insertSummary(deps.detector.buildSummary(excess, now), tickId, deps.notifiers, now);
    deps.logger.warn('more alerts than MAX_ALERTS_PER_RUN in one tick; the excess goes out as one summary', { summary: summary.id, count: excess.count });
    return excess.count;
  });
}
