import type { Logger } from '../logger';

/** One org's tick. It should stop soon after `signal` aborts (the deadline passed, or the daemon stops). */
export type OrgTick = (org: string, signal: AbortSignal) => Promise<unknown>;

/** How one org fared in one slot. */
export type OrgOutcome =
  /** The tick finished. */
  | { org: string; status: 'ok' }
  /** The tick threw or rejected. */
  | { org: string; status: 'failed'; error: unknown }
  /** The deadline passed first: the tick was aborted and its place given to the next org. */
  | { org: string; status: 'timed-out' }
  /** The org's previous tick was still running, so this slot did not start another. */
  | { org: string; status: 'skipped' }
  /** Never started: the slot ended (deadline or stop) before a place was free. */
  | { org: string; status: 'missed' };

/** The timer functions the scheduler uses; tests pass fake ones to move time. */
export interface SchedulerTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: SchedulerTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** The abort reason a tick sees when its slot's deadline passes. */
export class TickDeadlineError extends Error {
  constructor(
    readonly org: string,
    readonly deadlineMs: number,
  ) {
    super(`the tick of org ${org} did not finish within ${deadlineMs} ms`);
    this.name = 'TickDeadlineError';
  }
}

/** Options of {@link OrgScheduler}. */
export interface SchedulerOptions {
  /** ORG_CONCURRENCY: at most this many org ticks run at once (across overlapping slots too). */
  concurrency: number;
  timers?: SchedulerTimers;
  logger?: Logger;
}

/** Options of one slot. */
export interface SlotOptions {
  /** Time from the slot's start by which every tick must be done (the poll interval). */
  deadlineMs: number;
  /** The daemon stopping: running ticks are aborted, queued ones not started. */
  signal?: AbortSignal;
}

/** Times one org was skipped or timed out since start. */
export interface OrgCounts {
  skipped: number;
  timedOut: number;
}

/**
 * Runs one tick per org per slot, at most `concurrency` at once, so that one org's outage, rate
 * limit or slow answers never delay another org's tick.
 *
 * - An org whose previous tick is still running is skipped this slot (not queued behind it): two
 *   ticks of one org never run at once, and the others are not held up.
 * - Every tick gets an AbortSignal. At the slot's deadline running ticks are aborted and their
 *   places freed at once, even if a tick's promise never settles; such an org stays "running"
 *   (and is skipped) until its promise does settle. Orgs still waiting for a place are not started.
 * - `runSlot` resolves by the deadline at the latest, with one outcome per org.
 */
export class OrgScheduler {
  private readonly concurrency: number;
  private readonly timers: SchedulerTimers;
  private readonly logger: Logger | undefined;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Orgs queued or running, until their tick's promise settles. */
  private readonly inFlight = new Set<string>();
  private readonly counts = new Map<string, OrgCounts>();

  constructor(opts: SchedulerOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new Error('OrgScheduler: concurrency must be a whole number of at least 1');
    this.concurrency = opts.concurrency;
    this.timers = opts.timers ?? realTimers;
    this.logger = opts.logger;
  }

  /** True while the org's tick is queued or its promise has not settled (also past its deadline). */
  isRunning(org: string): boolean {
    return this.inFlight.has(org);
  }

  /** The orgs {@link isRunning} says yes to. */
  running(): string[] {
    return [...this.inFlight];
  }

  /** How often the org was skipped or timed out since start. */
  countsFor(org: string): OrgCounts {
    return { ...(this.counts.get(org) ?? { skipped: 0, timedOut: 0 }) };
  }

  /** Runs `tick` for each org (duplicates once); resolves with an outcome per org, in the order given. */
  runSlot(orgs: readonly string[], tick: OrgTick, opts: SlotOptions): Promise<OrgOutcome[]> {
    const order = [...new Set(orgs)];
    const outcomes = new Map<string, OrgOutcome>();
    const queued = new Map<string, () => void>();
    const running = new Map<string, { ac: AbortController; free: () => void }>();
    const { signal } = opts;

    return new Promise<OrgOutcome[]>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done || outcomes.size < order.length) return;
        done = true;
        this.timers.clearTimeout(timer);
        signal?.removeEventListener('abort', onStop);
        resolve(order.map((o) => outcomes.get(o)!));
      };
      const record = (outcome: OrgOutcome): void => {
        if (!outcomes.has(outcome.org)) outcomes.set(outcome.org, outcome);
        finish();
      };
      const dropQueued = (): void => {
        for (const [org, starter] of [...queued]) {
          const i = this.waiting.indexOf(starter);
          if (i >= 0) this.waiting.splice(i, 1);
          queued.delete(org);
          this.inFlight.delete(org);
          record({ org, status: 'missed' });
        }
      };
      const onDeadline = (): void => {
        // Queued orgs first: freeing the running ones' places must not start them.
        dropQueued();
        for (const [org, run] of [...running]) {
          run.ac.abort(new TickDeadlineError(org, opts.deadlineMs));
          this.count(org).timedOut++;
          this.logger?.warn('the org\'s tick did not finish by its deadline: it was aborted and its place given to the next org', { org, deadlineMs: opts.deadlineMs });
          record({ org, status: 'timed-out' });
          run.free();
        }
      };
      const onStop = (): void => {
        dropQueued();
        for (const run of running.values()) run.ac.abort(signal?.reason);
      };

      const start = (org: string): void => {
        queued.delete(org);
        const ac = new AbortController();
        let freed = false;
        const free = (): void => {
          if (freed) return;
          freed = true;
          running.delete(org);
          this.active--;
          this.pump();
        };
        running.set(org, { ac, free });
        let p: Promise<unknown>;
        try {
          p = Promise.resolve(tick(org, ac.signal));
        } catch (err) {
          p = Promise.reject(err);
        }
        p.then(
          (): OrgOutcome => ({ org, status: 'ok' }),
          (error: unknown): OrgOutcome => ({ org, status: 'failed', error }),
        ).then((outcome) => {
          this.inFlight.delete(org);
          if (freed) this.logger?.info('the org\'s tick that passed its deadline has ended', { org, status: outcome.status });
          free();
          record(outcome);
        });
      };

      const timer = this.timers.setTimeout(onDeadline, opts.deadlineMs);
      if (signal?.aborted) {
        for (const org of order) record({ org, status: 'missed' });
        // With no org at all nothing above resolves: a replica holding no lease that is stopped
        // during its first slot must not wait for this forever.
        finish();
        return;
      }
      signal?.addEventListener('abort', onStop, { once: true });
      for (const org of order) {
        if (this.inFlight.has(org)) {
          this.count(org).skipped++;
          this.logger?.warn('the org\'s previous tick is still running: this slot skips it', { org });
          record({ org, status: 'skipped' });
          continue;
        }
        this.inFlight.add(org);
        const starter = (): void => start(org);
        queued.set(org, starter);
        this.waiting.push(starter);
      }
      this.pump();
      finish();
    });
  }

  /** Starts queued ticks while there is room. */
  private pump(): void {
    while (this.active < this.concurrency && this.waiting.length > 0) {
      const starter = this.waiting.shift()!;
      this.active++;
      starter();
    }
  }

  private count(org: string): OrgCounts {
    let c = this.counts.get(org);
    if (!c) this.counts.set(org, (c = { skipped: 0, timedOut: 0 }));
    return c;
  }
}
