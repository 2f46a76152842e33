import type { Clock } from '../clock';
import type { PollConfig } from '../config';
import type { Detector } from '../detect/detector';
import type { Logger } from '../logger';
import { redact } from '../logger';
import { buildLogUrl, pageEntries, PollError, type SystemLogReader } from '../okta/system-log';
import type { Store } from '../store/store';
import { ingest, summarizeExcess } from './ingest';

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

/**
 * One tick of the live poller, readable top to bottom:
 * resume from the stored cursor (or start at now - LOOKBACK), read pages until the first empty one,
 * and hand each page to ingest (ingest.ts), which commits it in ONE transaction: new events, their
 * alerts, their pending deliveries and the cursor move together. A crash therefore never loses an event nor alerts twice for one.
 * Reaching the first empty page records the tick's start as the time the poller has caught up
 * through; a tick stopped before that is recorded as interrupted, never as ok.
 */
export async function runTick(deps: TickDeps): Promise<TickResult> {
  const { store, reader, detector, clock, logger, poll } = deps;
  const started = clock.now();
  const tickId = await store.startTick(started, 'poll');
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
    const cursor = await store.getCursor();
    let url: string;
    // True while `url` is an opaque `after` cursor (stored, or a `next` link of this tick) rather
    // than a time-based query built here: only such a URL can expire and be worth a fallback.
    let fromCursor = false;
    // A time-based query built before Okta's clock was measured: re-checked against the first
    // response's Date, and redone (before anything is committed) if Okta's clock is behind ours.
    const provisional: { query: { since: Date; rebuild: (offsetMs: number | null) => Date } | null } = { query: null };
    const timeQuery = (rebuild: (offsetMs: number | null) => Date): string => {
      const offset = deps.reader.clockOffsetMs;
      const since = rebuild(offset);
      provisional.query = offset === null ? { since, rebuild } : null;
      return buildLogUrl(deps.orgUrl, { filter: detector.filter, since, limit: 1000 });
    };
    if (cursor && new URL(cursor.url).origin === deps.orgUrl) {
      url = cursor.url;
      fromCursor = true;
    } else {
      if (cursor) logger.warn('the stored cursor belongs to another org URL; starting again from the look-back', {});
      // Without a cursor, start LOOKBACK before the first tick this database ever ran, not before
      // now: if Okta (or the credentials) fail for longer than LOOKBACK after the first start, the
      // window must not slide past events created meanwhile. Never before the 90-day retention.
      const firstStart = cursor ? started.getTime() : Date.parse((await store.firstTickStartedAt('poll')) ?? started.toISOString());
      url = timeQuery((offset) => sinceFrom(toOktaTime(Math.min(firstStart, started.getTime()), offset), started, offset, poll.lookbackMs));
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
          const { since, base } = await fallbackSince(store, started, poll.lookbackMs, deps.reader.clockOffsetMs);
          logger.warn(
            result.pages === 0
              ? 'Okta rejected the stored cursor; restarting from a time-based query'
              : 'Okta rejected the next link of a later page; restarting from a time-based query',
            { status: err.status, errorCode: err.errorCode, since: since.toISOString(), base, pagesBefore: result.pages },
          );
          result.cursorFallback = true;
          // The rejection's own Date has measured Okta's clock, so this since is final.
          url = buildLogUrl(deps.orgUrl, { filter: detector.filter, since, limit: 1000 });
          fromCursor = false;
          continue;
        }
        throw err;
      }
      if (provisional.query !== null) {
        const { since: used, rebuild } = provisional.query;
        provisional.query = null;
        const since = rebuild(deps.reader.clockOffsetMs);
        if (since.getTime() < used.getTime()) {
          // Okta's clock is behind ours by more than the margin: the query asked for too little.
          logger.warn('Okta\'s clock is behind the local one; asking again from a since on Okta\'s clock before storing anything', {
            offsetMs: deps.reader.clockOffsetMs,
            since: since.toISOString(),
          });
          result.requests += page.requests;
          url = buildLogUrl(deps.orgUrl, { filter: detector.filter, since, limit: 1000 });
          continue;
        }
      }
      result.requests += page.requests;
      result.rateLimitRemaining = page.rateLimit?.remaining ?? result.rateLimitRemaining;
      const entries = pageEntries(page);
      const empty = entries.length === 0;
      const committed = await ingest(deps, {
        entries,
        tickId,
        // Everything persisted before this tick started has now been read; that start is stored on
        // Okta's clock, because every since built from it is compared with Okta's persistence times.
        checkpoint: { source: 'poll', cursorUrl: page.nextUrl, caughtUpThrough: empty ? new Date(toOktaTime(started.getTime(), deps.reader.clockOffsetMs)) : null },
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

    warnOnSkew(deps);
    // For `status`, which runs in another process: how far off the local clock was.
    if (caughtUp && deps.reader.clockOffsetMs !== null) await store.setOktaClockOffset(deps.reader.clockOffsetMs);
    result.summarized = await summarizeExcess(deps, tickId);
    if (!caughtUp && deps.signal?.aborted) return finishInterrupted(deps, result, started, 'stopped by a signal');
    result.ok = true;
    result.durationMs = clock.now().getTime() - started.getTime();
    await store.finishTick(tickId, clock.now(), 'ok', { requests: result.requests, rateLimitRemaining: result.rateLimitRemaining });
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
      result.summarized = await summarizeExcess(deps, tickId);
    } catch (e) {
      logger.error('could not queue the summary of excess alerts', { error: redact(e instanceof Error ? e.message : String(e)) });
    }
    const message = redact(err instanceof Error ? err.message : String(err));
    // Shutting down while waiting (a retry, a rate-limit reset) is an interruption, not a failure.
    if (deps.signal?.aborted) return finishInterrupted(deps, result, started, message);
    result.error = message;
    result.durationMs = clock.now().getTime() - started.getTime();
    await store.finishTick(tickId, clock.now(), 'failed', { requests: result.requests, rateLimitRemaining: result.rateLimitRemaining, error: message });
    logger.error('tick failed', { tick: tickId, error: message, pages: result.pages, requests: result.requests, durationMs: result.durationMs });
    return result;
  }
}

/** Margin for the Date header's one-second resolution when a local time is put on Okta's clock. */
const DATE_RESOLUTION_MS = 1000;
/**
 * While Okta's clock is unmeasured, a local time is moved this much earlier; a first response
 * showing Okta further behind than this makes the tick redo its time-based query.
 */
export const UNMEASURED_SKEW_MARGIN_MS = 5000;

/**
 * A local instant on Okta's clock, erring early: `offsetMs` is Okta's clock minus ours (null while
 * unmeasured). Never later than the local instant either, so a wrong measurement can only widen
 * the overlap (which uuid dedupe absorbs), never skip events.
 */
export function toOktaTime(localMs: number, offsetMs: number | null): number {
  if (offsetMs === null) return localMs - UNMEASURED_SKEW_MARGIN_MS;
  return Math.min(localMs, localMs + offsetMs) - DATE_RESOLUTION_MS;
}

/** LOOKBACK before `baseOkta` (Okta's clock), never before Okta's 90-day retention (past 180 days Okta rejects `since`). */
export function sinceFrom(baseOkta: number, started: Date, offsetMs: number | null, lookbackMs: number): Date {
  const oktaNow = toOktaTime(started.getTime(), offsetMs);
  return new Date(Math.max(Math.min(baseOkta, oktaNow) - lookbackMs, oktaNow - 90 * 86_400_000));
}

/**
 * Where a rejected cursor restarts, on Okta's clock: LOOKBACK before the time the poller last
 * caught up through (stored on Okta's clock). Until a tick has caught up, LOOKBACK before the
 * first tick's start, as the very first tick does: neither an interrupted tick's start nor the
 * cursor's commit time says how far reading got.
 */
export async function fallbackSince(store: Store, started: Date, lookbackMs: number, offsetMs: number | null): Promise<{ since: Date; base: 'caught-up' | 'first start' }> {
  const caught = await store.caughtUpThrough();
  if (caught !== null) return { since: sinceFrom(Date.parse(caught), started, offsetMs, lookbackMs), base: 'caught-up' };
  const first = Math.min(Date.parse((await store.firstTickStartedAt('poll')) ?? started.toISOString()), started.getTime());
  return { since: sinceFrom(toOktaTime(first, offsetMs), started, offsetMs, lookbackMs), base: 'first start' };
}

/**
 * Logs once per process when Okta's clock is more than half of LOOKBACK away from ours: reading
 * stays correct (every since is on Okta's clock), but the local clock needs fixing.
 */
function warnOnSkew(deps: TickDeps): void {
  const offset = deps.reader.clockOffsetMs;
  if (offset === null || deps.reader.skewWarned || !clockSkewIsLarge(offset, deps.poll.lookbackMs)) return;
  deps.reader.skewWarned = true;
  deps.logger.warn('the local clock differs from Okta\'s by more than half of LOOKBACK; the poller uses Okta\'s clock, but fix the local one (NTP)', {
    offsetMs: offset,
  });
}

/** True when a measured skew (Okta's clock minus ours) is worth a warning: more than LOOKBACK/2. */
export function clockSkewIsLarge(offsetMs: number, lookbackMs: number): boolean {
  return Math.abs(offsetMs) > lookbackMs / 2;
}

/** Records a tick stopped before it caught up: its committed pages stay, and the cursor after them. */
async function finishInterrupted(deps: TickDeps, result: TickResult, started: Date, why: string): Promise<TickResult> {
  const { store, clock, logger } = deps;
  result.interrupted = true;
  result.ok = false;
  result.error = `interrupted (${why}) after ${result.pages} page(s), before reaching the end of the log; the next tick resumes from the cursor`;
  result.durationMs = clock.now().getTime() - started.getTime();
  await store.finishTick(result.tickId, clock.now(), 'interrupted', { requests: result.requests, rateLimitRemaining: result.rateLimitRemaining, error: result.error });
  logger.warn('tick interrupted', { tick: result.tickId, pages: result.pages, requests: result.requests, newAlerts: result.newAlerts, error: result.error });
  return result;
}

