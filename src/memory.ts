import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Pages of this many events or more are followed by a full garbage collection (by SystemLogReader,
 * before it reads the next page).
 *
 * A page of 1,000 events leaves about 10 MB of garbage (the response body, parsed events, alert
 * JSON), and everything a page allocates survives the young generation while the page is processed,
 * so V8 promotes it and leaves it in the old generation until the heap has grown a lot: a 100,000-
 * event catch-up then sat at twice the memory of one page. One full collection after a large page
 * costs a few milliseconds against the hundreds the page took; idle ticks (empty pages) never pay it.
 */
export const COLLECT_AFTER_EVENTS = 200;

let collect: (() => void) | null | undefined;

/** Runs a full garbage collection when the runtime allows it; otherwise does nothing. */
export function collectGarbage(): void {
  if (collect === undefined) collect = findGc();
  collect?.();
}

function findGc(): (() => void) | null {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    // npm start and the systemd unit pass --expose-gc. Without it (node dist/src/cli.js run by hand),
    // setting the flag now makes `gc` available in a new context; Node documents run-time flag
    // changes as unsupported, so this is only the fallback.
    v8.setFlagsFromString('--expose-gc');
    const fn = vm.runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as () => void) : null;
  } catch {
    return null;
  }
}
