import type { WebClient } from '@slack/web-api';
import type { Clock } from '../clock';
import type { Alert } from '../detect/alert';
import type { Logger } from '../logger';
import { formatSlack } from '../notify/slack';
import { breakMentions, escapeSlack, plainText } from '../notify/sanitize';
import type { Store } from '../store/store';
import { expectedModal, notAllowedText, statusBlock, threadReply } from './blocks';
import type { SlackAppConfig } from './config';
import { readInteraction, type MessageRef, type SlackUser } from './interaction';
import type { Responder, ResponseAction, ResponseOutcome } from './respond-port';
import { SlackInbox, type InboxOwner } from './inbox';
import { errorText, slackLogger, SocketConnection } from './socket';

/** What the Slack app needs from the program. */
export interface SlackAppDeps {
  config: SlackAppConfig;
  store: Store;
  responder: Responder;
  logger: Logger;
  clock: Clock;
  /** The first reconnect's delay, doubled per failure up to a minute (default 1 s; tests shorten it). */
  reconnectBaseMs?: number;
  /** This replica's id and LEASE_TTL: clicks are claimed by the replica that received them. */
  replica?: InboxOwner;
}

/** How long a user group's members are trusted before they are asked again. */
const GROUP_CACHE_MS = 60_000;

/**
 * The Slack app: takes the button clicks and modal submissions its Socket Mode connection
 * (socket.ts, which acknowledges each envelope at once) passes on, authorises the clicking user by
 * id (RESPONDERS), hands the action to `respond()`, then updates the alert message and records the
 * result in its thread. Slack's clients are loaded only here, when app mode is on.
 */
export class SlackApp {
  private socket: SocketConnection | null = null;
  private web: WebClient | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  /** One action at a time per alert: a double click waits for the first to finish. */
  private readonly perAlert = new Map<string, Promise<void>>();
  private readonly groupCache = new Map<string, { members: Set<string>; at: number }>();

  private readonly inbox: SlackInbox;
  private stopping = false;
  private sweeper: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;

  constructor(private readonly deps: SlackAppDeps) {
    this.inbox = new SlackInbox(deps.store, deps.replica);
  }

  /**
   * Opens the connection in the background and returns at once: Slack being unreachable must not
   * hold up the daemon, and the connection keeps being retried.
   */
  async start(): Promise<void> {
    const { config, logger } = this.deps;
    const { WebClient: Web } = await import('@slack/web-api');
    const slackApiUrl = `${config.apiUrl}/`;
    this.web = new Web(config.botToken, { slackApiUrl, logger: slackLogger(logger), timeout: 10_000, retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 5_000 }, allowAbsoluteUrls: false });
    // Clicks acknowledged by an earlier process that stopped before acting on them; then, every
    // heartbeat (a third of LEASE_TTL), those of a replica that died meanwhile.
    await this.inbox.pruneHandled(this.deps.clock.now()).catch((err: unknown) => logger.warn('slack app: could not delete old handled clicks from the inbox', { error: errorText(err) }));
    await this.sweep();
    const every = Math.max(1_000, Math.floor((this.deps.replica?.ttlMs ?? 120_000) / 3));
    if (!this.stopping) {
      this.sweeper = setInterval(() => void this.sweep(), every);
      this.sweeper.unref();
    }
    this.socket = new SocketConnection({
      appToken: config.appToken,
      slackApiUrl,
      logger,
      reconnectBaseMs: this.deps.reconnectBaseMs,
      receive: (id, payload) => this.inbox.receive(id, payload, this.deps.clock.now()),
      onInteractive: (id, payload) => this.onInteractive(id, payload),
    });
    await this.socket.start();
  }

  /**
   * Acts on the clicks a replica that is gone (stopped, killed) acknowledged but did not finish:
   * at start, and every third of LEASE_TTL, so a surviving replica finishes a dead one's clicks
   * without waiting for a restart. Each is claimed first: one replica acts on it. Never throws.
   */
  async sweep(): Promise<void> {
    if (this.stopping) return;
    // One at a time; stop() waits for the one running.
    if (this.sweeping) return this.sweeping;
    this.sweeping = this.sweepNow().finally(() => (this.sweeping = null));
    return this.sweeping;
  }

  private async sweepNow(): Promise<void> {
    try {
      const left = await this.inbox.claimLeft();
      // Stopped meanwhile: what was claimed goes to the next replica once this one is gone.
      if (this.stopping) return;
      if (left.length) this.deps.logger.warn('slack app: acting on clicks an earlier run acknowledged but did not finish', { count: left.length });
      for (const r of left) this.onInteractive(r.envelopeId, r.payload);
    } catch (err) {
      this.deps.logger.error('slack app: could not read the inbox of unfinished clicks; the next sweep tries again', { error: errorText(err) });
    }
  }

  /** Closes the connection, then waits for actions already started (their results are recorded). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    await this.sweeping;
    await this.socket?.stop();
    this.socket = null;
    await Promise.allSettled([...this.inFlight]);
  }

  private onInteractive(envelopeId: string, payload: unknown): void {
    // A click whose storing finished after stop() began is not started now: nobody would wait for
    // it. It stays in the inbox, claimed by this replica, and the next replica takes it once this
    // one is gone.
    if (this.stopping) {
      this.deps.logger.info('slack app: stopping: a click that just arrived is left to the next run', {});
      return;
    }
    const work = this.handle(payload)
      .then(() => this.inbox.handled(envelopeId, this.deps.clock.now()))
      .catch((err: unknown) => {
        // Left unhandled in the inbox: the next start tries it again.
        this.deps.logger.error('slack app: an interaction failed', { error: errorText(err) });
      });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async handle(body: unknown): Promise<void> {
    const { config, logger, store } = this.deps;
    const intent = readInteraction(body, config.channel);
    if (intent.kind === 'ignore') {
      if (intent.quiet) logger.debug(`slack app: ignored ${intent.why}`, {});
      else logger.warn(`slack app: ignored an interaction: ${intent.why}`, {});
      return;
    }
    const alert = await store.getAlert(intent.alertId);
    if (!alert) {
      logger.warn('slack app: ignored an interaction for an alert that is not in this database', { user: intent.user.id });
      return;
    }
    const action: ResponseAction = intent.kind === 'click' ? intent.action : 'expected';
    await this.serialised(alert.id, async () => {
      if (!(await this.mayAct(intent.user, action, alert, intent.message))) return;
      if (intent.kind === 'click' && intent.action === 'expected') {
        await this.openExpectedModal(alert, intent.user, intent.message, intent.triggerId);
        return;
      }
      const reason = intent.kind === 'expected-reason' ? intent.reason : null;
      let outcome: ResponseOutcome;
      try {
        outcome = await this.deps.responder.respond({ alertId: alert.id, action, by: { via: 'slack', id: intent.user.id, name: intent.user.name }, reason });
      } catch (err) {
        // A bug or the database failing, not an Okta answer (respond reports those as outcomes).
        logger.error(`slack app: ${action} could not be carried out`, { alert: alert.id, user: intent.user.id, error: errorText(err) });
        await this.ephemeral(intent.message, intent.user, 'okta-token-watch could not carry this out, and nothing is reported as done: its log says why. Try again, or use the okta-token-watch command line.');
        return;
      }
      logger.info(`slack app: ${action} by a Slack user: ${outcome.result}`, { alert: alert.id, user: intent.user.id, result: outcome.result });
      await this.report(alert, action, outcome, intent.user, intent.message, reason);
    });
  }

  private async serialised(alertId: string, fn: () => Promise<void>): Promise<void> {
    const before = this.perAlert.get(alertId) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    const settled = mine.catch(() => undefined);
    this.perAlert.set(alertId, settled);
    try {
      await mine;
    } finally {
      if (this.perAlert.get(alertId) === settled) this.perAlert.delete(alertId);
    }
  }

  /**
   * True when the user may take the action. Otherwise they get an ephemeral answer and the attempt
   * is stored as refused (through respond, so the audit has every attempt).
   */
  private async mayAct(user: SlackUser, action: ResponseAction, alert: Alert, where: MessageRef): Promise<boolean> {
    const { policy } = this.deps.responder;
    let refused: string | null = null;
    let text: string | null = null;
    if (!(await this.isResponder(user.id))) {
      refused = 'the Slack user is not in RESPONDERS';
      text = notAllowedText(action);
    } else if (!policy.actions.includes(action)) {
      refused = `${action} is not in RESPONSE_ACTIONS`;
      text = `${action === 'revoke' ? 'Revoking' : 'This action'} is turned off in okta-token-watch (RESPONSE_ACTIONS). This attempt was recorded.`;
    }
    if (refused === null) return true;
    this.deps.logger.warn(`slack app: refused ${action} by a Slack user: ${refused}`, { alert: alert.id, user: user.id });
    await this.ephemeral(where, user, text!);
    await this.deps.responder
      .respond({ alertId: alert.id, action, by: { via: 'slack', id: user.id, name: user.name }, reason: null, refused })
      .catch((err: unknown) => this.deps.logger.error('slack app: a refused attempt could not be recorded', { error: errorText(err) }));
    return false;
  }

  /** RESPONDERS: the user id itself, or a member of one of its user groups (asked of Slack, cached a minute). */
  private async isResponder(userId: string): Promise<boolean> {
    const { policy } = this.deps.responder;
    if (policy.users.includes(userId)) return true;
    const now = this.deps.clock.now().getTime();
    for (const group of policy.groups) {
      let cached = this.groupCache.get(group);
      if (!cached || now - cached.at > GROUP_CACHE_MS) {
        try {
          const res = await this.web!.usergroups.users.list({ usergroup: group });
          cached = { members: new Set((res.users ?? []).filter((u): u is string => typeof u === 'string')), at: now };
          this.groupCache.set(group, cached);
        } catch (err) {
          // Fail closed: nobody gets in through a group Slack did not list.
          this.deps.logger.warn('slack app: the members of a RESPONDERS user group could not be read (scope usergroups:read?)', { group, error: errorText(err) });
          continue;
        }
      }
      if (cached.members.has(userId)) return true;
    }
    return false;
  }

  private async openExpectedModal(alert: Alert, user: SlackUser, where: MessageRef, triggerId: string | null): Promise<void> {
    try {
      if (!triggerId) throw new Error('the click carries no trigger_id');
      await this.web!.views.open({ trigger_id: triggerId, view: expectedModal(alert, where) as never });
    } catch (err) {
      this.deps.logger.error('slack app: the Expected dialog could not be opened', { alert: alert.id, error: errorText(err) });
      await this.ephemeral(where, user, 'The Expected dialog could not be opened (Slack allows 3 seconds); click Expected again.');
    }
  }

  /** The alert message updated (who, when, result) and a reply in its thread; a repeat only tells the clicker. */
  private async report(alert: Alert, action: ResponseAction, outcome: ResponseOutcome, user: SlackUser, where: MessageRef, reason: string | null): Promise<void> {
    if (outcome.alreadyDone || outcome.result === 'refused') {
      // The sentence names the token: attacker-controlled text, escaped for mrkdwn like every other.
      await this.ephemeral(where, user, escapeSlack(breakMentions(plainText(outcome.message, 500))));
      return;
    }
    const at = this.deps.clock.now();
    const gone = outcome.result === 'revoked' || outcome.result === 'already-gone';
    const { policy } = this.deps.responder;
    const updated = formatSlack({ kind: 'alert', alert }, { responses: { actions: gone ? [] : policy.actions } });
    // The status goes above the closing context line.
    updated.blocks.splice(Math.max(0, updated.blocks.length - 1), 0, statusBlock(action, outcome, user, at));
    try {
      await this.web!.chat.update({ channel: where.channel, ts: where.ts, text: updated.text, blocks: updated.blocks.slice(0, 50) as never });
    } catch (err) {
      this.deps.logger.error('slack app: the alert message could not be updated', { alert: alert.id, error: errorText(err) });
    }
    const reply = threadReply(action, outcome, user, at, reason);
    try {
      await this.web!.chat.postMessage({ channel: where.channel, thread_ts: where.ts, text: reply.text, blocks: reply.blocks as never, unfurl_links: false, unfurl_media: false });
    } catch (err) {
      this.deps.logger.error('slack app: the thread reply could not be posted', { alert: alert.id, error: errorText(err) });
    }
  }

  private async ephemeral(where: MessageRef, user: SlackUser, text: string): Promise<void> {
    try {
      await this.web!.chat.postEphemeral({ channel: where.channel, user: user.id, text });
    } catch (err) {
      this.deps.logger.warn('slack app: an ephemeral answer could not be posted', { error: errorText(err) });
    }
  }
}
