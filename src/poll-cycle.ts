import type { Clock } from './clock';
import type { PollConfig } from './config';
import type { Alert, TokenState } from './detect/alert';
import type { Decision, Detector } from './detect/detector';
import { text } from './detect/fields';
import { entryKey } from './detect/raw-event';
import { unreadableReason } from './detect/unreadable';
import { SUMMARY_BOUNDS } from './detect/summary';
import type { Logger } from './logger';
import { redact } from './logger';
import type { OktaLogEvent } from './okta/log-event';
import { buildLogUrl, PollError, type SystemLogReader } from './okta/system-log';
import { isStorageFailure, type Store } from './store/store';

/** What one tick did. */
export interface TickResult {
  tickId: number;
  ok: boolean;
  /** Stopped (SIGTERM/SIGINT) before it reached the first empty page: not ok, recorded as 'interrupted'. */
  interrupted: boolean;
  pages: number;
  requests: number;
  events: number;
  newEvents: number;
  newAlerts: number;
  suppressed: number;
  summarized: number;
  durationMs: number;
  rateLimitRemaining: number | null;
  cursorFallback: boolean;
  error?: string;
}

/** Everything a tick needs, passed in (no globals). */
export interface TickDeps {
  store: Store;
  reader: SystemLogReader;
  detector: Detector;
  /** Names of the enabled notifiers: one pending delivery each per alert. */
  notifiers: string[];
  poll: PollConfig;
  orgUrl: string;
  clock: Clock;
  logger: Logger;
  /** Aborted on SIGTERM/SIGINT: the page in hand is finished and committed, then the tick stops. */
  signal?: AbortSignal;
  /** Test hook: called after each page's transaction commits. */
  afterPageCommit?: (pageIndex: number) => void;
}

/** Options of a bounded scan over a past range (backfill). */
export interface BackfillOptions {
  since: Date;
  until: Date;
  dryRun: boolean;
  /** Called after each page, for progress output. */
  onPage?: (p: { pages: number; events: number; newAlerts: number; matches: OktaLogEvent[] }) => void;
}

/**
 * One tick of the live poller, readable top to bottom:
 * resume from the stored cursor (or start at now - LOOKBACK), read pages until the first empty one,
 * and commit each page in ONE transaction: new events, their alerts, their pending deliveries and
 * the cursor move together. A crash therefore never loses an event nor alerts twice for one.
 * Reaching the first empty page records the tick's start as the time the poller has caught up
 * through; a tick stopped before that is recorded as interrupted, never as ok.
 */
export async function runTick(deps: TickDeps): Promise<TickResult> {
  const { store, reader, detector, clock, logger, poll } = deps;
  const started = clock.now();
  const tickId = store.startTick(started, 'poll');
  const result: TickResult = {
    tickId,
    ok: false,
    interrupted: false,
    pages: 0,
    requests: 0,
    events: 0,
    newEvents: 0,
    newAlerts: 0,
    suppressed: 0,
    summarized: 0,
    durationMs: 0,
    rateLimitRemaining: null,
    cursorFallback: false,
  };
  try {
    const cursor = store.getCursor();
    let url: string;
    // True while `url` is an opaque `after` cursor (stored, or a `next` link of this tick) rather
    // than a time-based query built here: only such a URL can expire and be worth a fallback.
    let fromCursor = false;
    if (cursor && new URL(cursor.url).origin === deps.orgUrl) {
      url = cursor.url;
      fromCursor = true;
    } else {
      if (cursor) logger.warn('the stored cursor belongs to another org URL; starting again from the look-back', {});
      // Without a cursor, start LOOKBACK before the first tick this database ever ran, not before
      // now: if Okta (or the credentials) fail for longer than LOOKBACK after the first start, the
      // window must not slide past events created meanwhile. Never before the 90-day retention.
      const firstStart = cursor ? started.getTime() : Date.parse(store.firstTickStartedAt('poll') ?? started.toISOString());
      const since = new Date(Math.max(Math.min(firstStart, started.getTime()) - poll.lookbackMs, started.getTime() - 90 * 86_400_000));
      url = buildLogUrl(deps.orgUrl, { filter: detector.filter, since, limit: 1000 });
    }

    let alertsThisTick = 0;
    let caughtUp = false;
    for (;;) {
      let page;
      try {
        page = await reader.fetchPage(url, deps.signal);
      } catch (err) {
        if (err instanceof PollError) result.requests += err.requests;
        // Once per tick: a fallback whose own `next` links are refused again fails the tick, and
        // the next tick falls back afresh, from the same durable base.
        if (err instanceof PollError && err.kind === 'rejected' && fromCursor && !result.cursorFallback) {
          // Okta documents no lifetime for the `after` cursor, and a `next` link can be refused on
          // any page. Restart from a time-based query; uuid dedupe absorbs the overlap.
          const { since, base } = fallbackSince(store, started, poll.lookbackMs);
          logger.warn(
            result.pages === 0
              ? 'Okta rejected the stored cursor; restarting from a time-based query'
              : 'Okta rejected the next link of a later page; restarting from a time-based query',
            { status: err.status, errorCode: err.errorCode, since: since.toISOString(), base, pagesBefore: result.pages },
          );
          result.cursorFallback = true;
          url = buildLogUrl(deps.orgUrl, { filter: detector.filter, since, limit: 1000 });
          fromCursor = false;
          continue;
        }
        throw err;
      }
      result.requests += page.requests;
      result.rateLimitRemaining = page.rateLimit?.remaining ?? result.rateLimitRemaining;
      const empty = page.events.length === 0 && page.unusable.length === 0;

      // Unreadable entries go through the page too: stored and alerted, never skipped.
      const entries: unknown[] = page.unusable.length > 0 ? [...page.events, ...page.unusable] : page.events;
      const committed = await commitPage(deps, tickId, entries, page.nextUrl ?? url, {
        source: 'poll',
        moveCursor: page.nextUrl !== null,
        // Everything persisted before this tick started has now been read.
        caughtUpThrough: empty ? started : null,
        alertsSoFar: alertsThisTick,
        rateLimitRemaining: page.rateLimit?.remaining ?? null,
        requests: page.requests,
      });
      alertsThisTick += committed.newAlerts;
      result.pages++;
      result.events += entries.length;
      result.newEvents += committed.newEvents;
      result.newAlerts += committed.newAlerts;
      result.suppressed += committed.suppressed;
      deps.afterPageCommit?.(result.pages);

      if (empty) {
        caughtUp = true;
        break;
      }
      if (page.nextUrl === null) {
        logger.warn('Okta sent a page without a next link; the next tick restarts from this page', {});
        break;
      }
      url = page.nextUrl;
      fromCursor = true;
      if (deps.signal?.aborted) break;
    }

    result.summarized = summarizeExcess(deps, tickId);
    if (!caughtUp && deps.signal?.aborted) return finishInterrupted(deps, result, started, 'stopped by a signal');
    result.ok = true;
    result.durationMs = clock.now().getTime() - started.getTime();
    store.finishTick(tickId, clock.now(), 'ok', { requests: result.requests, rateLimitRemaining: result.rateLimitRemaining });
    logger.info('tick finished', {
      tick: tickId,
      pages: result.pages,
      requests: result.requests,
      events: result.events,
      newEvents: result.newEvents,
      newAlerts: result.newAlerts,
      suppressed: result.suppressed,
      summarized: result.summarized,
      durationMs: result.durationMs,
      rateLimitRemaining: result.rateLimitRemaining,
    });
    return result;
  } catch (err) {
    // Pages committed before the failure may hold alerts beyond MAX_ALERTS_PER_RUN: queue their
    // summary now, so a tick that keeps failing (say, an exhausted rate limit) cannot hold them back.
    try {
      result.summarized = summarizeExcess(deps, tickId);
    } catch (e) {
      logger.error('could not queue the summary of excess alerts', { error: redact(e instanceof Error ? e.message : String(e)) });
    }
    const message = redact(err instanceof Error ? err.message : String(err));
    // Shutting down while waiting (a retry, a rate-limit reset) is an interruption, not a failure.
    if (deps.signal?.aborted) return finishInterrupted(deps, result, started, message);
    result.error = message;
    result.durationMs = clock.now().getTime() - started.getTime();
    store.finishTick(tickId, clock.now(), 'failed', { requests: result.requests, rateLimitRemaining: result.rateLimitRemaining, error: message });
    logger.error('tick failed', { tick: tickId, error: message, pages: result.pages, requests: result.requests, durationMs: result.durationMs });
    return result;
  }
}

/**
 * Where a rejected cursor restarts: LOOKBACK before the time the poller last caught up through.
 * Until a tick has caught up, LOOKBACK before the first tick's start, as the very first tick does:
 * neither an interrupted tick's start nor the cursor's commit time says how far reading got.
 * Never earlier than Okta's 90-day retention (past 180 days Okta rejects `since` outright).
 */
export function fallbackSince(store: Store, started: Date, lookbackMs: number): { since: Date; base: 'caught-up' | 'first start' } {
  const caught = store.caughtUpThrough();
  const baseIso = caught ?? store.firstTickStartedAt('poll') ?? started.toISOString();
  const since = new Date(Math.max(Math.min(Date.parse(baseIso), started.getTime()) - lookbackMs, started.getTime() - 90 * 86_400_000));
  return { since, base: caught !== null ? 'caught-up' : 'first start' };
}

/** Records a tick stopped before it caught up: its committed pages stay, and the cursor after them. */
function finishInterrupted(deps: TickDeps, result: TickResult, started: Date, why: string): TickResult {
  const { store, clock, logger } = deps;
  result.interrupted = true;
  result.ok = false;
  result.error = `interrupted (${why}) after ${result.pages} page(s), before reaching the end of the log; the next tick resumes from the cursor`;
  result.durationMs = clock.now().getTime() - started.getTime();
  store.finishTick(result.tickId, clock.now(), 'interrupted', { requests: result.requests, rateLimitRemaining: result.rateLimitRemaining, error: result.error });
  logger.warn('tick interrupted', { tick: result.tickId, pages: result.pages, requests: result.requests, newAlerts: result.newAlerts, error: result.error });
  return result;
}

/** What committing one page did. */
interface PageOutcome {
  newEvents: number;
  newAlerts: number;
  suppressed: number;
  alerts: Alert[];
}

/**
 * Decides, enriches and stores one page. The token lookup (network) happens before the
 * transaction; everything that must land together happens inside it.
 *
 * `entries` are the page as Okta sent it, of any shape. One entry can never stop the page: an
 * entry detection cannot read (unreadable.ts), or one whose decision, alert or rows throw, is
 * stored under its key with its raw JSON and alerted as "an event this program could not read".
 * Each entry runs in its own SAVEPOINT, so a failure rolls back only that entry's writes. Only a
 * failure of the database itself (disk full, I/O error) fails the page, which then commits nothing.
 */
export async function commitPage(
  deps: Pick<TickDeps, 'store' | 'detector' | 'notifiers' | 'poll' | 'clock' | 'logger'>,
  tickId: number | null,
  entries: readonly unknown[],
  cursorUrl: string,
  opts: {
    source: 'poll' | 'backfill' | 'push';
    moveCursor: boolean;
    /** Set on the live poller's first empty page: stored with the page, see Store.caughtUpThrough. */
    caughtUpThrough?: Date | null;
    alertsSoFar: number;
    rateLimitRemaining: number | null;
    requests: number;
  },
): Promise<PageOutcome> {
  const { store, detector, clock } = deps;
  const items = entries.map((entry) => ({ entry, key: entryKey(entry), unreadable: unreadableReason(entry) }));
  const unseen = store.unseenUuids(items.map((i) => i.key));
  const decideAt = clock.now();
  const decisions = new Map<string, PageDecision>();
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
  const individual = Math.max(0, deps.poll.maxAlertsPerRun - opts.alertsSoFar);
  const toAlert = items
    .filter((i) => isAlert(decisions.get(i.key)))
    .map((i) => i.entry as OktaLogEvent)
    .slice(0, individual);
  let tokenStates = new Map<string, TokenState>();
  if (toAlert.length > 0) {
    tokenStates = await detector.lookupTokens(toAlert).catch((err: unknown) => {
      // Enrichment only: the alerts go out without the token's state.
      deps.logger.warn('the token lookup failed for this page', { error: errorText(err) });
      return new Map<string, TokenState>();
    });
  }

  return store.transaction(() => {
    const now = clock.now();
    const out: PageOutcome = { newEvents: 0, newAlerts: 0, suppressed: 0, alerts: [] };
    let alerts = opts.alertsSoFar;
    const alertNow = (alert: Alert): void => {
      store.insertAlert(alert, tickId, deps.notifiers, { deferToSummary: alerts >= deps.poll.maxAlertsPerRun, now });
    };
    for (const it of items) {
      const decision = decisions.get(it.key);
      // Seen before this page: nothing to do. Twice in this page: insertEvent says so below.
      if (!decision) continue;
      let result: EntryResult;
      try {
        result = store.savepoint((): EntryResult => {
          if ('unreadable' in decision) return recordUnreadable(deps, it.entry, it.key, decision.unreadable, opts.source, now, alertNow);
          const e = it.entry as OktaLogEvent;
          const suppressedBy = decision.alert ? null : decision.suppressedBy;
          if (!store.insertEvent(e, opts.source, now, suppressedBy, it.key)) return { kind: 'seen' };
          if (!decision.alert) return { kind: 'suppressed', reason: decision.suppressedBy };
          const alert = detector.buildAlert(e, { source: opts.source, now, store, tokenState: tokenStates.get(it.key) });
          alertNow(alert);
          return { kind: 'alert', alert };
        });
      } catch (err) {
        if (isStorageFailure(err)) throw err;
        // This entry alone failed (its writes are rolled back): keep it and alert it as unreadable.
        // If even that throws, the page fails and commits nothing; the next tick retries it.
        const reason = `storing or alerting it failed (${errorText(err)})`;
        result = store.savepoint(() => recordUnreadable(deps, it.entry, it.key, reason, opts.source, now, alertNow));
      }
      if (result.kind === 'seen') continue;
      out.newEvents++;
      if (result.kind === 'suppressed') {
        out.suppressed++;
        deps.logger.info('event suppressed', { uuid: it.key, reason: result.reason });
        continue;
      }
      alerts++;
      out.newAlerts++;
      out.alerts.push(result.alert);
    }
    if (opts.moveCursor) store.setCursor(cursorUrl, now);
    if (opts.caughtUpThrough) store.setCaughtUpThrough(opts.caughtUpThrough, now);
    if (tickId !== null) {
      store.addToTick(tickId, {
        pages: 1,
        events: entries.length,
        newEvents: out.newEvents,
        newAlerts: out.newAlerts,
        suppressed: out.suppressed,
        rateLimitRemaining: opts.rateLimitRemaining,
        requests: opts.requests,
      });
    }
    return out;
  });
}

/** A detector decision, or the reason an entry goes the unreadable way. */
type PageDecision = Decision | { unreadable: string };

type EntryResult = { kind: 'seen' } | { kind: 'suppressed'; reason: string } | { kind: 'alert'; alert: Alert };

function isAlert(d: PageDecision | undefined): boolean {
  return d !== undefined && 'alert' in d && d.alert;
}

/** Stores an entry under its key with its raw JSON (bounded) and queues the unreadable-event alert. */
function recordUnreadable(
  deps: Pick<TickDeps, 'store' | 'detector' | 'logger'>,
  entry: unknown,
  key: string,
  reason: string,
  source: 'poll' | 'backfill' | 'push',
  now: Date,
  alertNow: (alert: Alert) => void,
): EntryResult {
  if (!deps.store.insertEvent(entry, source, now, null, key)) return { kind: 'seen' };
  const alert = deps.detector.buildUnreadableAlert(entry, key, reason, { source, now });
  alertNow(alert);
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
export function summarizeExcess(deps: Pick<TickDeps, 'store' | 'detector' | 'notifiers' | 'clock' | 'logger'>, tickId: number | null): number {
  return deps.store.transaction(() => {
    const excess = deps.store.excessAwaitingSummary(SUMMARY_BOUNDS);
    if (!excess) return 0;
    const now = deps.clock.now();
    const summary = deps.store.insertSummary(deps.detector.buildSummary(excess, now), tickId, deps.notifiers, now);
    deps.logger.warn('more alerts than MAX_ALERTS_PER_RUN in one tick; the excess goes out as one summary', { summary: summary.id, count: excess.count });
    return excess.count;
  });
}
