import { systemClock } from '../src/clock';

/** Resolves after ms (real time), or at once when the signal aborts. */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> => systemClock.sleep(ms, signal);

/** Polls `cond` every `everyMs` until it holds (true) or `timeoutMs` passes (false). */
export async function until(cond: () => boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(everyMs);
  }
  return true;
}
