/**
 * What the benchmark's parent (bench.ts) and its child processes (contender.ts) exchange.
 * Each contender runs in its own child process so that its RSS and CPU time are its own; the
 * fake Okta runs in the parent, which counts the System Log requests it receives.
 */

/** Which implementation a child runs. */
export type Contender = 'ours' | 'baseline';

/** One measurement a child performs. */
export type Scenario =
  | { kind: 'idle'; ticks: number; rssAt: number[] }
  | { kind: 'catchup'; events: number; outageMs: number }
  | { kind: 'store'; events: number };

/** The child's job, passed as argv[2] (JSON). */
export interface Job {
  contender: Contender;
  scenario: Scenario;
  orgUrl: string;
  token: string;
  dbPath: string;
  lookbackMs: number;
  /** Baseline only: page size passed to listLogEvents (undefined = the README's call, Okta's default 100). */
  baselineLimit?: number;
}

/** Child -> parent calls (answered by a Reply with the same id). */
export type Call =
  | { type: 'call'; id: number; op: 'count' }
  | { type: 'call'; id: number; op: 'inject' };

export interface Reply {
  type: 'reply';
  id: number;
  /** For 'count': System Log requests the fake has received so far; for 'inject': first and last event number. */
  value: number | { first: number; last: number };
}

/** Child -> parent, last message. */
export interface Done {
  type: 'done';
  result: Record<string, unknown>;
}

/** Child -> parent while a long step runs, so a contender stopped at the time limit still reports its memory. */
export interface Progress {
  type: 'progress';
  peakRssMb: number;
}

export interface Failed {
  type: 'failed';
  error: string;
}

export const MB = 1024 * 1024;

/** Samples RSS on a timer (the event loop is free between pages) and keeps the peak. */
export class RssSampler {
  peak = 0;
  private timer: NodeJS.Timeout | null = null;
  start(everyMs = 10): void {
    this.peak = process.memoryUsage.rss();
    this.timer = setInterval(() => {
      const r = process.memoryUsage.rss();
      if (r > this.peak) this.peak = r;
    }, everyMs);
  }
  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const r = process.memoryUsage.rss();
    if (r > this.peak) this.peak = r;
    return this.peak;
  }
}

/** A stopwatch for wall time and this process's CPU time (user + system). */
export class Stopwatch {
  private t0 = process.hrtime.bigint();
  private c0 = process.cpuUsage();
  restart(): void {
    this.t0 = process.hrtime.bigint();
    this.c0 = process.cpuUsage();
  }
  read(): { wallMs: number; cpuMs: number } {
    const wallMs = Number(process.hrtime.bigint() - this.t0) / 1e6;
    const c = process.cpuUsage(this.c0);
    return { wallMs, cpuMs: (c.user + c.system) / 1000 };
  }
}

export const FILTER = 'eventType eq "system.api_token.create"';

/** Rounds for display and JSON. */
export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
