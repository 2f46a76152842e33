import type { Notification } from '../detect/alert';

/**
 * A destination for alerts. `send` only transports: it resolves when the destination has accepted
 * the notification, or throws a DeliveryError saying whether trying again could help. Attempts,
 * backoff and bookkeeping belong to the outbox dispatcher, never to a notifier.
 */
export interface Notifier {
  /** Unique name, as used in NOTIFIERS and in the deliveries table. */
  readonly name: string;
  send(notification: Notification): Promise<void>;
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
