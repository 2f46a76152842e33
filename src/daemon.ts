import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import { followDepsFor, tickDepsFor, type App } from './app';
import { startHealthServer } from './health';
import { ingestPushBatch, startEventHookReceiver, type EventHookReceiver } from './ingest/event-hook';
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

/** The long-running mode: a tick at start, then on POLL_SCHEDULE, never two at once. */
export class Daemon {
  private task: ScheduledTask | null = null;
  private current: Promise<TickResult> | null = null;
  /** The follow tick in flight: it runs beside the schedule, so a slow one never holds back the next poll. */
  private following: Promise<void> | null = null;
  lastFollow: FollowResult | null = null;
  private readonly abort = new AbortController();
  private stopped: Promise<void> | null = null;
  lastResult: TickResult | null = null;
  private lastFinishedAt: Date | null = null;
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

  async start(): Promise<void> {
    const { app } = this;
    const last = await app.store.lastSuccessfulTick();
    if (last?.finishedAt) this.lastSuccessAt = new Date(last.finishedAt);
    const abandoned = await app.store.closeAbandonedTicks(app.clock.now());
    if (abandoned > 0) app.logger.warn('the previous process stopped during a tick; its committed pages are kept and the cursor resumes after them', { ticks: abandoned });
    // A crash between the last page and the summary leaves excess alerts without deliveries.
    await summarizeExcess({ ...app, notifiers: app.notifiers.map((n) => n.name) }, null);
    app.dispatcher.start();
    app.logger.info('okta-token-watch started', {
      schedule: app.config.poll.schedule,
      lookback: app.config.poll.lookbackMs,
      notifiers: app.notifiers.map((n) => n.name),
      db: app.config.store.dbPath,
    });
    // Overlap is refused by tick() itself (it also knows about the tick at start, which node-cron
    // does not), with one log line of ours; node-cron's noOverlap would print its own instead.
    this.task = cron.schedule(app.config.poll.schedule, () => this.tick(), { name: 'okta-token-watch-poll', logger: cronLogger(app.logger) });
    app.metrics.watchPollInterval(() => this.intervalMs() / 1000);
    if (app.config.health) {
      this.health = await startHealthServer(
        app.config.health,
        {
          lastTick: () => (this.lastResult && this.lastFinishedAt ? { ok: this.lastResult.ok, finishedAt: this.lastFinishedAt, error: this.lastResult.error } : null),
          lastSuccessAt: () => this.lastSuccessAt,
          intervalMs: () => this.intervalMs(),
          startedAt: this.startedAt,
          now: () => app.clock.now(),
          push: app.config.eventHook ? () => ({ lastDeliveryAt: app.metrics.lastHookDelivery(), eventsBySource: app.store.eventsBySource(), rejected: app.metrics.hookRejectedCounts() }) : undefined,
        },
        app.metrics,
        app.logger,
      );
    }
    if (app.config.eventHook) {
      const deps = { store: app.store, detector: app.detector, notifiers: app.notifiers.map((n) => n.name), poll: app.config.poll, clock: app.clock, logger: app.logger };
      this.hook = await startEventHookReceiver({
        config: app.config.eventHook,
        ingest: (events) => ingestPushBatch(deps, events),
        onAlerts: () => this.deliverNow(),
        metrics: app.metrics,
        logger: app.logger,
        clock: app.clock,
        afterCommit: crashTestHold(),
      });
    }
    await this.startSlackApp();
    await this.tick();
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
    this.slackApp = new SlackApp({ config: app.config.slackApp, store: app.store, responder: app.responder, logger: app.logger, clock: app.clock, reconnectBaseMs: this.opts.slackReconnectMs });
    await this.slackApp.start();
  }

  /** A delivery pass now (after a tick, or a hook delivery that raised alerts). Never throws. */
  private deliverNow(): void {
    if (this.abort.signal.aborted) return;
    void this.app.dispatcher.runOnce().catch((err: unknown) => {
      this.app.logger.error('delivery pass failed', { error: redact(err instanceof Error ? err.message : String(err)) });
    });
  }

  /** Runs one tick unless one is running (then does nothing), then starts a delivery pass. Never throws. */
  async tick(): Promise<void> {
    if (this.current || this.abort.signal.aborted) {
      if (this.current) this.app.logger.warn('previous tick still running; skipping this slot', {});
      return;
    }
    const { app } = this;
    this.current = runTick(tickDepsFor(app, this.abort.signal));
    try {
      this.lastResult = await this.current;
      this.lastFinishedAt = app.clock.now();
      if (this.lastResult.ok) this.lastSuccessAt = this.lastFinishedAt;
      app.metrics.observeTick(this.lastResult, this.lastFinishedAt);
    } catch (err) {
      // Only the store itself failing (disk full, database locked for too long) lands here; the
      // transaction rolled back, so the next tick retries from the same cursor.
      app.logger.error('tick could not be recorded', { error: redact(err instanceof Error ? err.message : String(err)) });
      this.lastFinishedAt = app.clock.now();
      this.lastResult = { ...(this.lastResult ?? emptyResult()), ok: false, error: 'the database could not be written' };
    } finally {
      this.current = null;
    }
    // Deliver without holding the tick slot: a backlog (Slack is paced at one message a second, a
    // destination may be timing out) must never delay the next poll of Okta.
    this.deliverNow();
    // Only after a poll tick that worked: a failing Okta (credentials, limits) is not asked for more.
    if (this.lastResult.ok) this.follow(this.lastResult.newAlerts);
  }

  /**
   * Starts the follow tick of watched tokens after a poll tick, outside the tick slot (a slow follow
   * query never delays the next poll); one at a time: a slot whose previous follow still runs skips
   * it, and the next resumes from the group cursors. Never throws.
   */
  private follow(pollAlerts: number): void {
    if (this.following || this.abort.signal.aborted) {
      if (this.following) this.app.logger.info('the previous follow tick is still running; skipping it this slot', {});
      return;
    }
    const { app } = this;
    this.following = runFollowTick(followDepsFor(app, this.abort.signal, pollAlerts))
      .then((r) => {
        this.lastFollow = r;
        app.metrics.observeFollowTick(r);
        // Alerts, follow-ups or digests it queued go out now, not at the next poll.
        if (r.outcome !== 'idle' && r.outcome !== 'skipped') this.deliverNow();
      })
      .catch((err: unknown) => {
        app.logger.error('follow tick failed', { error: redact(err instanceof Error ? err.message : String(err)) });
      })
      .finally(() => {
        this.following = null;
      });
  }

  /** Resolves when no follow tick is running (tests, and stop()). */
  async followSettled(): Promise<void> {
    while (this.following) await this.following;
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
        await this.task?.stop();
        await this.task?.destroy();
        // No new clicks; actions already started finish and are recorded.
        await this.slackApp?.stop();
        // Requests in flight finish their commit and get their answer; new ones are refused.
        await this.hook?.close();
        if (this.current) await this.current.catch(() => undefined);
        await this.followSettled();
        await this.app.dispatcher.stop();
        await this.health?.close();
      })();
    }
    return this.stopped;
  }
}
