import client from 'prom-client';
import type { FollowResult } from './ingest/follow';
import type { TickResult } from './ingest/poll';
import type { Store } from './store/store';

/** Why the push receiver refused a request (a label of otw_hook_requests_rejected_total). */
export const HOOK_REJECT_REASONS = ['unauthorized', 'bad_request', 'too_large', 'not_found', 'method', 'busy', 'timeout', 'commit_failed'] as const;
export type HookRejectReason = (typeof HOOK_REJECT_REASONS)[number];

/**
 * Prometheus metrics. Counters move as things happen; outbox and cursor figures are read from the
 * database at scrape time, so they are right even after a restart.
 */
export class Metrics {
  readonly registry = new client.Registry();
  /** Figures that other parts own (the schedule, the reader), read at scrape time once they are wired. */
  private pollIntervalSource: (() => number) | null = null;
  private rateLimitSource: (() => { limit: number; remaining: number } | null) | null = null;
  /**
   * The limit and remaining of the last System Log response that carried both, kept between
   * scrapes (the reader forgets them after waiting for a reset): one response, so the ratio the
   * rate-limit rule computes is never a remaining from one response over a limit from another.
   */
  private lastRateLimit: { limit: number; remaining: number } | null = null;
  private readonly ticks: client.Counter<'result'>;
  private readonly oktaRequests: client.Counter<'status'>;
  private readonly eventsFetched: client.Counter;
  private readonly alertsRaised: client.Counter;
  private readonly suppressed: client.Counter;
  private readonly tickDuration: client.Histogram;
  private readonly followTicks: client.Counter<'outcome'>;
  private readonly followRequests: client.Counter;
  private readonly hookRejected: client.Counter<'reason'>;
  private readonly hookEvents: client.Counter<'result'>;
  private readonly hookLag: client.Histogram;
  private readonly hookRequestDuration: client.Histogram;
  /** When this process last answered a hook delivery with 2xx (epoch ms), else null. */
  private lastHookDeliveryMs: number | null = null;
  private readonly rejectedCounts: Partial<Record<HookRejectReason, number>> = {};

  constructor(store: Store, now: () => Date = () => new Date()) {
    const r = [this.registry];
    this.ticks = new client.Counter({ name: 'otw_ticks_total', help: 'Poll ticks by result.', labelNames: ['result'], registers: r });
    // A series that first appears at 1 is invisible to Prometheus' increase() and rate(): the first
    // failed tick would never fire an alert. Every result exists from the start, at 0.
    for (const result of ['ok', 'failed', 'interrupted']) this.ticks.inc({ result }, 0);
    this.oktaRequests = new client.Counter({ name: 'otw_okta_requests_total', help: 'Requests to Okta by HTTP status (or error kind).', labelNames: ['status'], registers: r });
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
      async collect() {
        const finished = (await store.lastSuccessfulTick())?.finishedAt;
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
        const rl = metrics.readRateLimit();
        this.set(rl ? rl.limit : 0);
      },
    });
    new client.Gauge({
      name: 'otw_okta_rate_limit_remaining',
      help: 'X-Rate-Limit-Remaining of the same System Log response as otw_okta_rate_limit_limit (no sample before the first).',
      registers: r,
      collect() {
        const rl = metrics.readRateLimit();
        // A 0 before any response would read as "the limit is used up" and fire the rate-limit rule.
        if (rl) this.set(rl.remaining);
        else this.remove();
      },
    });
    new client.Gauge({
      name: 'otw_deliveries',
      help: 'Deliveries by notifier and status (pending, sent, failed).',
      labelNames: ['notifier', 'status'],
      registers: r,
      async collect() {
        // Read before the reset: a scrape never shows the series gone while the database answers.
        const { deliveries } = await store.status(0);
        this.reset();
        for (const d of deliveries) {
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
      async collect() {
        this.set(Number((await store.sql.get<{ n: number }>(`SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'`))?.n ?? 0));
      },
    });
    new client.Gauge({
      name: 'otw_cursor_age_seconds',
      help: 'Seconds since the cursor last moved (-1 when there is none).',
      registers: r,
      async collect() {
        const c = await store.getCursor();
        this.set(c ? Math.max(0, (now().getTime() - Date.parse(c.updatedAt)) / 1000) : -1);
      },
    });
    this.hookRejected = new client.Counter({ name: 'otw_hook_requests_rejected_total', help: 'Event hook requests refused, by reason.', labelNames: ['reason'], registers: r });
    for (const reason of HOOK_REJECT_REASONS) this.hookRejected.inc({ reason }, 0);
    this.hookEvents = new client.Counter({ name: 'otw_hook_events_total', help: 'Events received by push: matched a rule (committed) or ignored (other event types).', labelNames: ['result'], registers: r });
    for (const result of ['matched', 'ignored']) this.hookEvents.inc({ result }, 0);
    this.hookLag = new client.Histogram({
      name: 'otw_hook_event_lag_seconds',
      help: 'From an event\'s published time to its receipt by push.',
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: r,
    });
    this.hookRequestDuration = new client.Histogram({
      name: 'otw_hook_request_duration_seconds',
      help: 'From an event hook POST\'s arrival to its answer (Okta gives up after 3 s).',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 3],
      registers: r,
    });
    new client.Gauge({
      name: 'otw_hook_last_delivery_timestamp_seconds',
      help: 'When the last event hook delivery was committed (epoch seconds; from the database after a restart; 0 when none).',
      registers: r,
      async collect() {
        const t = metrics.lastHookDeliveryMs ?? Date.parse((await store.lastPushReceivedAt()) ?? '');
        this.set(Number.isFinite(t) ? t / 1000 : 0);
      },
    });
    new client.Gauge({
      name: 'otw_events_by_source',
      help: 'Events stored, by the source that saw each first (poll, push, backfill).',
      labelNames: ['source'],
      registers: r,
      async collect() {
        const counts = { poll: 0, push: 0, ...(await store.eventsBySource()) };
        this.reset();
        for (const [source, n] of Object.entries(counts)) this.set({ source }, n);
      },
    });
    this.followTicks = new client.Counter({
      name: 'otw_follow_ticks_total',
      help: 'Follow ticks of watched tokens by outcome (idle: none watched; skipped: rate limit below the headroom; incomplete: a group failed or stopped).',
      labelNames: ['outcome'],
      registers: r,
    });
    for (const outcome of ['idle', 'skipped', 'ok', 'incomplete']) this.followTicks.inc({ outcome }, 0);
    this.followRequests = new client.Counter({ name: 'otw_follow_requests_total', help: 'System Log requests made by follow ticks (retries included).', registers: r });
    new client.Gauge({
      name: 'otw_watched_tokens',
      help: 'Tokens whose watch is open (their activity is followed).',
      registers: r,
      async collect() {
        this.set(Number((await store.sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM token_watches WHERE closed_at IS NULL'))?.n ?? 0));
      },
    });
    client.collectDefaultMetrics({ register: this.registry, prefix: 'otw_process_' });
  }

  observeTick(r: TickResult, _finishedAt?: Date): void {
    // A tick stopped by a signal (a restart during a catch-up) is not a failure: the next resumes.
    this.ticks.inc({ result: r.ok ? 'ok' : r.interrupted ? 'interrupted' : 'failed' });
    this.eventsFetched.inc(r.events);
    this.alertsRaised.inc(r.newAlerts);
    this.suppressed.inc(r.suppressed);
    this.tickDuration.observe(r.durationMs / 1000);
  }

  observeFollowTick(r: FollowResult): void {
    this.followTicks.inc({ outcome: r.outcome });
    this.followRequests.inc(r.requests);
    this.eventsFetched.inc(r.events);
    this.alertsRaised.inc(r.newAlerts);
  }

  private readRateLimit(): { limit: number; remaining: number } | null {
    const rl = this.rateLimitSource?.();
    if (rl && Number.isFinite(rl.limit) && Number.isFinite(rl.remaining) && rl.limit > 0) this.lastRateLimit = { limit: rl.limit, remaining: rl.remaining };
    return this.lastRateLimit;
  }

  /** Where otw_poll_interval_seconds comes from (the daemon's schedule). */
  watchPollInterval(seconds: () => number): void {
    this.pollIntervalSource = seconds;
  }

  /** Where otw_okta_rate_limit_limit and _remaining come from (the System Log reader's last response). */
  watchRateLimit(source: () => { limit: number; remaining: number } | null): void {
    this.rateLimitSource = source;
  }

  /** A hook request refused before or instead of a commit. */
  observeHookRejected(reason: HookRejectReason): void {
    this.hookRejected.inc({ reason });
    this.rejectedCounts[reason] = (this.rejectedCounts[reason] ?? 0) + 1;
  }

  /** A hook delivery committed: events matched and ignored, and each matched event's lag. */
  observeHookDelivery(d: { matched: number; ignored: number; lagsSeconds: number[]; durationSeconds: number; at: Date }): void {
    this.hookEvents.inc({ result: 'matched' }, d.matched);
    this.hookEvents.inc({ result: 'ignored' }, d.ignored);
    for (const s of d.lagsSeconds) this.hookLag.observe(Math.max(0, s));
    this.hookRequestDuration.observe(d.durationSeconds);
    this.lastHookDeliveryMs = d.at.getTime();
  }

  /** Refused hook requests by reason, in this process (for /healthz). */
  hookRejectedCounts(): Record<string, number> {
    return { ...this.rejectedCounts };
  }

  /** When this process last committed a hook delivery, or null. */
  lastHookDelivery(): Date | null {
    return this.lastHookDeliveryMs === null ? null : new Date(this.lastHookDeliveryMs);
  }

  observeOktaResponse(status: number | string): void {
    this.oktaRequests.inc({ status: String(status) });
  }
}
