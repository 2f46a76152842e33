import client from 'prom-client';
import type { TickResult } from './poll-cycle';
import type { Store } from './store/store';

/**
 * Prometheus metrics. Counters move as things happen; outbox and cursor figures are read from the
 * database at scrape time, so they are right even after a restart.
 */
export class Metrics {
  readonly registry = new client.Registry();
  private readonly ticks: client.Counter<'result'>;
  private readonly oktaRequests: client.Counter<'status'>;
  private readonly rateLimitRemaining: client.Gauge;
  private readonly eventsFetched: client.Counter;
  private readonly alertsRaised: client.Counter;
  private readonly suppressed: client.Counter;
  private readonly tickDuration: client.Histogram;
  private readonly lastSuccess: client.Gauge;

  constructor(store: Store, now: () => Date = () => new Date()) {
    const r = [this.registry];
    this.ticks = new client.Counter({ name: 'otw_ticks_total', help: 'Poll ticks by result.', labelNames: ['result'], registers: r });
    this.oktaRequests = new client.Counter({ name: 'otw_okta_requests_total', help: 'Requests to Okta by HTTP status (or error kind).', labelNames: ['status'], registers: r });
    this.rateLimitRemaining = new client.Gauge({ name: 'otw_okta_rate_limit_remaining', help: 'X-Rate-Limit-Remaining of the last Okta response.', registers: r });
    this.eventsFetched = new client.Counter({ name: 'otw_events_fetched_total', help: 'System Log events fetched (including already-seen ones).', registers: r });
    this.alertsRaised = new client.Counter({ name: 'otw_alerts_raised_total', help: 'Alerts raised.', registers: r });
    this.suppressed = new client.Counter({ name: 'otw_alerts_suppressed_total', help: 'Events suppressed by an exception, a maintenance window or ALERT_OUTCOMES.', registers: r });
    this.tickDuration = new client.Histogram({
      name: 'otw_tick_duration_seconds',
      help: 'Duration of poll ticks.',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: r,
    });
    this.lastSuccess = new client.Gauge({ name: 'otw_last_successful_tick_timestamp_seconds', help: 'When the last successful tick finished (epoch seconds).', registers: r });
    new client.Gauge({
      name: 'otw_deliveries',
      help: 'Deliveries by notifier and status (pending, sent, failed).',
      labelNames: ['notifier', 'status'],
      registers: r,
      collect() {
        this.reset();
        for (const d of store.status(0).deliveries) {
          this.set({ notifier: d.notifier, status: 'pending' }, d.pending);
          this.set({ notifier: d.notifier, status: 'sent' }, d.sent);
          this.set({ notifier: d.notifier, status: 'failed' }, d.failed);
        }
      },
    });
    new client.Gauge({
      name: 'otw_outbox_size',
      help: 'Deliveries waiting to be sent.',
      registers: r,
      collect() {
        this.set((store.db.prepare(`SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'`).get() as { n: number }).n);
      },
    });
    new client.Gauge({
      name: 'otw_cursor_age_seconds',
      help: 'Seconds since the cursor last moved (-1 when there is none).',
      registers: r,
      collect() {
        const c = store.getCursor();
        this.set(c ? Math.max(0, (now().getTime() - Date.parse(c.updatedAt)) / 1000) : -1);
      },
    });
    client.collectDefaultMetrics({ register: this.registry, prefix: 'otw_process_' });
  }

  observeTick(r: TickResult, finishedAt: Date): void {
    this.ticks.inc({ result: r.ok ? 'ok' : 'failed' });
    this.eventsFetched.inc(r.events);
    this.alertsRaised.inc(r.newAlerts);
    this.suppressed.inc(r.suppressed);
    this.tickDuration.observe(r.durationMs / 1000);
    if (r.rateLimitRemaining !== null) this.rateLimitRemaining.set(r.rateLimitRemaining);
    if (r.ok) this.lastSuccess.set(finishedAt.getTime() / 1000);
  }

  observeOktaResponse(status: number | string): void {
    this.oktaRequests.inc({ status: String(status) });
  }
}
