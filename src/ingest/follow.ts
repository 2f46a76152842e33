import crypto from 'node:crypto';
import type { Clock } from '../clock';
import type { PollConfig } from '../config';
import type { Detector } from '../detect/detector';
import { redact, type Logger } from '../logger';
import { headroomWait } from '../okta/rate-limit';
import { buildLogUrl, pageEntries, PollError, type SystemLogReader } from '../okta/system-log';
import { dropFollowCursorsExcept, followCursor, openWatches, type OpenWatch } from '../store/follow-cursors';
import { isStorageFailure, type Store } from '../store/store';
import { FOLLOWABLE_TOKEN_ID } from '../follow/watch';
import { ingest, summarizeExcess } from './ingest';
import { sinceFrom, toOktaTime } from './poll';

/** Everything a follow tick needs, passed in (no globals). */
export interface FollowDeps {
  store: Store;
  /** The poll tick's reader: one rate-limit picture and one measurement of Okta's clock for both. */
  reader: SystemLogReader;
  detector: Detector;
  /** Names of the enabled notifiers: one pending delivery each per alert. */
  notifiers: string[];
  poll: Pick<PollConfig, 'maxAlertsPerRun' | 'lookbackMs'>;
  orgUrl: string;
  /** RATE_LIMIT_HEADROOM as a share (0..1): below it the follow tick does not query at all. */
  rateLimitHeadroom: number;
  clock: Clock;
  logger: Logger;
  /** Aborted on SIGTERM/SIGINT: the page in hand is committed, then the follow tick stops. */
  signal?: AbortSignal;
  /** Alerts the poll tick just before raised: MAX_ALERTS_PER_RUN covers the poll and the follow tick together. */
  alertsSoFar?: number;
  /**
   * Called (outside any transaction) after a follow tick in which at least one group reached the
   * end of the log: the watch engine closes the watches read through their window end
   * (closeEndedWatches). Its failure is logged, never thrown.
   */
  onCaughtUp?: () => void | Promise<unknown>;
}

/** What one follow tick did. */
export interface FollowResult {
  /** The ticks row (kind 'follow'), or null when nothing was asked of Okta. */
  tickId: number | null;
  /**
   * idle: no open watch (no request); skipped: the rate limit was below the headroom (no request);
   * ok: every group reached the end of the log; incomplete: a group failed, was cut short by the
   * headroom or by a signal (its cursor stays, the next tick resumes).
   */
  outcome: 'idle' | 'skipped' | 'ok' | 'incomplete';
  watched: number;
  groups: number;
  caughtUpGroups: number;
  failedGroups: number;
  pages: number;
  requests: number;
  events: number;
  newEvents: number;
  newAlerts: number;
  summarized: number;
  durationMs: number;
  error?: string;
}

/** Longest `filter` one follow request carries: about 50 twenty-character token ids. */
export const FOLLOW_FILTER_MAX_CHARS = 3500;
/** A group of watched tokens read by one query. */
export interface FollowGroup {
  /** sha256 of the sorted ids: the follow_cursors key (a cursor is only valid for its exact filter). */
  key: string;
  tokenIds: string[];
  filter: string;
  /** Where a time-based query starts (Okta's clock, before LOOKBACK): the earliest unread time in the group. */
  baseMs: number;
}

/** The filter term that selects the events caused by one token's requests. */
function term(tokenId: string): string {
  return `transaction.detail.requestApiTokenId eq "${tokenId}"`;
}

/**
 * Cuts the open watches, in order, into groups whose filter stays within `maxChars`. Ids that are
 * not plain token ids are left out (and returned, to be logged): quoting them safely is not worth
 * it for something Okta never issues.
 */
export function groupWatches(watches: readonly OpenWatch[], maxChars = FOLLOW_FILTER_MAX_CHARS): { groups: FollowGroup[]; unsafe: string[] } {
  const groups: FollowGroup[] = [];
  const unsafe: string[] = [];
  let ids: string[] = [];
  let length = 0;
  let base = Infinity;
  const close = (): void => {
    if (ids.length === 0) return;
    const key = crypto.createHash('sha256').update([...ids].sort().join('\n')).digest('hex');
    groups.push({ key, tokenIds: ids, filter: ids.map(term).join(' or '), baseMs: base });
    ids = [];
    length = 0;
    base = Infinity;
  };
  for (const w of watches) {
    if (typeof w.tokenId !== 'string' || !FOLLOWABLE_TOKEN_ID.test(w.tokenId)) {
      unsafe.push(String(w.tokenId));
      continue;
    }
    const add = term(w.tokenId).length + (ids.length > 0 ? 4 : 0);
    if (ids.length > 0 && length + add > maxChars) close();
    length += term(w.tokenId).length + (ids.length > 0 ? 4 : 0);
    ids.push(w.tokenId);
    // Stored times are Okta's; a malformed one reads from the retention bound (sinceFrom clamps).
    const from = Date.parse(w.followedThrough ?? w.createdPublished);
    base = Math.min(base, Number.isFinite(from) ? from : -Infinity);
  }
  close();
  return { groups, unsafe };
}

/** Unsafe ids already logged, per database: logged once, not every tick. */
const warnedUnsafe = new WeakMap<Store, Set<string>>();

/**
 * One follow tick: reads, for every open watch, the events caused by requests made with the
 * watched token (`transaction.detail.requestApiTokenId`), so a new token's first use and what it
 * does are seen even when no rule watches those event types. Runs after the poll tick, never
 * instead of it: it never throws, and it never waits for the rate limit (below the headroom it
 * skips until the next tick).
 *
 * Per group of tokens: resume from the group's stored `next` link, or (a new group, a refused
 * cursor) a time-based query from the group's earliest unread time minus LOOKBACK, on Okta's
 * clock. Every page goes through ingest (so an event alerts once, whichever source saw it first),
 * which writes the group's cursor and, on the first empty page, the time its tokens are read
 * through, in the page's transaction.
 */
export async function runFollowTick(deps: FollowDeps): Promise<FollowResult> {
  const { store, reader, clock, logger } = deps;
  const started = clock.now();
  const result: FollowResult = {
    tickId: null,
    outcome: 'idle',
    watched: 0,
    groups: 0,
    caughtUpGroups: 0,
    failedGroups: 0,
    pages: 0,
    requests: 0,
    events: 0,
    newEvents: 0,
    newAlerts: 0,
    summarized: 0,
    durationMs: 0,
  };
  const finish = (): FollowResult => {
    result.durationMs = clock.now().getTime() - started.getTime();
    return result;
  };
  try {
    const watches = await openWatches(store);
    result.watched = watches.length;
    const { groups, unsafe } = groupWatches(watches);
    warnUnsafe(deps, unsafe);
    result.groups = groups.length;
    // Cursors of groups that changed are dead: the group's new filter starts time-based.
    await dropFollowCursorsExcept(store, groups.map((g) => g.key));
    if (groups.length === 0) return finish();
    if (belowHeadroom(deps)) {
      result.outcome = 'skipped';
      logger.info('rate limit below the headroom; the follow queries of watched tokens wait for the next tick', {
        remaining: reader.rateLimit?.remaining,
        limit: reader.rateLimit?.limit,
        groups: groups.length,
      });
      return finish();
    }
    result.tickId = await store.startTick(started, 'follow');
    let alertsSoFar = deps.alertsSoFar ?? 0;
    let errors: string[] = [];
    for (const group of groups) {
      if (deps.signal?.aborted) break;
      const g = await followGroup(deps, group, started, result, alertsSoFar);
      alertsSoFar += g.newAlerts;
      if (g.caughtUp) result.caughtUpGroups++;
      else if (g.error !== undefined) {
        result.failedGroups++;
        errors.push(g.error);
      }
      if (g.stop) break;
    }
    result.summarized = await summarizeExcess(deps, result.tickId);
    result.outcome = result.caughtUpGroups === groups.length ? 'ok' : 'incomplete';
    errors = errors.slice(0, 3);
    if (result.outcome === 'incomplete' && errors.length === 0) errors.push('stopped before every group reached the end of the log (rate-limit headroom or a signal); the next tick resumes');
    if (errors.length > 0) result.error = errors.join('; ');
    const interrupted = result.outcome === 'incomplete' && result.failedGroups === 0 && deps.signal?.aborted === true;
    await store.finishTick(result.tickId, clock.now(), result.outcome === 'ok' ? 'ok' : interrupted ? 'interrupted' : 'failed', {
      requests: result.requests,
      rateLimitRemaining: reader.rateLimit?.remaining ?? null,
      error: result.error ?? null,
    });
    logger.info('follow tick finished', {
      tick: result.tickId,
      watched: result.watched,
      groups: result.groups,
      caughtUpGroups: result.caughtUpGroups,
      failedGroups: result.failedGroups,
      pages: result.pages,
      requests: result.requests,
      newEvents: result.newEvents,
      newAlerts: result.newAlerts,
    });
  } catch (err) {
    // Only the store failing lands here (follow queries fail per group): the poll tick is done and
    // unaffected, and each committed page kept its cursor.
    result.outcome = 'incomplete';
    result.error = redact(err instanceof Error ? err.message : String(err));
    logger.error('follow tick failed', { error: result.error, storage: isStorageFailure(err) });
    if (result.tickId !== null) {
      try {
        await store.finishTick(result.tickId, clock.now(), 'failed', { requests: result.requests, error: result.error });
      } catch {
        // The database is failing: the tick row stays 'running' and the next start closes it.
      }
    }
    return finish();
  }
  if (result.caughtUpGroups > 0 && deps.onCaughtUp) {
    try {
      await deps.onCaughtUp();
    } catch (err) {
      logger.error('closing the watches that ended failed; the next follow tick tries again', { error: redact(err instanceof Error ? err.message : String(err)) });
    }
  }
  return finish();
}

/** True when the last System Log response left less than the headroom: the follow tick must not make the reader wait. */
function belowHeadroom(deps: FollowDeps): boolean {
  return headroomWait(deps.reader.rateLimit, deps.rateLimitHeadroom, deps.clock.now().getTime(), () => 0) > 0;
}

/** Reads one group until its first empty page (or a failure); never throws for Okta's sake. */
async function followGroup(
  deps: FollowDeps,
  group: FollowGroup,
  started: Date,
  result: FollowResult,
  alertsBefore: number,
): Promise<{ caughtUp: boolean; newAlerts: number; error?: string; stop?: boolean }> {
  const { store, reader, logger } = deps;
  const timeQuery = (): string => {
    const since = sinceFrom(group.baseMs, started, reader.clockOffsetMs, deps.poll.lookbackMs);
    return buildLogUrl(deps.orgUrl, { filter: group.filter, since, limit: 1000 });
  };
  const stored = await followCursor(store, group.key);
  let url: string;
  let fromCursor = false;
  if (stored !== null && originOf(stored) === deps.orgUrl) {
    url = stored;
    fromCursor = true;
  } else {
    url = timeQuery();
  }
  let fellBack = false;
  let newAlerts = 0;
  for (;;) {
    // Checked before every request: the reader would wait for the reset, and the poll tick must not.
    if (belowHeadroom(deps)) {
      logger.info('rate limit below the headroom; this group of watched tokens resumes next tick', { tokens: group.tokenIds.length });
      return { caughtUp: false, newAlerts, stop: true };
    }
    let page;
    try {
      page = await reader.fetchPage(url, deps.signal);
    } catch (err) {
      if (err instanceof PollError) result.requests += err.requests;
      if (err instanceof PollError && err.kind === 'rejected' && fromCursor && !fellBack) {
        // A refused or expired cursor: read the group's window again by time (uuid dedupe absorbs the overlap).
        logger.warn('Okta rejected the follow cursor of a group of watched tokens; restarting it from a time-based query', { status: err.status, errorCode: err.errorCode, tokens: group.tokenIds.length });
        fellBack = true;
        fromCursor = false;
        url = timeQuery();
        continue;
      }
      // Stopping while the reader waited (a retry, a reset): an interruption, not a failure.
      if (err instanceof PollError && err.kind === 'aborted') return { caughtUp: false, newAlerts, stop: true };
      const message = redact(err instanceof Error ? err.message : String(err));
      logger.error('a follow query of watched tokens failed; its cursor stays and the next tick retries', { error: message, tokens: group.tokenIds.length });
      // Credentials or limits fail every group alike: spare the remaining groups.
      const stop = err instanceof PollError && (err.kind === 'auth' || err.kind === 'rate-limited');
      return { caughtUp: false, newAlerts, error: message, stop };
    }
    result.requests += page.requests;
    const entries = pageEntries(page);
    const empty = entries.length === 0;
    const committed = await ingest(deps, {
      entries,
      tickId: result.tickId,
      checkpoint: {
        source: 'follow',
        groupKey: group.key,
        cursorUrl: page.nextUrl,
        tokenIds: group.tokenIds,
        // This tick's start on Okta's clock: everything of these tokens persisted before it is read.
        followedThrough: empty ? new Date(toOktaTime(started.getTime(), reader.clockOffsetMs)) : null,
      },
      alertsSoFar: alertsBefore + newAlerts,
      rateLimitRemaining: page.rateLimit?.remaining ?? null,
      requests: page.requests,
    });
    newAlerts += committed.newAlerts;
    result.pages++;
    result.events += entries.length;
    result.newEvents += committed.newEvents;
    result.newAlerts += committed.newAlerts;
    if (empty) return { caughtUp: true, newAlerts };
    if (page.nextUrl === null) {
      logger.warn('Okta sent a follow page without a next link; the next tick restarts this group from this page', {});
      return { caughtUp: false, newAlerts, error: 'a page without a next link' };
    }
    url = page.nextUrl;
    fromCursor = true;
    if (deps.signal?.aborted) return { caughtUp: false, newAlerts, stop: true };
  }
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

function warnUnsafe(deps: FollowDeps, unsafe: string[]): void {
  if (unsafe.length === 0) return;
  let seen = warnedUnsafe.get(deps.store);
  if (!seen) warnedUnsafe.set(deps.store, (seen = new Set()));
  const fresh = unsafe.filter((id) => !seen.has(id));
  if (fresh.length === 0) return;
  for (const id of fresh) seen.add(id);
  deps.logger.warn('watched token ids that are not plain Okta ids are not followed (they never go into a System Log filter)', {
    count: fresh.length,
    // Bounded and JSON-escaped by the logger: the id came from an Okta event.
    example: fresh[0]!.slice(0, 80),
  });
}
