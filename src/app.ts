import { systemClock, type Clock } from './clock';
import type { AppConfig } from './config';
import type { Detector } from './detect/detector';
import { createLogger, registerSecrets, type Logger } from './logger';
import { Dispatcher } from './notify/dispatcher';
import type { Notifier } from './notify/notifier';
import { Metrics } from './metrics';
import type { OktaHttp } from './okta/http';
import type { SystemLogReader } from './okta/system-log';
import type { FollowDeps } from './ingest/follow';
import type { TickDeps } from './ingest/poll';
import { buildOrgRuntime, DEFAULT_ORG, routingResponder, type OrgRuntime } from './orgs/runtime';
import type { Responder } from './slack-app/respond-port';
import { openStore } from './store/open';
import type { Store } from './store/store';

/**
 * The wired program: the parts all orgs share (database, logger, metrics, dispatcher) and one
 * OrgRuntime per watched org. The single-org fields below (okta, reader, detector, notifiers, ...)
 * are the first org's: in a single-org install, the only one.
 */
export interface App {
  config: AppConfig;
  logger: Logger;
  clock: Clock;
  /** The database of every org; unscoped, it is the `default` org's view. */
  store: Store;
  schemaVersion: number;
  /** One per watched org, in ORGS_FILE's order; one named `default` without ORGS_FILE. */
  orgs: OrgRuntime[];
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
  onFollowCaughtUp: (() => void | Promise<void>) | null;
  /** The response actions the Slack app calls (issue 13), routed to the clicked alert's org; null when not wired. */
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

/**
 * Wires the program: the database, metrics and dispatcher every org shares, and one OrgRuntime
 * per org of ORGS_FILE (or the single org `default` built from the env file).
 */
export async function createApp(config: AppConfig, opts: AppOptions = {}): Promise<App> {
  registerSecrets(config.secrets);
  const logger = opts.logger ?? createLogger(config.log);
  const clock = opts.clock ?? systemClock;
  const { store, schemaVersion } = await openStore(config.store, { readonly: opts.readOnlyStore ?? false });
  // Every per-org series exists for each org from the start; per-org figures come from its store view.
  const orgNames = config.orgs ? config.orgs.map((o) => o.name) : [DEFAULT_ORG];
  const metrics = new Metrics(store, () => clock.now(), { orgs: orgNames, storeFor: (org) => store.forOrg(org) });
  const shared = { store, metrics, clock, logger, stdout: opts.stdout, okta: opts.okta, responder: opts.responder };
  const orgs = config.orgs ? config.orgs.map((o) => buildOrgRuntime(o.name, o.config, shared, true, o.url)) : [buildOrgRuntime(DEFAULT_ORG, config, shared, false)];
  const first = orgs[0]!;
  const responder = opts.responder ?? routingResponder(orgs, (alertId) => orgOfAlert(store, alertId));
  // One dispatcher for every org: a delivery goes out through its own org's notifier instance.
  const dispatcher = new Dispatcher(store, config.orgs ? new Map(orgs.map((o) => [o.name, o.notifiers])) : first.notifiers, config.delivery, logger, clock);
  return {
    config,
    logger,
    clock,
    store,
    schemaVersion,
    orgs,
    okta: first.okta,
    revokeOkta: first.revokeOkta,
    reader: first.reader,
    detector: first.detector,
    notifiers: first.notifiers,
    dispatcher,
    metrics,
    closeEndedWatches: () => first.closeEndedWatches(),
    onFollowCaughtUp: first.onFollowCaughtUp,
    responder,
    async close() {
      for (const o of orgs) for (const n of o.notifiers) await n.close?.();
      await store.db.close();
    },
  };
}

/** The org an alert (by its `otw-...` id) was raised in, from its own JSON; null when unknown or single-org. */
async function orgOfAlert(store: Store, alertId: string): Promise<string | null> {
  const row = await store.sql.get<{ payload: string }>('SELECT payload FROM alerts WHERE alert_id = ?', [alertId]);
  if (!row) return null;
  try {
    const org = (JSON.parse(row.payload) as { org?: { name?: unknown } | null }).org;
    return typeof org?.name === 'string' ? org.name : null;
  } catch {
    return null;
  }
}

/** What `runTick` needs for one org (the first, and in a single-org install the only one, by default). */
export function tickDepsFor(app: App, signal?: AbortSignal, org: OrgRuntime = app.orgs[0]!): TickDeps {
  // A single org's parts are the App's (tests and embedders replace them there); the store stays
  // the one given (the daemon's is fenced by the org's lease).
  const reader = org.named ? org.reader : app.reader;
  if (!reader || !org.config.okta) throw new Error('the Okta settings are missing');
  return {
    store: org.store,
    reader,
    detector: org.named ? org.detector : app.detector,
    notifiers: (org.named ? org.notifiers : app.notifiers).map((n) => n.name),
    poll: org.config.poll,
    orgUrl: org.config.okta.orgUrl,
    clock: app.clock,
    logger: org.logger,
    signal,
  };
}

/** What `runFollowTick` needs, taken from the wired program; `alertsSoFar` is what the poll tick just before raised. */
export function followDepsFor(app: App, signal?: AbortSignal, alertsSoFar = 0, org: OrgRuntime = app.orgs[0]!): FollowDeps {
  if (!org.config.okta) throw new Error('the Okta settings are missing');
  // A single org's is the App's (tests replace it there); each named org has its own.
  const onCaughtUp = org.named ? org.onFollowCaughtUp : app.onFollowCaughtUp;
  return {
    ...tickDepsFor(app, signal, org),
    rateLimitHeadroom: org.config.okta.rateLimitHeadroom,
    alertsSoFar,
    onCaughtUp: onCaughtUp ?? undefined,
  };
}
