import type { Clock } from '../clock';
import type { DeliveryReceipt, Notification } from '../detect/alert';
import type { DeliveryConfig } from '../config';
import type { Logger } from '../logger';
import { redact } from '../logger';
import type { DueDelivery, Store } from '../store/store';
import { DELIVERY_CLAIM_MARGIN_MS, NOTIFY_TIMEOUT_MAX_MS } from './config';
import { afterDeadline } from './http';
import { notificationId } from './facts';
import { DeliveryError, toDeliveryError, type Notifier } from './notifier';
import { bound } from './sanitize';

/** What one dispatcher pass did. */
export interface DispatchResult {
  sent: number;
  retried: number;
  failed: number;
}

/** Tuning that tests (and only tests, usually) change. */
export interface DispatcherOptions {
  /** Random source for jitter, in [0, 1). */
  random?: () => number;
  /** Hard limit on one send, on top of each notifier's own NOTIFY_TIMEOUT (default 2 minutes). */
  sendTimeoutMs?: number;
  /** Rows read per query (default 50). */
  batchSize?: number;
}

/** First retry after about 30 s, doubling, at most 4 h apart (before jitter). */
// Waits grow 1m, 3m, 9m, 27m, 81m, 4h, then 12h: with the default 10 attempts a delivery keeps
// trying for about a day and a half (jitter included), close to the default DELIVERY_MAX_AGE of 48h,
// so an SMTP or Slack outage of a day loses nothing.
export const BACKOFF_BASE_MS = 60_000;
export const BACKOFF_FACTOR = 3;
export const BACKOFF_MAX_MS = 12 * 3600_000;
/** Longest pause of a whole notifier after a retryable failure without Retry-After. */
export const LANE_PAUSE_MAX_MS = 60_000;
/** Waits between tries to record a send the destination accepted: 100 ms doubling, at most 2 s. */
export const RECORD_RETRY_MAX_MS = 2000;
/** After stop(), how long an unrecorded send keeps stop() waiting before it gives up and says so. */
export const RECORD_STOP_GRACE_MS = 30_000;

/**
 * Deliveries of this process that a destination accepted but that are not yet recorded as sent,
 * keyed by database file and row id. Module-wide, so that no dispatcher of this process (there is
 * normally one) hands such a row to another attempt; the claim in SQLite keeps other processes off.
 */
const SENT_UNRECORDED = new Set<string>();

/** The org name of a single-org install (src/orgs/runtime.ts's DEFAULT_ORG). */
const DEFAULT_ORG_NAME = 'default';

/** How many sends a notifier may start back to back (at least 1). */
function burstOf(n: Notifier): number {
  return Math.max(1, Math.floor(n.burst ?? 1));
}

/** The wait before try `n + 1` to record a send. */
export function recordRetryDelayMs(n: number): number {
  return Math.min(RECORD_RETRY_MAX_MS, 100 * 2 ** Math.min(n, 10));
}

/**
 * The wait before attempt `attempts + 1`: the server's Retry-After when it gave one (at least 1 s),
 * else exponential backoff with "equal jitter" (between half and all of base * 3^(attempts-1), capped),
 * so that many deliveries failing together do not retry in lockstep.
 */
export function retryDelayMs(attempts: number, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) return Math.max(1000, retryAfterMs);
  const exp = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * BACKOFF_FACTOR ** Math.max(0, Math.min(attempts - 1, 30)));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/**
 * One notifier's sequential queue: it reads that notifier's due rows (of every org) oldest first.
 * Queues run in parallel, so a slow notifier delays only itself.
 */
interface Queue {
  name: string;
  /** Per org, that org's instance of the notifier (its routing); one entry keyed null in a single-org install. */
  lanes: Map<string | null, Lane>;
  /** Where a row of no configured org goes: the single org's lane, or the first org's. */
  fallback: Lane;
  running: Promise<void> | null;
  /** Someone asked for a pass while one was running: run once more when it ends. */
  again: boolean;
}

/** One org's instance of a notifier: its own pacing and pause, so one org's broken destination pauses only its rows. */
interface Lane {
  /** What log lines about this lane add: `{ org }` with ORGS_FILE, nothing in a single-org install. */
  tag: { org?: string };
  notifier: Notifier;
  /** After a retryable failure the notifier is not tried again before this (ms since epoch). */
  pausedUntil: number;
  /**
   * Pacing as a token bucket: sends the lane may start now (up to the notifier's `burst`), earned
   * at one per `minIntervalMs`, as of `creditAt` (ms since epoch).
   */
  credit: number;
  creditAt: number;
}

/** The org a notification belongs to (the name alerts, summaries and follow-ups carry); null in a single-org install. */
export function notificationOrg(n: Notification): string | null {
  const org = n.kind === 'alert' ? n.alert.org : n.kind === 'summary' ? n.summary.org : (n.followup.org ?? n.alert.org);
  return typeof org?.name === 'string' ? org.name : null;
}

/**
 * Delivers the outbox. Each enabled notifier has its own lane that takes its due rows oldest first
 * and sends them one at a time, paced by the notifier's `minIntervalMs`. Success marks the row sent;
 * a retryable error schedules the row again (backoff or Retry-After) and pauses that lane (for the
 * Retry-After, else at most a minute),
 * so a notifier that is down is probed, not hammered; a permanent error, DELIVERY_MAX_ATTEMPTS or
 * DELIVERY_MAX_AGE marks the row failed with one error log line.
 *
 * At-least-once: a row is marked sent only after the destination accepted it. When that record
 * fails (database locked past the busy timeout, disk full, I/O error) it is retried in-process
 * until it lands, and meanwhile the row is never attempted again: not by this process (it is
 * skipped), not by another (its claim names this live process). A send that passes its deadline is
 * aborted, so it cannot be accepted after it was scheduled for a retry. What remains: this
 * process dies between a send and its record, and the row goes out again once its claim ends.
 */
export class Dispatcher {
  private readonly queues: Queue[];
  private readonly totals: DispatchResult = { sent: 0, retried: 0, failed: 0 };
  private readonly random: () => number;
  private readonly sendTimeoutMs: number;
  private readonly batchSize: number;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private stoppedAt = 0;
  private abort = new AbortController();

  /**
   * `notifiers`: the enabled notifiers of a single-org install, or per org name that org's own
   * instances (its routing): a delivery is sent by the instance of its alert's org.
   */
  constructor(
    private readonly store: Store,
    notifiers: Notifier[] | ReadonlyMap<string, readonly Notifier[]>,
    private readonly config: DeliveryConfig,
    private readonly logger: Logger,
    private readonly clock: Clock,
    opts: DispatcherOptions = {},
  ) {
    // A plain list is the single org's (keyed null: log lines without an org, every row goes to it).
    const groups: Array<[string | null, readonly Notifier[]]> = Array.isArray(notifiers) ? [[null, notifiers]] : [...(notifiers as ReadonlyMap<string, readonly Notifier[]>)];
    const byName = new Map<string, Map<string | null, Lane>>();
    for (const [org, list] of groups) {
      const names = new Set<string>();
      for (const n of list) {
        if (names.has(n.name)) throw new Error(`notifier ${n.name} given to the dispatcher twice`);
        names.add(n.name);
        let lanes = byName.get(n.name);
        if (!lanes) byName.set(n.name, (lanes = new Map()));
        lanes.set(org, { tag: org === null ? {} : { org }, notifier: n, pausedUntil: 0, credit: burstOf(n), creditAt: clock.now().getTime() });
      }
    }
    this.queues = [...byName].map(([name, lanes]) => ({ name, lanes, fallback: lanes.get(null) ?? lanes.get(DEFAULT_ORG_NAME) ?? [...lanes.values()][0]!, running: null, again: false }));
    this.random = opts.random ?? Math.random;
    this.sendTimeoutMs = opts.sendTimeoutMs ?? NOTIFY_TIMEOUT_MAX_MS;
    this.batchSize = opts.batchSize ?? 50;
  }

  /** Runs a pass every DELIVERY_INTERVAL between ticks (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    this.stopping = false;
    this.abort = new AbortController();
    void this.warnAboutOrphans();
    const schedule = (): void => {
      this.timer = setTimeout(() => {
        this.runOnce()
          .catch((err: unknown) => this.logger.error('delivery pass failed', { error: redact(err instanceof Error ? err.message : String(err)) }))
          .finally(() => {
            if (!this.stopping && this.timer) schedule();
          });
      }, this.config.intervalMs);
      this.timer.unref();
    };
    schedule();
  }

  /**
   * Stops the timer and pacing waits, lets every send in flight finish (or time out) and records
   * it, then resolves. No new send starts after stop() is called. A record that keeps failing holds
   * stop() for at most RECORD_STOP_GRACE_MS (then an error line names the rows).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stoppedAt = this.clock.now().getTime();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort.abort();
    await Promise.all(this.queues.map((q) => q.running?.catch(() => undefined)));
  }

  /**
   * Delivers every due row of every lane. A lane already busy finishes its current pass and then
   * looks again, so rows queued meanwhile are not left for the next timer. Resolves when all lanes
   * are idle; the counts are what was done meanwhile (by this call or one overlapping it).
   */
  async runOnce(): Promise<DispatchResult> {
    const before = { ...this.totals };
    if (!this.stopping) await Promise.all(this.queues.map((q) => this.kick(q)));
    return { sent: this.totals.sent - before.sent, retried: this.totals.retried - before.retried, failed: this.totals.failed - before.failed };
  }

  private kick(queue: Queue): Promise<void> {
    if (queue.running) {
      queue.again = true;
      return queue.running;
    }
    queue.running = (async () => {
      do {
        queue.again = false;
        try {
          await this.drain(queue);
        } catch (err) {
          // A store error (disk full, locked database): log it; the rows stay pending for the next pass.
          this.logger.error('delivery pass failed', { notifier: queue.name, error: redact(err instanceof Error ? err.message : String(err)) });
          return;
        }
      } while (queue.again && !this.stopping);
    })().finally(() => {
      queue.running = null;
    });
    return queue.running;
  }

  /** The lane (org instance) that sends a row: its org's, or the fallback for a row of no configured org. */
  private laneFor(queue: Queue, d: DueDelivery): Lane {
    if (queue.lanes.has(null)) return queue.fallback;
    return queue.lanes.get(notificationOrg(d.notification) ?? DEFAULT_ORG_NAME) ?? queue.fallback;
  }

  private async drain(queue: Queue): Promise<void> {
    const tried = new Set<number>();
    const lanes = [...queue.lanes.values()];
    while (!this.stopping) {
      const now = this.clock.now().getTime();
      // Every org's instance paused: nothing to do until the first pause ends.
      if (lanes.every((l) => now < l.pausedUntil)) return;
      // With ORGS_FILE only the orgs this process has destinations for: another org's alert must
      // never go out through the fallback lane (the first org's Slack channel, mail, webhook).
      const orgs = queue.lanes.has(null) ? undefined : [...queue.lanes.keys()].filter((o): o is string => o !== null);
      const due = (await this.store.dueDeliveries(this.clock.now(), this.batchSize, [queue.name], orgs)).filter(
        (d) => !tried.has(d.id) && !SENT_UNRECORDED.has(this.unrecordedKey(d.id)),
      );
      if (due.length === 0) return;
      for (const d of due) {
        tried.add(d.id);
        const lane = this.laneFor(queue, d);
        // A paused org's rows wait; the other orgs' rows go on.
        if (this.clock.now().getTime() < lane.pausedUntil) continue;
        await this.pace(lane);
        if (this.stopping) return;
        const outcome = await this.attempt(lane, d);
        if (outcome === 'paused' && lanes.every((l) => this.clock.now().getTime() < l.pausedUntil)) return;
      }
    }
  }

  /** Refills the lane's credit for the time since it was last counted. */
  private refill(lane: Lane): void {
    const gap = lane.notifier.minIntervalMs ?? 0;
    const now = this.clock.now().getTime();
    if (gap > 0) lane.credit = Math.min(burstOf(lane.notifier), lane.credit + Math.max(0, now - lane.creditAt) / gap);
    lane.creditAt = now;
  }

  /** Waits until the lane may send (a whole unit of credit); the send itself spends it. */
  private async pace(lane: Lane): Promise<void> {
    const gap = lane.notifier.minIntervalMs ?? 0;
    if (gap <= 0) return;
    this.refill(lane);
    const wait = Math.ceil((1 - lane.credit) * gap);
    if (wait > 0) await this.clock.sleep(wait, this.abort.signal);
  }

  private async attempt(lane: Lane, d: DueDelivery): Promise<'sent' | 'failed' | 'paused' | 'taken'> {
    const name = lane.notifier.name;
    // Another process on the same database (a one-shot `poll` or `backfill` next to the daemon)
    // may be delivering the same rows: only the one that claims a row sends it.
    if (!(await this.store.claimDelivery(d.id, this.clock.now(), this.sendTimeoutMs + DELIVERY_CLAIM_MARGIN_MS))) return 'taken';
    if ((lane.notifier.minIntervalMs ?? 0) > 0) {
      this.refill(lane);
      lane.credit = Math.max(0, lane.credit - 1);
    }
    let receipt: DeliveryReceipt | null = null;
    try {
      receipt = (await this.withDeadline((signal) => lane.notifier.send(d.notification, signal))) ?? null;
    } catch (err) {
      return this.recordFailure(lane, d, toDeliveryError(err));
    }
    await this.recordSent(lane, d, receipt);
    this.totals.sent++;
    if (d.attempts > 0) this.logger.info('delivered after retrying', { ...lane.tag, notifier: name, delivery: d.id, id: notificationId(d.notification), attempts: d.attempts + 1 });
    return 'sent';
  }

  private async recordFailure(lane: Lane, d: DueDelivery, e: DeliveryError): Promise<'failed' | 'paused'> {
    const name = lane.notifier.name;
    const now = this.clock.now();
    const message = bound(redact(e.message), 500);
    const attempts = d.attempts + 1;
    const ageMs = now.getTime() - Date.parse(d.createdAt);
    const deadReason = !e.retryable
      ? 'the error is permanent'
      : attempts >= this.config.maxAttempts
        ? `DELIVERY_MAX_ATTEMPTS (${this.config.maxAttempts}) reached`
        : ageMs >= this.config.maxAgeMs
          ? 'DELIVERY_MAX_AGE reached'
          : null;
    const wait = retryDelayMs(attempts, e.retryAfterMs, this.random);
    // The lane pauses for the server's Retry-After, else briefly: long enough not to hammer a
    // destination that is down, short enough that new alerts go out soon after it is back (a row
    // deep into its own backoff must not hold the others for hours).
    if (e.retryable) lane.pausedUntil = now.getTime() + (e.retryAfterMs !== undefined ? wait : Math.min(wait, LANE_PAUSE_MAX_MS));
    if (deadReason) {
      await this.store.markFailed(d.id, now, message);
      this.totals.failed++;
      this.logger.error('delivery failed for good', {
        ...lane.tag,
        notifier: name,
        delivery: d.id,
        id: notificationId(d.notification),
        attempts,
        reason: deadReason,
        error: message,
        hint: `fix the cause, then run: okta-token-watch retry-failed --notifier ${name}`,
      });
      return e.retryable ? 'paused' : 'failed';
    }
    const next = new Date(now.getTime() + wait);
    await this.store.markRetry(d.id, now, next, message);
    this.totals.retried++;
    this.logger.warn('delivery failed, will retry', { ...lane.tag, notifier: name, delivery: d.id, id: notificationId(d.notification), attempts, nextAttemptAt: next.toISOString(), error: message });
    return 'paused';
  }

  /**
   * Runs one send with the dispatcher's hard limit. When the limit passes the send is aborted
   * (the notifier closes its connection) before the attempt counts as failed: a request left
   * running could still be accepted after its row was scheduled for a retry, a duplicate.
   */
  private async withDeadline<T>(send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    let cancel: (() => void) | undefined;
    const deadline = new Promise<never>((_, reject) => {
      cancel = afterDeadline(this.sendTimeoutMs, () => {
        ac.abort();
        reject(new DeliveryError(`no answer within ${Math.round(this.sendTimeoutMs / 1000)}s, request aborted`, true));
      });
    });
    deadline.catch(() => undefined);
    const sending = send(ac.signal);
    try {
      return await Promise.race([sending, deadline]);
    } finally {
      cancel?.();
      sending.catch(() => undefined);
    }
  }

  private unrecordedKey(id: number): string {
    return `${this.store.db.label}#${id}`;
  }

  /**
   * Marks the row sent. The destination already has the message, so a failed record is never
   * allowed to become a resend: it is retried with a short, bounded backoff for as long as the
   * process lives (after stop(), for RECORD_STOP_GRACE_MS), and the row stays out of every other
   * attempt meanwhile. Every try is a write, and so is every claim by another process, so while
   * the database refuses writes nobody else can take the row either.
   */
  private async recordSent(lane: Lane, d: DueDelivery, receipt: DeliveryReceipt | null): Promise<void> {
    const key = this.unrecordedKey(d.id);
    for (let n = 0; ; n++) {
      try {
        await this.store.markSent(d.id, this.clock.now(), receipt);
        if (n > 0) {
          SENT_UNRECORDED.delete(key);
          this.logger.info('recorded a delivery after retrying the record', { ...lane.tag, notifier: lane.notifier.name, delivery: d.id, id: notificationId(d.notification), tries: n + 1 });
        }
        return;
      } catch (err) {
        const error = redact(err instanceof Error ? err.message : String(err));
        if (n === 0) {
          SENT_UNRECORDED.add(key);
          this.logger.warn('delivered, but recording it failed; retrying the record, the row will not be sent again meanwhile', {
            ...lane.tag,
            notifier: lane.notifier.name,
            delivery: d.id,
            id: notificationId(d.notification),
            error,
          });
        }
        if (this.stopping && this.clock.now().getTime() - this.stoppedAt >= RECORD_STOP_GRACE_MS) {
          this.logger.error('stopping with a delivery that was sent but could not be recorded: it will be sent again after the restart', {
            ...lane.tag,
            notifier: lane.notifier.name,
            delivery: d.id,
            id: notificationId(d.notification),
            tries: n + 1,
            error,
          });
          return;
        }
        await this.clock.sleep(recordRetryDelayMs(n));
      }
    }
  }

  /** Pending rows for notifiers that are not enabled are never sent; say so once at start. */
  private async warnAboutOrphans(): Promise<void> {
    try {
      const enabled = new Set(this.queues.map((q) => q.name));
      const orphans = (await this.store.status(0)).deliveries.filter((d) => d.pending > 0 && !enabled.has(d.notifier));
      for (const o of orphans) {
        this.logger.warn('pending deliveries for a notifier that is not enabled stay queued until it is enabled again', { notifier: o.notifier, pending: o.pending });
      }
      // With ORGS_FILE a row is sent only by a process that knows its org (its destinations): rows
      // of an org missing from this process's file wait for a replica whose file lists it.
      if (this.queues.length > 0 && !this.queues.some((q) => q.lanes.has(null))) {
        const known = new Set(this.queues.flatMap((q) => [...q.lanes.keys()]));
        const unknown = new Map<string, number>();
        for (const r of await this.store.outboxCounts({ status: 'pending' })) if (!known.has(r.org)) unknown.set(r.org, (unknown.get(r.org) ?? 0) + r.n);
        for (const [org, pending] of unknown) {
          this.logger.warn('pending deliveries of an org this process does not watch stay queued until a replica whose ORGS_FILE lists that org runs', { org, pending });
        }
      }
    } catch {
      /* status is informational */
    }
  }
}
