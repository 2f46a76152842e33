import type { OktaResponse } from './http';

/** The rate-limit headers of one response. */
export interface RateLimit {
  limit: number;
  remaining: number;
  /** When the bucket refills, epoch milliseconds. */
  resetAt: number;
}

/** Reads X-Rate-Limit-Limit/-Remaining/-Reset; null when any is missing or malformed. */
export function readRateLimit(res: OktaResponse): RateLimit | null {
  const limitRaw = res.header('x-rate-limit-limit');
  const remainingRaw = res.header('x-rate-limit-remaining');
  if (limitRaw === null || remainingRaw === null) return null;
  const limit = Number(limitRaw);
  const remaining = Number(remainingRaw);
  // With several values (a proxy joined duplicates), the latest reset is the safe one.
  const resetRaw = res.header('x-rate-limit-reset');
  const reset = resetRaw ? Math.max(...resetRaw.split(',').map((s) => Number(s.trim())).filter(Number.isFinite)) : NaN;
  if (!Number.isFinite(limit) || !Number.isFinite(remaining) || !Number.isFinite(reset) || limit <= 0) return null;
  return { limit, remaining, resetAt: reset * 1000 };
}

/**
 * How long to wait before the next request so the org's other integrations keep their share:
 * when less than `headroom` of the limit remains, wait for the reset. Zero otherwise.
 */
export function headroomWait(rl: RateLimit | null, headroom: number, now: number): number {
  if (!rl) return 0;
  if (rl.remaining >= Math.ceil(rl.limit * headroom) && rl.remaining > 0) return 0;
  return Math.max(0, rl.resetAt - now);
}

/** Reads Retry-After (seconds or HTTP date) in milliseconds, or null. */
export function retryAfterMs(value: string | null, now: number): number | null {
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const t = Date.parse(value);
  return Number.isFinite(t) ? Math.max(0, t - now) : null;
}
