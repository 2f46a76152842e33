import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import { followDepsFor, tickDepsFor, type App } from './app';
import { fencedStore, type OrgRuntime } from './orgs/runtime';
import { Leases } from './scale/leases';
import { localReplicaGone, replicaId } from './scale/replica';
import { OrgScheduler, type OrgOutcome } from './scale/scheduler';
import { startHealthServer } from './health';
import { ingestPushBatch, startEventHookReceiver, type EventHookReceiver, type HookRoute } from './ingest/event-hook';
import { redact, type Logger } from './logger';
import { summarizeExcess } from './ingest/ingest';
import { runFollowTick, type FollowResult } from './ingest/follow';
import { runTick, type TickResult } from './ingest/poll';
import type { SlackApp } from './slack-app/slack-app';

/**
 * node-cron's own messages (a missed slot, an error in a task) as log lines of ours: by default it
 * prints ANSI-coloured text with console.*, which breaks one-JSON-object-per-line logs.
 */
export function cronLogger(logger: Logger): CronLogger {
  const text = (m: string | Error): string => redact(m instanceof Error ? m.message : String(m));
  const detail = (err?: Error): Record<string, unknown> => (err ? { error: text(err) } : {});
  return {
    info: (m) => logger.info(`node-cron: ${text(m)}`, {}),
    warn: (m) => logger.warn(`node-cron: ${text(m)}`, {}),
    error: (m, err) => logger.error(`node-cron: ${text(m)}`, detail(err)),
    debug: (m, err) => logger.debug(`node-cron: ${text(m)}`, detail(err)),
  };
}

/**
 * The crash test (test/event-hook-crash.test.ts) needs a daemon that has committed a push but not
 * answered it. OTW_TEST_HOLD_PUSH_ANSWER must equal the pid of the process that started this one:
 * the test sets its own pid, which no service manager or shell profile can hold by accident.
 */
function crashTestHold(): (() => Promise<void>) | undefined {
  const v = process.env.OTW_TEST_HOLD_PUSH_ANSWER;
  if (v === undefined || v !== String(process.ppid)) return undefined;
  return () => new Promise<void>(() => undefined);
}

function emptyResult(): TickResult {
  return { tickId: 0, ok: false, interrupted: false, pages: 0, requests: 0, events: 0, newEvents: 0, newAlerts: 0, suppressed: 0, summarized: 0, durationMs: 0, rateLimitRemaining: null, cursorFallback: false };
}

/** One org's state in this process: its last poll tick and its follow tick in flight. */
interface OrgState {
  rt: OrgRuntime;
  /** The org's runtime with its store fenced by the org's lease: what its poll and follow ticks use. */
  fenced: OrgRuntime;
  /** The poll tick in flight (never two for one org). */
  current: Promise<TickResult> | null;
  /** The follow tick in flight: it runs beside the schedule, so a slow one never holds back the next poll. */
  following: Promise<void> | null;
  lastResult: TickResult | null;
  lastFollow: FollowResult | null;
}

/** How often a stop step that has not finished says so. */
const STOP_WAIT_LOG_MS = 5_000;

/**
 * Awaits one step of a graceful stop; while it has not finished, a warning every few seconds names
 * it, so that an operator (or a supervisor's log) sees what a slow stop waits for.
 */
export async function waitLogged(logger: Logger, what: string, p: Promise<unknown> | undefined): Promise<void> {
  if (!p) return;
  const t0 = Date.now();
  const timer = setInterval(() => logger.warn('stopping: still waiting', { for: what, seconds: Math.round((Date.now() - t0) / 1000) }), STOP_WAIT_LOG_MS);
  timer.unref();
  try {
    await p;
  } finally {
    clearInterval(timer);
  }
}

/** The longest timer Node keeps (about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The long-running mode: a slot at start, then on POLL_SCHEDULE. Each slot takes the orgs this
 * replica may poll (their leases), then runs each one's poll tick (then its follow tick) with
 * bounded concurrency across orgs; an org whose previous tick still runs is skipped, without
 * delaying the others. A single-org install is the one org `default`.
 */
export class Daemon {
  private task: ScheduledTask | null = null;
  /** The slots in flight (each a lease round plus the org ticks it started); a stop waits for all. */
  private readonly slots = new Set<Promise<void>>();
  /** Resolves when the latest slot's lease round has handed its orgs to the scheduler. */
  private leaseRound: Promise<void> = Promise.resolve();
  /** A slot is waiting for the previous slot's lease round: a further one is skipped, not queued. */
  private leaseRoundWaiting = false;
  private readonly orgs: OrgState[];
  private readonly byName: Map<string, OrgState>;
  /** Which orgs this replica polls: a lease per org in the database, shared with the other replicas. */
  readonly leases: Leases;
  private readonly scheduler: OrgScheduler;
  private readonly abort = new AbortController();
  private stopped: Promise<void> | null = null;
  private starting: Promise<void> | null = null;
  private lastFinishedAt: Date | null = null;
  private lastSlot: { ok: boolean; error?: string } | null = null;
  private lastSuccessAt: Date | null = null;
  private readonly startedAt: Date;
  private health: { port: number; close(): Promise<void> } | null = null;
  private hook: EventHookReceiver | null = null;
  private slackApp: SlackApp | null = null;

  /** `slackReconnectMs`: the Slack app's first reconnect delay (tests shorten it). */
  constructor(
    private readonly app: App,
    private readonly opts: { slackReconnectMs?: number } = {},
  ) {
    this.startedAt = app.clock.now();
    this.leases = new Leases(app.store.db, { holder: replicaId(), ttlMs: app.config.scale.leaseTtlMs, logger: app.logger });
    this.scheduler = new OrgScheduler({ concurrency: app.config.scale.orgConcurrency, logger: app.logger });
    this.orgs = app.orgs.map((rt) => ({
      rt,
      fenced: { ...rt, store: fencedStore(rt.store, (tx) => this.leases.assertHeld(tx, rt.name)) },
      current: null,
      following: null,
      lastResult: null,
      lastFollow: null,
    }));
    this.byName = new Map(this.orgs.map((o) => [o.rt.name, o]));
  }

  /** The first org's last poll tick (in a single-org install, the only one). */
  get lastResult(): TickResult | null {
    return this.orgs[0]?.lastResult ?? null;
  }

  /** The first org's last follow tick. */
  get lastFollow(): FollowResult | null {
    return this.orgs[0]?.lastFollow ?? null;
  }

  /** The last poll tick of the org named, null before its first here. */
  lastResultOf(org: string): TickResult | null {
    return this.orgs.find((o) => o.rt.name === org)?.lastResult ?? null;
  }

  /** The port of the health endpoint, when it runs. */
  get healthPort(): number | null {
    return this.health?.port ?? null;
  }

  /** Milliseconds between the next two scheduled ticks. */
  intervalMs(): number {
    const runs = this.task?.getNextRuns(2) ?? [];
    if (runs.length === 2) return runs[1]!.getTime() - runs[0]!.getTime();
    return 5 * 60_000;
  }

  /** The port of the push receiver, when it runs. */
  get hookPort(): number | null {
    return this.hook?.port ?? null;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /**
   * Starts everything, then runs the first slot. A stop() that arrives while this is still under
   * way waits for it, and every step after the stop is skipped: a signal at start-up must not leave
   * a schedule or a listening receiver behind that keeps the process alive.
   */
  start(): Promise<void> {
    this.starting ??= this.startNow();
    return this.starting;
  }

  private async startNow(): Promise<void> {
    const { app } = this;
    const stopping = (): boolean => this.abort.signal.aborted;
    // With ORGS_FILE the receiver's host, port and TLS are in every org's settings (the secret differs).
    const hookConfig = app.config.eventHook ?? app.orgs.find((o) => o.config.eventHook)?.config.eventHook ?? null;
    const last = await app.store.lastSuccessfulTick();
    if (last?.finishedAt) this.lastSuccessAt = new Date(last.finishedAt);
    if (stopping()) return;
    app.dispatcher.start();
    app.logger.info('okta-token-watch started', {
      schedule: app.config.poll.schedule,
      lookback: app.config.poll.lookbackMs,
      notifiers: app.notifiers.map((n) => n.name),
      ...(app.orgs.some((o) => o.named) ? { orgs: app.orgs.map((o) => o.name) } : {}),
      db: app.store.db.label,
    });
    // Overlap is refused by tick() itself (it also knows about the tick at start, which node-cron
    // does not), with one log line of ours; node-cron's noOverlap would print its own instead.
    this.task = cron.schedule(app.config.poll.schedule, () => this.tick(), { name: 'okta-token-watch-poll', logger: cronLogger(app.logger) });
    app.metrics.watchPollInterval(() => this.intervalMs() / 1000);
    if (app.config.health) {
      this.health = await startHealthServer(
        app.config.health,
        {
          lastTick: () => (this.lastSlot && this.lastFinishedAt ? { ok: this.lastSlot.ok, finishedAt: this.lastFinishedAt, error: this.lastSlot.error } : null),
          lastSuccessAt: () => this.lastSuccessAt,
          intervalMs: () => this.intervalMs(),
          startedAt: this.startedAt,
          now: () => app.clock.now(),
          push: hookConfig ? async () => ({ lastDeliveryAt: app.metrics.lastHookDelivery(), eventsBySource: await app.store.eventsBySource(), rejected: app.metrics.hookRejectedCounts() }) : undefined,
        },
        app.metrics,
        app.logger,
      );
    }
    if (stopping()) return;
    if (hookConfig) await this.startHookReceiver(hookConfig);
    if (stopping()) return;
    await this.startSlackApp();
    await this.tick();
  }

  /**
   * The push receiver: without ORGS_FILE, EVENT_HOOK_PATH with EVENT_HOOK_SECRET; with it, one path
   * per org (`<EVENT_HOOK_PATH>/<org>`, set by ORGS_FILE's loader) with that org's secret. Any replica serves every org: ingest
   * is keyed by the event's uuid, so a push is safe wherever it lands.
   */
  private async startHookReceiver(config: NonNullable<App['config']['eventHook']>): Promise<void> {
    const { app } = this;
    const ingestOf = (rt: OrgRuntime): HookRoute['ingest'] => {
      // A single org's detector and notifiers are the App's (tests replace them there).
      const detector = rt.named ? rt.detector : app.detector;
      const notifiers = (rt.named ? rt.notifiers : app.notifiers).map((n) => n.name);
      const deps = { store: rt.store, detector, notifiers, poll: rt.config.poll, clock: app.clock, logger: rt.logger };
      return (events) => ingestPushBatch(deps, events);
    };
    const named = app.orgs.some((o) => o.named);
    const routes: HookRoute[] = named
      ? app.orgs.flatMap((rt) => (rt.config.eventHook ? [{ org: rt.name, path: rt.config.eventHook.path, secret: rt.config.eventHook.secret, ingest: ingestOf(rt) }] : []))
      : [{ org: app.orgs[0]!.name, path: config.path, secret: config.secret, ingest: ingestOf(app.orgs[0]!) }];
    this.hook = await startEventHookReceiver({
      config,
      routes,
      onAlerts: () => this.deliverNow(),
      metrics: app.metrics,
      logger: app.logger,
      clock: app.clock,
      afterCommit: crashTestHold(),
    });
  }

  /** Slack app mode (SLACK_APP_TOKEN): its module, and Slack's clients with it, load only then. */
  private async startSlackApp(): Promise<void> {
    const { app } = this;
    if (!app.config.slackApp) return;
    if (!app.responder) {
      app.logger.error('SLACK_APP_TOKEN is set but this build has no response actions wired: the Slack app is not started', {});
      return;
    }
    const { SlackApp } = await import('./slack-app/slack-app');
    // Registered as live before the first click can arrive, and kept live by the heartbeat from now
    // on (not only once a lease round worked): another replica sweeping the inbox must see this
    // one's claims as a live replica's. A failed registration is retried by the heartbeat.
    await this.leases.register().catch((err: unknown) => app.logger.warn('could not register this replica before starting the Slack app; the heartbeat retries', { error: redact(err instanceof Error ? err.message : String(err)) }));
    this.leases.startHeartbeat();
    this.slackApp = new SlackApp({
      config: app.config.slackApp,
      store: app.store,
      responder: app.responder,
      logger: app.logger,
      clock: app.clock,
      reconnectBaseMs: this.opts.slackReconnectMs,
      replica: { holder: this.leases.holder, ttlMs: this.leases.ttlMs },
    });
    await this.slackApp.start();
  }

  /** A delivery pass now (after a tick, or a hook delivery that raised alerts). Never throws. */
  private deliverNow(): void {
    if (this.abort.signal.aborted) return;
    void this.app.dispatcher.runOnce().catch((err: unknown) => {
      this.app.logger.error('delivery pass failed', { error: redact(err instanceof Error ? err.message : String(err)) });
    });
  }

  /**
   * One slot: takes the leases, then runs the poll tick of every org held (an org whose previous
   * tick still runs is skipped, the others are not held back), then starts a delivery pass.
   * Resolves when the org ticks it started have ended. Never throws.
   */
  async tick(): Promise<void> {
    if (this.abort.signal.aborted) return;
    const run = this.runSlot();
    this.slots.add(run);
    try {
      await run;
    } finally {
      this.slots.delete(run);
    }
  }

  private async runSlot(): Promise<void> {
    const { app } = this;
    // The lease round and the start of the ticks it hands out are one step, one slot at a time:
    // a slot whose round overlapped the previous one's (the slot at start-up still taking over
    // twenty orgs when the schedule's first slot came) would hand back orgs above the share that
    // the other was about to tick, and the replica taking them would read them in the same slot.
    // Once the ticks have started they count as busy, and a later round keeps them.
    if (this.leaseRoundWaiting) {
      app.logger.warn('the previous slot is still taking its org leases; skipping this slot', {});
      return;
    }
    const previous = this.leaseRound;
    let roundDone!: () => void;
    this.leaseRound = new Promise<void>((resolve) => (roundDone = resolve));
    const results = new Map<string, TickResult>();
    let held: OrgState[] | null;
    let started: Promise<OrgOutcome[]>;
    try {
      this.leaseRoundWaiting = true;
      await previous;
      this.leaseRoundWaiting = false;
      if (this.abort.signal.aborted) return;
      held = await this.heldOrgs();
      if (held === null) {
        this.lastFinishedAt = app.clock.now();
        this.lastSlot = { ok: false, error: 'the org leases could not be read or renewed (database)' };
        return;
      }
      const due: OrgState[] = [];
      for (const o of held) {
        // Skipped here rather than in the scheduler: the same log line as before orgs existed.
        if (this.scheduler.isRunning(o.rt.name)) o.rt.logger.warn('previous tick still running; skipping this slot', {});
        else due.push(o);
      }
      // With several orgs, one that hangs is aborted at the next slot so that it never holds a place
      // other orgs wait for; a single org keeps its tick as long as it takes (later slots skip it).
      const deadlineMs = this.orgs.length > 1 ? Math.min(this.intervalMs(), MAX_TIMER_MS) : MAX_TIMER_MS;
      // runSlot marks every org it is given as running before it returns: the next round sees them busy.
      started = this.scheduler.runSlot(
        due.map((o) => o.rt.name),
        async (org, signal) => {
          results.set(org, await this.orgTick(this.byName.get(org)!, signal));
        },
        { deadlineMs, signal: this.abort.signal },
      );
    } finally {
      roundDone();
    }
    const outcomes = await started;
    const failed: string[] = [];
    for (const out of outcomes) {
      const r = results.get(out.org);
      if (out.status === 'timed-out') failed.push(`org ${out.org}: the tick did not finish within the poll interval`);
      else if (r && !r.ok) failed.push(this.orgs.length > 1 ? `org ${out.org}: ${r.error ?? 'unknown error'}` : (r.error ?? 'unknown error'));
    }
    if (outcomes.some((o) => o.status !== 'skipped' && o.status !== 'missed') || held.length === 0) {
      this.lastFinishedAt = app.clock.now();
      this.lastSlot = failed.length === 0 ? { ok: true } : { ok: false, error: failed.join('; ') };
      if (this.lastSlot.ok) this.lastSuccessAt = this.lastFinishedAt;
    }
    // Deliver without holding the slot: a backlog (Slack is paced at one message a second, a
    // destination may be timing out) must never delay the next poll of Okta.
    this.deliverNow();
  }

  /**
   * The orgs this replica polls this slot: Leases.acquire renews what it holds, takes free or
   * expired orgs up to its fair share and hands back the rest. Null when the database failed.
   */
  private async heldOrgs(): Promise<OrgState[] | null> {
    const { app } = this;
    try {
      await this.freeDeadLocalLeases();
      // Orgs still ticking from an earlier slot are not handed back now (another replica would read
      // them while this one still does); they go once their tick has ended.
      const busy = new Set(this.orgs.map((o) => o.rt.name).filter((org) => this.scheduler.isRunning(org)));
      const r = await this.leases.acquire(this.orgs.map((o) => o.rt.name), { busy });
      if (r.taken.length > 0 || r.released.length > 0 || r.lost.length > 0) {
        app.logger.info('org leases changed', { replica: this.leases.holder, taken: r.taken, released: r.released, lost: r.lost, held: r.held.length, replicas: r.live });
      }
      for (const org of r.taken) await this.takeOver(this.byName.get(org)!);
      this.leases.startHeartbeat();
      return r.held.map((org) => this.byName.get(org)!);
    } catch (err) {
      app.logger.error('the org leases could not be taken or renewed; no org is polled this slot', { error: redact(err instanceof Error ? err.message : String(err)) });
      return null;
    }
  }

  /**
   * On SQLite (one file, so every replica runs on this host) the leases of a replica whose process
   * is gone (killed, crashed) are freed at once: a daemon restarted by its supervisor polls again at
   * its first slot instead of waiting LEASE_TTL for its own dead predecessor. On PostgreSQL replicas
   * run on other hosts, where a pid means nothing here (two hosts may even share a name): their
   * leases expire after LEASE_TTL.
   */
  private async freeDeadLocalLeases(): Promise<void> {
    const db = this.app.store.db;
    if (db.engine !== 'sqlite') return;
    const rows = await db.all<{ holder: string }>('SELECT holder FROM replicas WHERE holder != ? UNION SELECT holder FROM leases WHERE holder != ?', [this.leases.holder, this.leases.holder]);
    for (const { holder } of rows) {
      if (!localReplicaGone(holder)) continue;
      // Its replica row too: while it counted as live, the fair share would leave its orgs unpolled.
      const freed = await db.transaction(async (tx) => {
        const leases = await tx.run('DELETE FROM leases WHERE holder = ?', [holder]);
        await tx.run('DELETE FROM replicas WHERE holder = ?', [holder]);
        return leases.changes;
      });
      if (freed > 0) this.app.logger.info('freed the org leases of a replica on this host that is no longer running', { holder, orgs: freed });
    }
  }

  /**
   * An org this replica has just taken: ticks its previous holder left open are closed (their
   * committed pages are kept; the cursor resumes after them), and alerts past MAX_ALERTS_PER_RUN a
   * crash left without deliveries get their summary.
   */
  private async takeOver(o: OrgState): Promise<void> {
    const { rt } = o;
    try {
      const abandoned = await rt.store.closeAbandonedTicks(this.app.clock.now());
      if (abandoned > 0) rt.logger.warn('the previous process stopped during a tick; its committed pages are kept and the cursor resumes after them', { ticks: abandoned });
      await summarizeExcess({ store: rt.store, detector: rt.detector, clock: this.app.clock, logger: rt.logger, notifiers: rt.notifiers.map((n) => n.name) }, null);
    } catch (err) {
      rt.logger.error('could not close the ticks a previous holder left open', { error: redact(err instanceof Error ? err.message : String(err)) });
    }
  }

  /** One org's poll tick, then (when it worked) its follow tick. Never throws. */
  private async orgTick(o: OrgState, signal: AbortSignal): Promise<TickResult> {
    const { app } = this;
    const { rt } = o;
    o.current = runTick(tickDepsFor(app, AbortSignal.any([this.abort.signal, signal]), o.fenced));
    let result: TickResult;
    try {
      result = await o.current;
      app.metrics.observeTick(rt.name, result, app.clock.now());
    } catch (err) {
      // Only the store itself failing (disk full, database locked for too long) lands here; the
      // transaction rolled back, so the next tick retries from the same cursor.
      rt.logger.error('tick could not be recorded', { error: redact(err instanceof Error ? err.message : String(err)) });
      result = { ...(o.lastResult ?? emptyResult()), ok: false, error: 'the database could not be written' };
    } finally {
      o.current = null;
    }
    o.lastResult = result;
    // Only after a poll tick that worked: a failing Okta (credentials, limits) is not asked for more.
    if (result.ok) this.follow(o, result.newAlerts);
    return result;
  }

  /**
   * Starts the follow tick of one org's watched tokens after its poll tick, outside the slot (a
   * slow follow query never delays the next poll); one at a time per org: a slot whose previous
   * follow still runs skips it, and the next resumes from the group cursors. Never throws.
   */
  private follow(o: OrgState, pollAlerts: number): void {
    if (o.following || this.abort.signal.aborted) {
      if (o.following) o.rt.logger.info('the previous follow tick is still running; skipping it this slot', {});
      return;
    }
    const { app } = this;
    o.following = runFollowTick(followDepsFor(app, this.abort.signal, pollAlerts, o.fenced))
      .then((r) => {
        o.lastFollow = r;
        app.metrics.observeFollowTick(o.rt.name, r);
        // Alerts, follow-ups or digests it queued go out now, not at the next poll.
        if (r.outcome !== 'idle' && r.outcome !== 'skipped') this.deliverNow();
      })
      .catch((err: unknown) => {
        o.rt.logger.error('follow tick failed', { error: redact(err instanceof Error ? err.message : String(err)) });
      })
      .finally(() => {
        o.following = null;
      });
  }

  /** Resolves when no follow tick is running (tests, and stop()). */
  async followSettled(): Promise<void> {
    for (const o of this.orgs) while (o.following) await o.following;
  }

  /** next scheduled tick, for health checks. */
  nextRun(): Date | null {
    return this.task?.getNextRun() ?? null;
  }

  /** Graceful stop: no new ticks, the page in hand is committed, deliveries in flight are recorded. */
  stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = (async () => {
        this.abort.abort();
        const step = (what: string, p: Promise<unknown> | undefined): Promise<void> => waitLogged(this.app.logger, what, p);
        // A start still under way finishes the step it is in and skips the rest.
        if (this.starting) await step('the start-up in progress', this.starting.catch(() => undefined));
        await this.task?.stop();
        await this.task?.destroy();
        // No new clicks; actions already started finish and are recorded.
        await step('Slack actions in progress', this.slackApp?.stop());
        // Requests in flight finish their commit and get their answer; new ones are refused.
        await step('event hook requests in progress', this.hook?.close());
        if (this.slots.size) await step('the poll slots in progress', Promise.allSettled([...this.slots]));
        for (const o of this.orgs) if (o.current) await step(`the tick of org ${o.rt.name}`, o.current.catch(() => undefined));
        await step('follow ticks in progress', this.followSettled());
        // Handed back at once: another replica takes these orgs at its next slot, not after LEASE_TTL.
        await step(
          'the org leases to be released',
          this.leases.release().catch((err: unknown) => {
            this.app.logger.warn('the org leases could not be released; other replicas take them over after LEASE_TTL', { error: redact(err instanceof Error ? err.message : String(err)) });
          }),
        );
        await step('deliveries in flight to be recorded', this.app.dispatcher.stop());
        await step('the health endpoint to close', this.health?.close());
      })();
    }
    return this.stopped;
  }
}
