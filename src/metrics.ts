import client from 'prom-client';
import type { TickResult } from './ingest/poll';
import type { Store } from './store/store';

/**
 * Prometheus metrics. Counters move as things happen; outbox and cursor figures are read from the
 * database at scrape time, so they are right even after a restart.
 */
export class Metrics {
  readonly registry = new client.Registry();
  /** Figures that other parts own (the schedule, the reader), read at scrape time once they are wired. */
  private pollIntervalSource: (() => number) | null = null;
  private rateLimitSource: (() => { limit: number } | null) | null = null;
  private readonly ticks: client.Counter<'result'>;
  private readonly oktaRequests: client.Counter<'status'>;
  private readonly rateLimitRemaining: client.Gauge;
  private readonly eventsFetched: client.Counter;
  private readonly alertsRaised: client.Counter;
  private readonly suppressed: client.Counter;
  private readonly tickDuration: client.Histogram;

  constructor(store: Store, now: () => Date = () => new Date()) {
    const r = [this.registry];
    this.ticks = new client.Counter({ name: 'otw_ticks_total', help: 'Poll ticks by result.', labelNames: ['result'], registers: r });
    // A series that first appears at 1 is invisible to Prometheus' increase() and rate(): the first
    // failed tick would never fire an alert. Both results exist from the start, at 0.
    for (const result of ['ok', 'failed']) this.ticks.inc({ result }, 0);
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
    // From the database, not this process: after a restart it still says when polling last worked
    // (0 when it never did), so "no successful tick for N intervals" holds across restarts.
    new client.Gauge({
      name: 'otw_last_successful_tick_timestamp_seconds',
      help: 'When the last successful tick finished (epoch seconds; 0 when none has).',
      registers: r,
      collect() {
        const finished = store.lastSuccessfulTick()?.finishedAt;
        const t = finished ? Date.parse(finished) : NaN;
        this.set(Number.isFinite(t) ? t / 1000 : 0);
      },
    });
    const metrics = this;
    new client.Gauge({
      name: 'otw_poll_interval_seconds',
      help: 'Seconds between two scheduled ticks (from POLL_SCHEDULE); alerting rules measure staleness in intervals.',
      registers: r,
      collect() {
        const s = metrics.pollIntervalSource?.();
        if (s !== undefined && Number.isFinite(s) && s > 0) this.set(s);
      },
    });
    new client.Gauge({
      name: 'otw_okta_rate_limit_limit',
      help: 'X-Rate-Limit-Limit of the last System Log response (0 before the first).',
      registers: r,
      collect() {
        const rl = metrics.rateLimitSource?.();
        this.set(rl && Number.isFinite(rl.limit) ? rl.limit : 0);
      },
    });
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

  observeTick(r: TickResult, _finishedAt?: Date): void {
    this.ticks.inc({ result: r.ok ? 'ok' : 'failed' });
    this.eventsFetched.inc(r.events);
    this.alertsRaised.inc(r.newAlerts);
    this.suppressed.inc(r.suppressed);
    this.tickDuration.observe(r.durationMs / 1000);
    if (r.rateLimitRemaining !== null) this.rateLimitRemaining.set(r.rateLimitRemaining);
  }

  /** Where otw_poll_interval_seconds comes from (the daemon's schedule). */
  watchPollInterval(seconds: () => number): void {
    this.pollIntervalSource = seconds;
  }

  /** Where otw_okta_rate_limit_limit comes from (the System Log reader's last response). */
  watchRateLimit(source: () => { limit: number } | null): void {
    this.rateLimitSource = source;
  }

  observeOktaResponse(status: number | string): void {
    this.oktaRequests.inc({ status: String(status) });
  }
}
