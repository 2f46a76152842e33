import type { DeliveryReceipt, Notification } from '../detect/alert';

/**
 * A destination for alerts. `send` only transports: it resolves when the destination has accepted
 * the notification, or throws a DeliveryError saying whether trying again could help. Attempts,
 * backoff, pacing and bookkeeping belong to the outbox dispatcher, never to a notifier.
 */
export interface Notifier {
  /** Unique name, as used in NOTIFIERS and in the deliveries table. */
  readonly name: string;
  /**
   * Smallest gap between two sends, which the dispatcher keeps (Slack allows about one message
   * per second per webhook or channel). Absent: no pacing.
   */
  readonly minIntervalMs?: number;
  /**
   * Sends that may go out back to back after a quiet spell before `minIntervalMs` applies (Slack
   * tolerates short bursts over its rate). Default 1: every send keeps the gap.
   */
  readonly burst?: number;
  /**
   * `signal` aborts the send (the dispatcher's deadline, or shutdown): the notifier must then close
   * its connection at once and reject, so no request outlives the attempt that gave up on it.
   * May resolve with what the destination answered that a later follow-up needs to reply to this
   * message (Slack's channel and ts); the dispatcher stores it with the delivery.
   */
  send(notification: Notification, signal?: AbortSignal): Promise<void | DeliveryReceipt>;
  /** Optional check of the settings and reachability, used by `check`; throws a DeliveryError. */
  check?(): Promise<void>;
  /** Optional: release sockets and timers. */
  close?(): Promise<void>;
}

/** A failed delivery attempt, classified. `message` must never contain a secret (URL, token, password). */
export class DeliveryError extends Error {
  constructor(
    message: string,
    /** True for timeouts, 429, 5xx, SMTP 4xx and network errors. */
    readonly retryable: boolean,
    /** Server-requested wait before the next attempt (Retry-After), if any. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** Turns anything thrown by a notifier into a DeliveryError; unknown errors are retryable. */
export function toDeliveryError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DeliveryError(message, true);
}

/**
 * Reads a Retry-After header: delta-seconds or an HTTP date. Returns milliseconds from `now`, or
 * undefined when absent or unreadable. Bounded to 6 hours so a broken server cannot park a delivery.
 */
export function parseRetryAfter(value: unknown, now: Date = new Date()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  const s = String(raw).trim();
  let ms: number;
  if (/^\d+$/.test(s)) ms = Number(s) * 1000;
  else {
    const t = Date.parse(s);
    if (Number.isNaN(t)) return undefined;
    ms = t - now.getTime();
  }
  return Math.min(Math.max(0, ms), 6 * 3600_000);
}
