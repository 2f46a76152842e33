import type { OktaResponse } from './http';

/** The rate-limit headers of one response. */
export interface RateLimit {
  limit: number;
  remaining: number;
  /** When the bucket refills, epoch milliseconds, by Okta's clock. */
  resetAt: number;
  /**
   * How long after the response the bucket refills, by Okta's own clock: X-Rate-Limit-Reset minus
   * the response's Date header (the local clock only when Date is missing or unreadable). Negative
   * when Okta names a reset that has already passed.
   */
  resetInMs: number;
  /** The local clock when the response was read: later waits subtract what has elapsed since. */
  receivedAt: number;
}

/** Okta's rate-limit window: a reset is never further than this from the response that names it. */
const RATE_LIMIT_WINDOW_MS = 60_000;
/** Added to every wait for a reset: the headers have whole-second resolution. */
const RESET_MARGIN_MS = 1000;
/** Spread of the random part of a wait, so integrations that share the bucket do not return together. */
const RESET_JITTER_MS = 1000;

/**
 * Reads X-Rate-Limit-Limit/-Remaining/-Reset; null when any is missing or malformed. `localNow`
 * is the local clock at the response; the distance to the reset comes from Okta's Date header, so
 * a local clock minutes off Okta's neither hammers Okta nor gives up on an ordinary window.
 */
export function readRateLimit(res: OktaResponse, localNow: number): RateLimit | null {
  const limitRaw = res.header('x-rate-limit-limit');
  const remainingRaw = res.header('x-rate-limit-remaining');
  if (limitRaw === null || remainingRaw === null) return null;
  const limit = Number(limitRaw);
  const remaining = Number(remainingRaw);
  // With several values (a proxy joined duplicates), the latest reset is the safe one.
  const resetRaw = res.header('x-rate-limit-reset');
  const reset = resetRaw ? Math.max(...resetRaw.split(',').map((s) => Number(s.trim())).filter(Number.isFinite)) : NaN;
  if (!Number.isFinite(limit) || !Number.isFinite(remaining) || !Number.isFinite(reset) || limit <= 0) return null;
  const serverNow = Date.parse(res.header('date') ?? '');
  const resetAt = reset * 1000;
  return { limit, remaining, resetAt, resetInMs: resetAt - (Number.isFinite(serverNow) ? serverNow : localNow), receivedAt: localNow };
}

/**
 * How long to wait for the bucket named in `rl` to refill, measured on Okta's clock and bounded to
 * its window: between 1 and 61 s, plus up to 1 s of jitter. Null when the reset had already passed
 * by Okta's own clock: the caller backs off instead (never a wait of 0).
 */
export function resetWait(rl: RateLimit, localNow: number, random: () => number): number | null {
  if (rl.resetInMs <= 0) return null;
  const left = rl.resetInMs - Math.max(0, localNow - rl.receivedAt);
  return Math.min(Math.max(0, left), RATE_LIMIT_WINDOW_MS) + RESET_MARGIN_MS + Math.round(random() * RESET_JITTER_MS);
}

/**
 * How long to pause before the next request so the org's other integrations keep their share: when
 * less than `headroom` of the limit remains, until the reset (as `resetWait`; at least 1 s when
 * Okta's reset had already passed by its own clock). Zero otherwise, and once the window has run out.
 */
export function headroomWait(rl: RateLimit | null, headroom: number, localNow: number, random: () => number): number {
  if (!rl) return 0;
  if (rl.remaining >= Math.ceil(rl.limit * headroom) && rl.remaining > 0) return 0;
  // The window Okta named has run out since that response: the bucket is full again.
  if (rl.resetInMs > 0 && localNow - rl.receivedAt >= rl.resetInMs) return 0;
  return resetWait(rl, localNow, random) ?? RESET_MARGIN_MS + Math.round(random() * RESET_JITTER_MS);
}

/** Reads Retry-After (seconds or HTTP date) in milliseconds, or null. */
export function retryAfterMs(value: string | null, now: number): number | null {
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const t = Date.parse(value);
  return Number.isFinite(t) ? Math.max(0, t - now) : null;
}
