import type { Clock } from '../clock';
import type { DeliveryConfig } from '../config';
import type { Logger } from '../logger';
import { redact } from '../logger';
import type { Store } from '../store/store';
import { toDeliveryError, type Notifier } from './notifier';

/** What one dispatcher pass did. */
export interface DispatchResult {
  sent: number;
  retried: number;
  failed: number;
}

/**
 * Delivers the outbox: every pending, due delivery row goes to its notifier; success marks it sent,
 * a retryable error schedules another attempt, a permanent one (or the last attempt) marks it failed.
 * (Spine version; the notifier issue refines backoff, Retry-After and pacing.)
 */
export class Dispatcher {
  private running: Promise<DispatchResult> | null = null;

  constructor(
    private readonly store: Store,
    private readonly notifiers: Notifier[],
    private readonly config: DeliveryConfig,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** One pass over the due deliveries; concurrent calls share the pass in progress. */
  runOnce(): Promise<DispatchResult> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async pass(): Promise<DispatchResult> {
    const result: DispatchResult = { sent: 0, retried: 0, failed: 0 };
    const byName = new Map(this.notifiers.map((n) => [n.name, n]));
    for (;;) {
      const due = this.store.dueDeliveries(this.clock.now(), 100, [...byName.keys()]);
      if (due.length === 0) return result;
      for (const d of due) {
        const notifier = byName.get(d.notifier)!;
        try {
          await notifier.send(d.notification);
          this.store.markSent(d.id, this.clock.now());
          result.sent++;
        } catch (err) {
          const e = toDeliveryError(err);
          const now = this.clock.now();
          const message = redact(e.message).slice(0, 500);
          const attempts = d.attempts + 1;
          if (!e.retryable || attempts >= this.config.maxAttempts || now.getTime() - Date.parse(d.createdAt) >= this.config.maxAgeMs) {
            this.store.markFailed(d.id, now, message);
            result.failed++;
            this.logger.error('delivery failed for good', { notifier: d.notifier, delivery: d.id, attempts, error: message });
          } else {
            const backoff = Math.min(30 * 60_000, 5000 * 2 ** (attempts - 1));
            const wait = Math.max(e.retryAfterMs ?? 0, backoff / 2 + Math.random() * (backoff / 2));
            this.store.markRetry(d.id, now, new Date(now.getTime() + wait), message);
            result.retried++;
            this.logger.warn('delivery failed, will retry', { notifier: d.notifier, delivery: d.id, attempts, error: message });
          }
        }
      }
    }
  }
}
