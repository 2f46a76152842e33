import type { Clock } from '../clock';
import type { OktaConfig } from '../config';
import { formatDuration } from '../duration';
import type { Logger } from '../logger';
import { COLLECT_AFTER_EVENTS, collectGarbage } from '../memory';
import { OktaRequestError, oktaErrorOf, type OktaHttp, type OktaResponse } from './http';
import { findLink } from './links';
import { isLogEvent, type OktaLogEvent } from './log-event';
import { headroomWait, readRateLimit, resetWait, type RateLimit } from './rate-limit';
import { TickDeadlineError } from '../scale/scheduler';

/** One page of the System Log. */
export interface LogPage {
  events: OktaLogEvent[];
  /** The `next` link (always present in polling mode), or null. */
  nextUrl: string | null;
  /**
   * Entries detection cannot read (no usable uuid, published or eventType as text, not an
   * object): passed on as they came, to be stored and alerted as unreadable events.
   */
  unusable: unknown[];
  rateLimit: RateLimit | null;
  /** HTTP requests this page took, retries included. */
  requests: number;
}

/** Everything a page holds for ingest: unreadable entries go through too, to be stored and alerted, never skipped. */
export function pageEntries(page: LogPage): unknown[] {
  return page.unusable.length > 0 ? [...page.events, ...page.unusable] : page.events;
}

/** Why reading the System Log failed for this tick. */
export type PollFailureKind =
  /** 400/404/410 on a URL: for a stored cursor, the cue to fall back to `since`. */
  | 'rejected'
  /** 401/403: the credentials are wrong or lack permission. */
  | 'auth'
  /** 429 that would need a longer wait than allowed, or kept coming. */
  | 'rate-limited'
  /** 5xx, timeouts, network errors, still failing after the retries. */
  | 'unavailable'
  /** A `next` link to another origin: never followed. */
  | 'refused-origin'
  /** A 2xx whose body is not a list of events. */
  | 'bad-response'
  /** Shutting down while waiting. */
  | 'aborted';

/** A System Log read that failed; the message is safe to log (no secrets, no URLs with cursors). */
export class PollError extends Error {
  /** HTTP requests the failed page read made, retries included (set by SystemLogReader.fetchPage). */
  requests = 0;

  constructor(
    message: string,
    readonly kind: PollFailureKind,
    readonly status?: number,
    readonly errorCode?: string,
  ) {
    super(message);
    this.name = 'PollError';
  }
}

/** Options of one System Log query. */
export interface QueryOptions {
  filter: string;
  since: Date;
  /** Set for a bounded (backfill) query; unset for the polling query. */
  until?: Date;
  limit: number;
}

/** Builds the first URL of a query; later pages come only from `next` links. */
export function buildLogUrl(orgUrl: string, q: QueryOptions): string {
  const u = new URL('/api/v1/logs', orgUrl);
  u.searchParams.set('filter', q.filter);
  // ISO strings: the SDK would serialise a Date as "Mon Jan 01 2024 ...", which Okta rejects.
  u.searchParams.set('since', q.since.toISOString());
  if (q.until) u.searchParams.set('until', q.until.toISOString());
  u.searchParams.set('sortOrder', 'ASCENDING');
  u.searchParams.set('limit', String(q.limit));
  return u.href;
}

const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 30_000;

/**
 * Reads System Log pages with the retry and rate-limit policy:
 * - before each request, if less than the headroom share of the limit remains, wait for the reset;
 * - 429: wait until X-Rate-Limit-Reset (bounded by maxRateLimitWait), then retry;
 * - every wait for a reset is measured against the response's Date (Okta's clock), never the local one;
 * - 5xx, timeouts, network errors: capped exponential backoff with full jitter;
 * - other 4xx: fail at once (the caller decides about a rejected cursor).
 */
export class SystemLogReader {
  private lastRateLimit: RateLimit | null = null;
  private lastPageEvents = 0;
  private offsetMs: number | null = null;
  /** Set once the clock-skew warning has been logged: it is logged once per process. */
  skewWarned = false;

  constructor(
    private readonly http: OktaHttp,
    private readonly config: OktaConfig,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly random: () => number = Math.random,
  ) {}

  get rateLimit(): RateLimit | null {
    return this.lastRateLimit;
  }

  /**
   * Okta's clock minus the local one, in ms, from the `Date` header of the latest System Log
   * response (errors included); null until a response carried a readable one. It errs early, never
   * late: the header is truncated to the second and was written before the response arrived, so a
   * time converted with it is at or before Okta's real time.
   */
  get clockOffsetMs(): number | null {
    return this.offsetMs;
  }

  async fetchPage(url: string, signal?: AbortSignal): Promise<LogPage> {
    // Every caller (tick, backfill) is done with the previous page when it asks for the next one:
    // after a large page, its garbage goes now (see src/memory.ts).
    if (this.lastPageEvents >= COLLECT_AFTER_EVENTS) collectGarbage();
    this.lastPageEvents = 0;
    const counter = { requests: 0 };
    try {
      const page = await this.readPage(url, counter, signal);
      this.lastPageEvents = page.events.length;
      return page;
    } catch (err) {
      // A failed page still cost requests (and rate limit): the tick records them.
      if (err instanceof PollError) err.requests = counter.requests;
      throw err;
    }
  }

  private async readPage(url: string, counter: { requests: number }, signal?: AbortSignal): Promise<LogPage> {
    let failures = 0;
    for (;;) {
      await this.waitForHeadroom(signal);
      let res: OktaResponse;
      // A stop lets the request in hand finish (its page is committed); a tick past its deadline
      // (an org that hangs) gives it up at once instead of holding a connection until
      // OKTA_REQUEST_TIMEOUT.
      const request = new AbortController();
      const onAbort = (): void => {
        if (signal?.reason instanceof TickDeadlineError) request.abort(signal.reason);
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      try {
        res = await this.http.get(url, { signal: request.signal });
        counter.requests++;
      } catch (err) {
        // Refused before sending (another origin, or no access token): not a System Log request.
        if (err instanceof OktaRequestError && (err.kind === 'refused-origin' || err.kind === 'auth-setup')) {
          throw new PollError(err.message, err.kind === 'refused-origin' ? 'refused-origin' : 'auth');
        }
        counter.requests++;
        failures++;
        const reason = err instanceof Error ? err.message : String(err);
        await this.backoffOrFail(failures, reason, signal);
        continue;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      const localNow = this.clock.now().getTime();
      const serverNow = Date.parse(res.header('date') ?? '');
      if (Number.isFinite(serverNow)) this.offsetMs = serverNow - localNow;
      const rl = readRateLimit(res, localNow);
      if (rl) this.lastRateLimit = rl;

      if (res.status === 429) {
        failures++;
        // A reset Okta itself says has passed (or no headers at all): back off, never retry at once.
        const wait = (rl ? resetWait(rl, this.clock.now().getTime(), this.random) : null) ?? Math.max(1000, this.backoffMs(failures));
        if (wait > this.config.maxRateLimitWaitMs || failures > this.config.maxRetries) {
          throw new PollError(
            `Okta rate limit reached (E0000047) and the reset is ${formatDuration(wait)} away; the next tick resumes from the cursor`,
            'rate-limited',
            429,
            'E0000047',
          );
        }
        this.logger.warn('Okta rate limit hit; waiting for the reset', { waitMs: wait });
        await this.sleep(wait, signal);
        // Waited for the reset: the numbers of the 429 no longer describe the bucket.
        this.lastRateLimit = null;
        continue;
      }
      if (res.status >= 500) {
        failures++;
        const err = oktaErrorOf(res.body);
        await this.backoffOrFail(failures, `Okta answered HTTP ${res.status}${err ? ` ${err.errorCode}` : ''}`, signal, res.status, err?.errorCode);
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        const err = oktaErrorOf(res.body);
        const what =
          res.status === 401
            ? 'Okta rejected the credentials (401' + (err ? ` ${err.errorCode}` : '') + '): check OKTA_API_TOKEN or the service app settings'
            : 'Okta denied access to the System Log (403' + (err ? ` ${err.errorCode}` : '') + '): the token\'s admin or the app needs okta.logs.read / a read-only admin role';
        throw new PollError(what, 'auth', res.status, err?.errorCode);
      }
      if (res.status < 200 || res.status >= 300) {
        const err = oktaErrorOf(res.body);
        throw new PollError(
          `Okta rejected the System Log request (HTTP ${res.status}${err ? ` ${err.errorCode}: ${err.errorSummary.slice(0, 200)}` : ''})`,
          'rejected',
          res.status,
          err?.errorCode,
        );
      }
      if (!Array.isArray(res.body)) {
        failures++;
        await this.backoffOrFail(failures, 'Okta answered with something that is not a list of events', signal, res.status);
        continue;
      }
      const events: OktaLogEvent[] = [];
      const unusable: unknown[] = [];
      for (const item of res.body as unknown[]) {
        if (isLogEvent(item)) events.push(item);
        else unusable.push(item);
      }
      if (unusable.length > 0) this.logger.error('Okta returned entries without a usable uuid, published or eventType; they are stored and alerted as unreadable events', { malformed: unusable.length });
      const next = findLink(res.links, 'next');
      let nextUrl: string | null = null;
      if (next !== null) {
        const resolved = new URL(next, url);
        if (resolved.origin !== this.http.orgUrl) {
          throw new PollError(`Okta's next link points to ${resolved.origin}, not to the org URL ${this.http.orgUrl}; refusing to follow it`, 'refused-origin');
        }
        nextUrl = resolved.href;
      }
      return { events, unusable, nextUrl, rateLimit: rl, requests: counter.requests };
    }
  }

  private async waitForHeadroom(signal?: AbortSignal): Promise<void> {
    const wait = headroomWait(this.lastRateLimit, this.config.rateLimitHeadroom, this.clock.now().getTime(), this.random);
    if (wait <= 0) return;
    const bounded = Math.min(wait, this.config.maxRateLimitWaitMs);
    this.logger.info('pausing to leave rate-limit headroom for other integrations', {
      remaining: this.lastRateLimit?.remaining,
      limit: this.lastRateLimit?.limit,
      waitMs: bounded,
    });
    await this.sleep(bounded, signal);
    // The bucket has been refilled (or we waited as long as allowed): forget the old numbers.
    this.lastRateLimit = null;
  }

  private backoffMs(failures: number): number {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  private async backoffOrFail(failures: number, reason: string, signal: AbortSignal | undefined, status?: number, errorCode?: string): Promise<void> {
    if (failures > this.config.maxRetries) {
      throw new PollError(`${reason}; gave up after ${failures} attempts`, 'unavailable', status, errorCode);
    }
    const wait = this.backoffMs(failures);
    this.logger.warn('Okta request failed; retrying', { reason, attempt: failures, waitMs: wait });
    await this.sleep(wait, signal);
  }

  private async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await this.clock.sleep(ms, signal);
    if (signal?.aborted) throw new PollError('stopped while waiting to retry', 'aborted');
  }
}
