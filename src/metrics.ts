import client from 'prom-client';
import type { FollowResult } from './ingest/follow';
import type { TickResult } from './ingest/poll';
import { outboxByOrgAndNotifier, type Store } from './store/store';

/** Why the push receiver refused a request (a label of otw_hook_requests_rejected_total). */
export const HOOK_REJECT_REASONS = ['unauthorized', 'bad_request', 'too_large', 'not_found', 'method', 'busy', 'timeout', 'commit_failed'] as const;
export type HookRejectReason = (typeof HOOK_REJECT_REASONS)[number];

/** The `org` label of a single-org install (no ORGS_FILE). */
export const DEFAULT_ORG = 'default';

/** The `org` label of anything that names an org this install does not watch (an unknown hook path). */
export const UNKNOWN_ORG = 'unknown';

/** How the metrics learn the orgs: their names (the `org` label values) and each one's store. */
export interface MetricsOptions {
  /** The orgs this process watches (default: the single org `default`); every per-org series exists for each from the start, at 0. */
  orgs?: readonly string[];
  /** The store of one org (its per-org reads: cursor, last tick, push receipts, events); default: the store given. */
  storeFor?: (org: string) => Store;
}

/**
 * Prometheus metrics. Counters move as things happen; outbox and cursor figures are read from the
 * database at scrape time, so they are right even after a restart.
 */
export class Metrics {
  readonly registry = new client.Registry();
  /** Figures that other parts own (the schedule, the reader), read at scrape time once they are wired. */
  private pollIntervalSource: (() => number) | null = null;
  /**
   * For each org, the limit and remaining of its last System Log response that carried both, kept between
   * scrapes (the reader forgets them after waiting for a reset): one response, so the ratio the
   * rate-limit rule computes is never a remaining from one response over a limit from another.
   */
  private readonly lastRateLimit = new Map<string, { limit: number; remaining: number }>();
  private readonly rateLimitSources = new Map<string, () => { limit: number; remaining: number } | null>();
  /** The `org` label values: the orgs this process watches. */
  private readonly orgs: ReadonlySet<string>;
  private readonly ticks: client.Counter<'org' | 'result'>;
  private readonly oktaRequests: client.Counter<'org' | 'status'>;
  private readonly eventsFetched: client.Counter<'org'>;
  private readonly alertsRaised: client.Counter<'org'>;
  private readonly suppressed: client.Counter<'org'>;
  private readonly tickDuration: client.Histogram<'org'>;
  private readonly followTicks: client.Counter<'org' | 'outcome'>;
  private readonly followRequests: client.Counter<'org'>;
  private readonly hookRejected: client.Counter<'org' | 'reason'>;
  private readonly hookEvents: client.Counter<'org' | 'result'>;
  private readonly hookLag: client.Histogram<'org'>;
  private readonly hookRequestDuration: client.Histogram<'org'>;
  /** When this process last answered a hook delivery with 2xx for each org (epoch ms). */
  private readonly lastHookDeliveryMs = new Map<string, number>();
  private readonly rejectedCounts: Partial<Record<HookRejectReason, number>> = {};

  constructor(store: Store, now: () => Date = () => new Date(), opts: MetricsOptions = {}) {
    const r = [this.registry];
    const orgs = [...new Set(opts.orgs?.length ? opts.orgs : [DEFAULT_ORG])];
    this.orgs = new Set(orgs);
    // prom-client calls collect() with the metric as `this`: the org labels come from here.
    const self = this;
    const storeFor = opts.storeFor ?? (() => store);
    this.ticks = new client.Counter({ name: 'otw_ticks_total', help: 'Poll ticks by org and result.', labelNames: ['org', 'result'], registers: r });
    // A series that first appears at 1 is invisible to Prometheus' increase() and rate(): the first
    // failed tick would never fire an alert. Every result of every org exists from the start, at 0.
    for (const org of orgs) for (const result of ['ok', 'failed', 'interrupted']) this.ticks.inc({ org, result }, 0);
    this.oktaRequests = new client.Counter({ name: 'otw_okta_requests_total', help: 'Requests to Okta by org and HTTP status (or error kind).', labelNames: ['org', 'status'], registers: r });
    this.eventsFetched = new client.Counter({ name: 'otw_events_fetched_total', help: 'System Log events fetched (including already-seen ones), by org.', labelNames: ['org'], registers: r });
    this.alertsRaised = new client.Counter({ name: 'otw_alerts_raised_total', help: 'Alerts raised, by org.', labelNames: ['org'], registers: r });
    this.suppressed = new client.Counter({ name: 'otw_alerts_suppressed_total', help: 'Events suppressed by an exception, a maintenance window or ALERT_OUTCOMES, by org.', labelNames: ['org'], registers: r });
    this.tickDuration = new client.Histogram({
      name: 'otw_tick_duration_seconds',
      help: 'Duration of poll ticks, by org.',
      labelNames: ['org'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: r,
    });
    for (const org of orgs) for (const c of [this.eventsFetched, this.alertsRaised, this.suppressed]) c.inc({ org }, 0);
    // From the database, not this process: after a restart it still says when polling last worked
    // (0 when it never did), so "no successful tick for N intervals" holds across restarts.
    new client.Gauge({
      name: 'otw_last_successful_tick_timestamp_seconds',
      help: 'When the last successful tick of each org finished (epoch seconds; 0 when none has).',
      labelNames: ['org'],
      registers: r,
      async collect() {
        for (const org of orgs) {
          const finished = (await storeFor(org).lastSuccessfulTick())?.finishedAt;
          const t = finished ? Date.parse(finished) : NaN;
          this.set({ org }, Number.isFinite(t) ? t / 1000 : 0);
        }
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
      help: 'X-Rate-Limit-Limit of the last System Log response of each org (0 before the first).',
      labelNames: ['org'],
      registers: r,
      collect() {
        for (const org of orgs) {
          const rl = metrics.readRateLimit(org);
          this.set({ org }, rl ? rl.limit : 0);
        }
      },
    });
    new client.Gauge({
      name: 'otw_okta_rate_limit_remaining',
      help: 'X-Rate-Limit-Remaining of the same System Log response as otw_okta_rate_limit_limit, by org (no sample before the first).',
      labelNames: ['org'],
      registers: r,
      collect() {
        for (const org of orgs) {
          const rl = metrics.readRateLimit(org);
          // A 0 before any response would read as "the limit is used up" and fire the rate-limit rule.
          if (rl) this.set({ org }, rl.remaining);
          else this.remove({ org });
        }
      },
    });
    // The outbox is one table for every org (Store.outboxCounts). An org of the database that this
    // process does not watch (another replica's configuration) is `unknown`, so the label never
    // takes outside values.
    const outboxByOrg = async (opts: { status?: 'pending' } = {}): Promise<Array<{ org: string; notifier: string; status: string; n: number }>> =>
      (await store.outboxCounts(opts)).map((r) => ({ ...r, org: this.orgLabel(r.org) }));
    new client.Gauge({
      name: 'otw_deliveries',
      help: 'Deliveries by org, notifier and status (pending, sent, failed).',
      labelNames: ['org', 'notifier', 'status'],
      registers: r,
      async collect() {
        // Read before the reset: a scrape never shows the series gone while the database answers.
        // Every status of a notifier an org has rows for, at 0 when none: a rule sees the series.
        const rows = outboxByOrgAndNotifier(await outboxByOrg());
        this.reset();
        for (const d of rows) for (const status of ['pending', 'sent', 'failed'] as const) this.set({ org: d.org, notifier: d.notifier, status }, d[status]);
      },
    });
    new client.Gauge({
      name: 'otw_outbox_size',
      help: 'Deliveries waiting to be sent, by org.',
      labelNames: ['org'],
      registers: r,
      async collect() {
        const rows = await outboxByOrg({ status: 'pending' });
        this.reset();
        for (const org of orgs) this.set({ org }, 0);
        for (const row of rows) this.inc({ org: row.org }, row.n);
      },
    });
    new client.Gauge({
      name: 'otw_cursor_age_seconds',
      help: 'Seconds since the cursor of each org last moved (-1 when there is none).',
      labelNames: ['org'],
      registers: r,
      async collect() {
        for (const org of orgs) {
          const c = await storeFor(org).getCursor();
          this.set({ org }, c ? Math.max(0, (now().getTime() - Date.parse(c.updatedAt)) / 1000) : -1);
        }
      },
    });
    this.hookRejected = new client.Counter({ name: 'otw_hook_requests_rejected_total', help: 'Event hook requests refused, by org (`unknown`: a path naming no org of ours) and reason.', labelNames: ['org', 'reason'], registers: r });
    for (const org of orgs) for (const reason of HOOK_REJECT_REASONS) this.hookRejected.inc({ org, reason }, 0);
    this.hookEvents = new client.Counter({ name: 'otw_hook_events_total', help: 'Events received by push, by org: matched a rule (committed) or ignored (other event types).', labelNames: ['org', 'result'], registers: r });
    for (const org of orgs) for (const result of ['matched', 'ignored']) this.hookEvents.inc({ org, result }, 0);
    this.hookLag = new client.Histogram({
      name: 'otw_hook_event_lag_seconds',
      help: 'From an event\'s published time to its receipt by push, by org.',
      labelNames: ['org'],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: r,
    });
    this.hookRequestDuration = new client.Histogram({
      name: 'otw_hook_request_duration_seconds',
      help: 'From an event hook POST\'s arrival to its answer (Okta gives up after 3 s), by org.',
      labelNames: ['org'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 3],
      registers: r,
    });
    new client.Gauge({
      name: 'otw_hook_last_delivery_timestamp_seconds',
      help: 'When the last event hook delivery of each org was committed (epoch seconds; from the database after a restart; 0 when none).',
      labelNames: ['org'],
      registers: r,
      async collect() {
        for (const org of orgs) {
          const t = metrics.lastHookDeliveryMs.get(org) ?? Date.parse((await storeFor(org).lastPushReceivedAt()) ?? '');
          this.set({ org }, Number.isFinite(t) ? t / 1000 : 0);
        }
      },
    });
    new client.Gauge({
      name: 'otw_events_by_source',
      help: 'Events stored, by org and the source that saw each first (poll, push, backfill).',
      labelNames: ['org', 'source'],
      registers: r,
      async collect() {
        this.reset();
        for (const org of orgs) {
          const counts = { poll: 0, push: 0, ...(await storeFor(org).eventsBySource()) };
          for (const [source, n] of Object.entries(counts)) this.set({ org, source }, n);
        }
      },
    });
    this.followTicks = new client.Counter({
      name: 'otw_follow_ticks_total',
      help: 'Follow ticks of watched tokens by org and outcome (idle: none watched; skipped: rate limit below the headroom; incomplete: a group failed or stopped).',
      labelNames: ['org', 'outcome'],
      registers: r,
    });
    for (const org of orgs) for (const outcome of ['idle', 'skipped', 'ok', 'incomplete']) this.followTicks.inc({ org, outcome }, 0);
    this.followRequests = new client.Counter({ name: 'otw_follow_requests_total', help: 'System Log requests made by follow ticks (retries included), by org.', labelNames: ['org'], registers: r });
    for (const org of orgs) this.followRequests.inc({ org }, 0);
    new client.Gauge({
      name: 'otw_watched_tokens',
      help: 'Tokens whose watch is open (their activity is followed), by org.',
      labelNames: ['org'],
      registers: r,
      async collect() {
        const rows = await store.sql.all<{ org: string; n: number }>('SELECT org, COUNT(*) AS n FROM token_watches WHERE closed_at IS NULL GROUP BY org');
        this.reset();
        for (const org of orgs) this.set({ org }, 0);
        for (const row of rows) this.inc({ org: self.orgLabel(row.org) }, Number(row.n));
      },
    });
    client.collectDefaultMetrics({ register: this.registry, prefix: 'otw_process_' });
  }

  /**
   * The `org` label for a name: the org itself when this process watches it, else `unknown`, so a
   * name from outside (a hook request's path) can never add series.
   */
  private orgLabel(org: string): string {
    return this.orgs.has(org) ? org : UNKNOWN_ORG;
  }

  /** One poll tick of `org` (`default` in a single-org install). */
  observeTick(org: string, r: TickResult, _finishedAt?: Date): void {
    const o = this.orgLabel(org);
    // A tick stopped by a signal (a restart during a catch-up) is not a failure: the next resumes.
    this.ticks.inc({ org: o, result: r.ok ? 'ok' : r.interrupted ? 'interrupted' : 'failed' });
    this.eventsFetched.inc({ org: o }, r.events);
    this.alertsRaised.inc({ org: o }, r.newAlerts);
    this.suppressed.inc({ org: o }, r.suppressed);
    this.tickDuration.observe({ org: o }, r.durationMs / 1000);
  }

  /** One follow tick of `org`. */
  observeFollowTick(org: string, r: FollowResult): void {
    const o = this.orgLabel(org);
    this.followTicks.inc({ org: o, outcome: r.outcome });
    this.followRequests.inc({ org: o }, r.requests);
    this.eventsFetched.inc({ org: o }, r.events);
    this.alertsRaised.inc({ org: o }, r.newAlerts);
  }

  private readRateLimit(org: string): { limit: number; remaining: number } | null {
    const rl = this.rateLimitSources.get(org)?.();
    if (rl && Number.isFinite(rl.limit) && Number.isFinite(rl.remaining) && rl.limit > 0) this.lastRateLimit.set(org, { limit: rl.limit, remaining: rl.remaining });
    return this.lastRateLimit.get(org) ?? null;
  }

  /** Where otw_poll_interval_seconds comes from (the daemon's schedule). */
  watchPollInterval(seconds: () => number): void {
    this.pollIntervalSource = seconds;
  }

  /** Where otw_okta_rate_limit_limit and _remaining of `org` come from (its System Log reader's last response). */
  watchRateLimit(org: string, source: () => { limit: number; remaining: number } | null): void {
    this.rateLimitSources.set(org, source);
  }

  /** A hook request for `org` refused before or instead of a commit (an org this process does not watch counts as `unknown`). */
  observeHookRejected(org: string, reason: HookRejectReason): void {
    this.hookRejected.inc({ org: this.orgLabel(org), reason });
    this.rejectedCounts[reason] = (this.rejectedCounts[reason] ?? 0) + 1;
  }

  /** A hook delivery for `org` committed: events matched and ignored, and each matched event's lag. */
  observeHookDelivery(org: string, d: { matched: number; ignored: number; lagsSeconds: number[]; durationSeconds: number; at: Date }): void {
    const o = this.orgLabel(org);
    this.hookEvents.inc({ org: o, result: 'matched' }, d.matched);
    this.hookEvents.inc({ org: o, result: 'ignored' }, d.ignored);
    for (const s of d.lagsSeconds) this.hookLag.observe({ org: o }, Math.max(0, s));
    this.hookRequestDuration.observe({ org: o }, d.durationSeconds);
    this.lastHookDeliveryMs.set(o, d.at.getTime());
  }

  /** Refused hook requests by reason, in this process (for /healthz). */
  hookRejectedCounts(): Record<string, number> {
    return { ...this.rejectedCounts };
  }

  /** When this process last committed a hook delivery (of any org), or null. */
  lastHookDelivery(): Date | null {
    const latest = Math.max(-Infinity, ...this.lastHookDeliveryMs.values());
    return Number.isFinite(latest) ? new Date(latest) : null;
  }

  /** One answer (or failure) of Okta to a request made for `org`. */
  observeOktaResponse(org: string, status: number | string): void {
    this.oktaRequests.inc({ org: this.orgLabel(org), status: String(status) });
  }
}
