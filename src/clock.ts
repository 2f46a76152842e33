/**
 * Time, injected everywhere it matters so tests can move it instead of waiting.
 * `sleep` resolves early (without throwing) when the signal aborts.
 */
export interface Clock {
  now(): Date;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** A clock for tests: `sleep` returns at once and moves time forward by the amount asked. */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(private t: number = Date.parse('2026-11-28T12:00:00.000Z')) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(iso: string | Date): void {
    this.t = typeof iso === 'string' ? Date.parse(iso) : iso.getTime();
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += Math.max(0, ms);
    await Promise.resolve();
  }
}
