import type { Clock } from '../clock';
import type { AppConfig } from '../config';
import { createDetector, type Detector } from '../detect/detector';
import { closeEndedWatches } from '../follow/watch';
import { redact, type Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Notifier } from '../notify/notifier';
import { buildNotifiers } from '../notify/registry';
import { API_TOKENS_MANAGE, API_TOKENS_READ, readerScopes, SdkOktaHttp, withScopes } from '../okta/client';
import type { OktaHttp } from '../okta/http';
import { SystemLogReader } from '../okta/system-log';
import { slackPolicy, slackResponder } from '../respond/slack-responder';
import type { Responder } from '../slack-app/respond-port';
import type { SqlConn } from '../store/sql';
import { Store } from '../store/store';

/** The org of a single-org install (no ORGS_FILE): its rows, metrics and logs use this name. */
export const DEFAULT_ORG = 'default';

/**
 * One watched Okta org inside the daemon: everything that is the org's own (its store view, Okta
 * connections, reader with its rate-limit accounting, detector with its exceptions and outcomes,
 * notifiers with its routing, a logger that names it). The parts shared by all orgs (database,
 * metrics, dispatcher, health, Slack app) live on the App.
 */
export interface OrgRuntime {
  /** The org's name from ORGS_FILE, or `default` in a single-org install. */
  name: string;
  /** True when the org comes from ORGS_FILE (outputs then name it); false in a single-org install. */
  named: boolean;
  /** The org's full settings (the env file's, overlaid with its ORGS_FILE entry). */
  config: AppConfig;
  /** The store scoped to this org: its reads and writes touch this org's rows only. */
  store: Store;
  /** What alerts name as their org: null in a single-org install (outputs unchanged there). */
  org: { name: string; url: string } | null;
  /** The app's logger with `{ org }` on every line (the app's own logger in a single-org install). */
  logger: Logger;
  okta: OktaHttp | null;
  /** The connection that revokes tokens; null unless RESPONSE_ACTIONS lists revoke. */
  revokeOkta: OktaHttp | null;
  reader: SystemLogReader | null;
  detector: Detector;
  /** This org's notifier instances (its own Slack channel, email recipients, ...). */
  notifiers: Notifier[];
  /** The response actions on this org's alerts (its Okta, its notifiers); null without the Slack app. */
  responder: Responder | null;
  /**
   * Closes the token watches whose events have all been read and queues their digests (see
   * closeEndedWatches); the follow tick calls it each time it has caught up. Returns how many closed.
   */
  closeEndedWatches(): Promise<number>;
  /** Called after a follow tick that reached the end of the log: closeEndedWatches, whose errors it logs. */
  onFollowCaughtUp: (() => Promise<void>) | null;
}

/** What every org shares, handed to buildOrgRuntime. */
export interface OrgRuntimeShared {
  /** The database for all orgs (scoped per org here). */
  store: Store;
  metrics: Metrics;
  clock: Clock;
  logger: Logger;
  stdout?: NodeJS.WritableStream;
  /** Injected OktaHttp (the demo and tests); default is the SDK-backed one. */
  okta?: OktaHttp;
  /** Injected response actions (tests); default: built from the org's settings when the Slack app is on. */
  responder?: Responder;
}

/**
 * The org's store for its poll and follow ticks: every transaction first runs `fence` on its own
 * connection (Leases.assertHeld), so a replica that lost the org's lease (it stalled past LEASE_TTL
 * and another took over) rolls back instead of moving the org's cursor under the new holder.
 */
export function fencedStore(store: Store, fence: (tx: SqlConn) => Promise<void>): Store {
  class FencedStore extends Store {
    override async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
      if (this.sql.inTransaction) return super.transaction(fn);
      return super.transaction(async (tx) => {
        await fence(tx.sql);
        return fn(tx);
      });
    }
  }
  return new FencedStore(store.db, store.sql, store.org);
}

/**
 * Builds one org's runtime from its settings. `named` is false for the single org of an install
 * without ORGS_FILE; `url` is the org's URL from ORGS_FILE, which names the org even when a
 * command runs without its credentials (test-notify, check --send).
 */
export function buildOrgRuntime(name: string, config: AppConfig, shared: OrgRuntimeShared, named: boolean, url?: string): OrgRuntime {
  const { metrics, clock } = shared;
  const store = shared.store.forOrg(name);
  const orgUrl = config.okta?.orgUrl ?? url;
  const org = named && orgUrl ? { name, url: orgUrl } : null;
  const logger = named ? shared.logger.child({ org: name }) : shared.logger;
  const observe = (status: string | number): void => metrics.observeOktaResponse(name, status);
  const scopesOf = (c: NonNullable<AppConfig['okta']>): string[] => (c.auth.mode === 'oauth' ? c.auth.scopes : []);
  const okta = shared.okta ?? (config.okta ? new SdkOktaHttp(withScopes(config.okta, readerScopes(scopesOf(config.okta))), observe) : null);
  // A service app asks for each optional scope on its own connection (see withScopes).
  const lookupOkta = shared.okta ?? (config.okta?.auth.mode === 'oauth' ? new SdkOktaHttp(withScopes(config.okta, [API_TOKENS_READ]), observe) : okta);
  // Only an installation that may revoke (RESPONSE_ACTIONS) needs the revoke connection.
  const revokeOkta = !config.respond.actions.has('revoke')
    ? null
    : (shared.okta ?? (config.okta?.auth.mode === 'oauth' ? new SdkOktaHttp(withScopes(config.okta, [API_TOKENS_MANAGE]), observe) : okta));
  const reader = okta && config.okta ? new SystemLogReader(okta, config.okta, clock, logger) : null;
  if (reader) metrics.watchRateLimit(name, () => reader.rateLimit);
  const detector = createDetector(config.detect, {
    orgUrl: config.okta?.orgUrl ?? 'https://okta.invalid',
    okta: lookupOkta,
    logger,
    clock,
    org,
    // The self-watch rule follows the hook `event-hook register` stored (read per decision: a
    // register or remove by another process takes effect at once).
    eventHookId: async () => (await store.registeredEventHook())?.hookId ?? null,
    pushConfigured: config.eventHook !== null,
    recentDeliveryFailureAlert: (hookId) => store.recentEventHookAlert(hookId, 'delivery failed', new Date(clock.now().getTime() - 3_600_000)),
  });
  // Buttons only when something will answer their clicks: the Slack app (SLACK_APP_TOKEN), whose
  // clicks go to the response actions (src/respond/).
  const slackResponses = config.slackApp ? { actions: shared.responder?.policy.actions ?? slackPolicy(config.respond).actions } : undefined;
  const notifiers = buildNotifiers(config.notify, { logger, stdout: shared.stdout, slackResponses });
  const responder =
    shared.responder ??
    (config.slackApp
      ? slackResponder({ store, okta: revokeOkta, oktaAuth: config.okta?.auth.mode ?? null, config: config.respond, notifiers: notifiers.map((n) => n.name), clock, logger })
      : null);
  const close = (): Promise<number> =>
    closeEndedWatches({ store, notifiers, clock, logger, followWindowMs: config.poll.followWindowMs, lateMs: config.poll.followSettleMs ?? config.poll.lookbackMs });
  return {
    name,
    named,
    config,
    store,
    org,
    logger,
    okta,
    revokeOkta,
    reader,
    detector,
    notifiers,
    responder,
    closeEndedWatches: close,
    onFollowCaughtUp: async () => {
      try {
        await close();
      } catch (err) {
        logger.error('closing the ended token watches failed; the next follow tick tries again', { error: redact(err instanceof Error ? err.message : String(err)) });
      }
    },
  };
}

/**
 * The Slack app's one responder across orgs: a click names an alert, the alert belongs to an org,
 * and that org's responder acts (its Okta client revokes, its notifiers get the follow-up). An
 * alert no org knows goes to the first org's responder, which answers that it is not found.
 */
export function routingResponder(orgs: readonly OrgRuntime[], orgOfAlert: (alertId: string) => Promise<string | null>): Responder | null {
  const first = orgs.find((o) => o.responder !== null)?.responder ?? null;
  if (!first) return null;
  if (orgs.length === 1) return first;
  return {
    policy: first.policy,
    async respond(req) {
      const org = typeof req.alertId === 'string' ? await orgOfAlert(req.alertId) : null;
      const rt = orgs.find((o) => o.name === org && o.responder !== null);
      return (rt?.responder ?? first).respond(req);
    },
  };
}
