import { systemClock, type Clock } from './clock';
import type { AppConfig } from './config';
import { createDetector, type Detector } from './detect/detector';
import { createLogger, registerSecrets, type Logger } from './logger';
import { Dispatcher } from './notify/dispatcher';
import type { Notifier } from './notify/notifier';
import { buildNotifiers } from './notify/registry';
import { Metrics } from './metrics';
import { API_TOKENS_MANAGE, API_TOKENS_READ, readerScopes, SdkOktaHttp, withScopes } from './okta/client';
import type { OktaHttp } from './okta/http';
import { SystemLogReader } from './okta/system-log';
import { closeEndedWatches } from './follow/watch';
import type { FollowDeps } from './ingest/follow';
import type { TickDeps } from './ingest/poll';
import type { Responder } from './slack-app/respond-port';
import { slackPolicy, slackResponder } from './respond/slack-responder';
import { openDatabase, schemaVersion } from './store/db';
import { SqliteDb } from './store/sqlite';
import { Store } from './store/store';

/** The wired program: one of each part, built from the parsed settings. */
export interface App {
  config: AppConfig;
  logger: Logger;
  clock: Clock;
  store: Store;
  schemaVersion: number;
  okta: OktaHttp | null;
  /** The connection that revokes tokens (for a service app, one asking for okta.apiTokens.manage alone); null unless RESPONSE_ACTIONS lists revoke. */
  revokeOkta: OktaHttp | null;
  reader: SystemLogReader | null;
  detector: Detector;
  notifiers: Notifier[];
  dispatcher: Dispatcher;
  metrics: Metrics;
  /**
   * Closes the token watches whose events have all been read and queues their digests (see
   * closeEndedWatches); the follow tick calls it each time it has caught up. Returns how many closed.
   */
  closeEndedWatches(): Promise<number>;
  /**
   * Called after a follow tick that reached the end of the log for a group of watched tokens:
   * closeEndedWatches, whose errors it logs (the follow tick never fails because of it).
   */
  onFollowCaughtUp: (() => void | Promise<unknown>) | null;
  /** The response actions the Slack app calls (issue 13); null when not wired. */
  responder: Responder | null;
  close(): Promise<void>;
}

/** Overrides for tests and embedding. */
export interface AppOptions {
  clock?: Clock;
  logger?: Logger;
  stdout?: NodeJS.WritableStream;
  /** Injected OktaHttp (the demo and tests); default is the SDK-backed one. */
  okta?: OktaHttp;
  /** Open the database read-only, without creating, migrating or chmod-ing it (`status`). */
  readOnlyStore?: boolean;
  /** The response actions (respond() and RESPONDERS/RESPONSE_ACTIONS) for Slack app mode. */
  responder?: Responder;
}

export function createApp(config: AppConfig, opts: AppOptions = {}): App {
  registerSecrets(config.secrets);
  const logger = opts.logger ?? createLogger(config.log);
  const clock = opts.clock ?? systemClock;
  const db = openDatabase(config.store.dbPath, { readonly: opts.readOnlyStore ?? false });
  const store = new Store(new SqliteDb(db, config.store.dbPath));
  const metrics = new Metrics(store, () => clock.now());
  const observe = (status: string | number): void => metrics.observeOktaResponse(status);
  const scopesOf = (c: NonNullable<AppConfig['okta']>): string[] => (c.auth.mode === 'oauth' ? c.auth.scopes : []);
  const okta = opts.okta ?? (config.okta ? new SdkOktaHttp(withScopes(config.okta, readerScopes(scopesOf(config.okta))), observe) : null);
  // A service app asks for each optional scope on its own connection (see withScopes).
  const lookupOkta = opts.okta ?? (config.okta?.auth.mode === 'oauth' ? new SdkOktaHttp(withScopes(config.okta, [API_TOKENS_READ]), observe) : okta);
  // Only an installation that may revoke (RESPONSE_ACTIONS) needs the revoke connection.
  const revokeOkta = !config.respond.actions.has('revoke')
    ? null
    : (opts.okta ?? (config.okta?.auth.mode === 'oauth' ? new SdkOktaHttp(withScopes(config.okta, [API_TOKENS_MANAGE]), observe) : okta));
  const reader = okta && config.okta ? new SystemLogReader(okta, config.okta, clock, logger) : null;
  if (reader) metrics.watchRateLimit(() => reader.rateLimit);
  const detector = createDetector(config.detect, {
    orgUrl: config.okta?.orgUrl ?? 'https://okta.invalid',
    okta: lookupOkta,
    logger,
    clock,
    // The self-watch rule follows the hook `event-hook register` stored (read per decision: a
    // register or remove by another process takes effect at once).
    eventHookId: async () => (await store.registeredEventHook())?.hookId ?? null,
    pushConfigured: config.eventHook !== null,
    recentDeliveryFailureAlert: (hookId) => store.recentEventHookAlert(hookId, 'delivery failed', new Date(clock.now().getTime() - 3_600_000)),
  });
  // Buttons only when something will answer their clicks: the Slack app (SLACK_APP_TOKEN), whose
  // clicks go to the response actions (src/respond/).
  const slackResponses = config.slackApp ? { actions: opts.responder?.policy.actions ?? slackPolicy(config.respond).actions } : undefined;
  const notifiers = buildNotifiers(config.notify, { logger, stdout: opts.stdout, slackResponses });
  const responder =
    opts.responder ??
    (config.slackApp
      ? slackResponder({ store, okta: revokeOkta, oktaAuth: config.okta?.auth.mode ?? null, config: config.respond, notifiers: notifiers.map((n) => n.name), clock, logger })
      : null);
  const dispatcher = new Dispatcher(store, notifiers, config.delivery, logger, clock);
  return {
    config,
    logger,
    clock,
    store,
    schemaVersion: schemaVersion(db),
    okta,
    revokeOkta,
    reader,
    detector,
    notifiers,
    dispatcher,
    metrics,
    closeEndedWatches: () => closeEndedWatches({ store, notifiers, clock, logger, followWindowMs: config.poll.followWindowMs, lateMs: config.poll.followSettleMs ?? config.poll.lookbackMs }),
    onFollowCaughtUp: () => closeEndedWatches({ store, notifiers, clock, logger, followWindowMs: config.poll.followWindowMs, lateMs: config.poll.followSettleMs ?? config.poll.lookbackMs }),
    responder,
    async close() {
      for (const n of notifiers) await n.close?.();
      await store.close();
    },
  };
}

/** What `runTick` needs, taken from the wired program. */
export function tickDepsFor(app: App, signal?: AbortSignal): TickDeps {
  if (!app.reader || !app.config.okta) throw new Error('the Okta settings are missing');
  return {
    store: app.store,
    reader: app.reader,
    detector: app.detector,
    notifiers: app.notifiers.map((n) => n.name),
    poll: app.config.poll,
    orgUrl: app.config.okta.orgUrl,
    clock: app.clock,
    logger: app.logger,
    signal,
  };
}

/** What `runFollowTick` needs, taken from the wired program; `alertsSoFar` is what the poll tick just before raised. */
export function followDepsFor(app: App, signal?: AbortSignal, alertsSoFar = 0): FollowDeps {
  if (!app.reader || !app.config.okta) throw new Error('the Okta settings are missing');
  const onCaughtUp = app.onFollowCaughtUp;
  return {
    ...tickDepsFor(app, signal),
    rateLimitHeadroom: app.config.okta.rateLimitHeadroom,
    alertsSoFar,
    onCaughtUp: onCaughtUp ?? undefined,
  };
}
