import type { AxiosInstance } from 'axios';
import type { Alert, AlertOrg, AlertSummary, DeliveryReceipt, Notification } from '../detect/alert';
import type { FollowUp } from '../follow/followup';
import type { Logger } from '../logger';
import type { SlackConfig } from './config';
import { actionLine, actorShort, alertFacts, alertLinks, headline, historyLines, mitreIds, notificationOrg, ORG_BOUNDS, runbookOf, severityOf, signalLines, subjectName, summaryFacts, tokenStateLine, UNREADABLE_HEADLINE, unreadableFacts, unreadableIntro } from './facts';
import { digestSensitiveLines, digestTypes, followUpFacts, followUpHeadline, followUpIntro, followUpLinks, followUpSignalLines, isProminent, watchStatusLine } from './followup-facts';
import { classifyResponse, classifyTransportError, createHttp, deadlineSignal, serverReason } from './http';
import { redact } from '../logger';
import { DeliveryError, parseRetryAfter, type Notifier } from './notifier';
import { breakMentions, escapeSlack, fitMrkdwn, plainText, safeLink, slackCode } from './sanitize';
import { responseButtons, type ResponseButtonsOption } from '../slack-app/blocks';

/** Slack's limits (Block Kit reference). */
export const SLACK_LIMITS = { blocks: 50, sectionText: 3000, field: 2000, fields: 10, contextElements: 10, header: 150, buttonText: 75, url: 3000, text: 3000 } as const;

/** Response steps shown in the message; the email carries the whole runbook. */
const MAX_STEPS = 8;

/** A Block Kit message: `text` is the notification fallback, `blocks` the message itself. */
export interface SlackMessage {
  text: string;
  blocks: Array<Record<string, unknown>>;
  unfurl_links: false;
  unfurl_media: false;
}

// `verbatim: true` stops Slack from auto-linking URLs and parsing bare mentions or channel names;
// escaping and code spans (sanitize.ts) stop explicit `<...>` markup.
function mrkdwn(text: string, max: number = SLACK_LIMITS.sectionText): Record<string, unknown> {
  return { type: 'mrkdwn', text: fitMrkdwn(text, max), verbatim: true };
}

function header(text: string): Record<string, unknown> {
  return { type: 'header', text: { type: 'plain_text', text: text.slice(0, SLACK_LIMITS.header), emoji: false } };
}

/** Our own sentence (fixed words around data), escaped for mrkdwn. */
function own(text: string, max = 600): string {
  return escapeSlack(breakMentions(plainText(text, max)));
}

function buttons(links: Array<{ text: string; url: string | null; id: string }>): Record<string, unknown> | null {
  const elements = links
    .map((l) => ({ ...l, url: safeLink(l.url) }))
    .filter((l): l is { text: string; url: string; id: string } => l.url !== null)
    .map((l) => ({ type: 'button', text: { type: 'plain_text', text: l.text.slice(0, SLACK_LIMITS.buttonText), emoji: false }, url: l.url, action_id: l.id }));
  return elements.length ? { type: 'actions', elements } : null;
}

function testPrefix(test: boolean | undefined): string {
  return test ? '[TEST] ' : '';
}

// ORGS_FILE's rule for names: such a name cannot carry markup, so it is shown bare.
const PLAIN_ORG_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** The org's name: bare when it is a valid org name, else as a code span like any untrusted value. */
function orgName(org: AlertOrg): string {
  return PLAIN_ORG_NAME.test(org.name) ? org.name : slackCode(org.name, ORG_BOUNDS.name);
}

/** `[prod] ` before the notification text when the install watches several orgs, else nothing. */
function orgPrefix(org: AlertOrg | null): string {
  return org ? `[${orgName(org)}] ` : '';
}

/**
 * The org's line under the header (`org: prod`), first thing read after what happened; none in a
 * single-org install. The URL is a code span (defanged), not a link.
 */
function orgContext(org: AlertOrg | null): Array<Record<string, unknown>> {
  if (!org) return [];
  return [{ type: 'context', elements: [mrkdwn(`org: ${orgName(org)}${org.url ? ` · ${slackCode(org.url, ORG_BOUNDS.url)}` : ''}`)] }];
}

/** The org's context line goes right after the header (the first block). */
function withOrg(message: SlackMessage, org: AlertOrg | null): SlackMessage {
  if (!org) return message;
  const blocks = [...message.blocks.slice(0, 1), ...orgContext(org), ...message.blocks.slice(1)];
  return { ...message, text: fitMrkdwn(orgPrefix(org) + message.text, SLACK_LIMITS.text), blocks: blocks.slice(0, SLACK_LIMITS.blocks) };
}

function formatAlert(a: Alert, test: boolean | undefined, opts: SlackFormatOptions = {}): SlackMessage {
  const severity = severityOf(a.rule);
  const facts = alertFacts(a);
  const fieldFacts = facts.filter((f) => f.label !== 'User agent' && f.label !== 'Actor id').slice(0, SLACK_LIMITS.fields);
  const ua = facts.find((f) => f.label === 'User agent');
  // Fixed words around values that go through slackCode.
  const code = (v: string): string => slackCode(v, 200);
  const blocks: Array<Record<string, unknown>> = [
    header(`${testPrefix(test)}${severity.toUpperCase()}: ${headline(a)}`),
    {
      type: 'section',
      text: mrkdwn(
        `${test ? '*This is a test notification from okta-token-watch.*\n' : ''}${actionLine(a, (v) => slackCode(v, 200))}`,
      ),
    },
  ];
  const signals = signalLines(a, code);
  if (signals.length) blocks.push({ type: 'section', text: mrkdwn(signals.map((l) => `:warning: ${l}`).join('\n')) });
  blocks.push(
    { type: 'section', fields: fieldFacts.map((f) => mrkdwn(`*${f.label}*\n${slackCode(f.value, f.max)}`, SLACK_LIMITS.field)) },
    { type: 'section', text: mrkdwn(`*User agent*\n${slackCode(ua?.value ?? null, ua?.max)}`) },
  );
  const history = historyLines(a, code);
  if (history.length) blocks.push({ type: 'section', text: mrkdwn(`*What this database has seen*\n${history.map((l) => `• ${l}`).join('\n')}`) });
  const state = tokenStateLine(a, code);
  if (state) blocks.push({ type: 'section', text: mrkdwn(`*Token now*\n${state}`) });
  const actions = buttons(alertLinks(a));
  if (actions) blocks.push(actions);
  // A test notification is not in the database: its buttons could act on nothing.
  const respond = test ? null : responseButtons(a, opts.responses);
  if (respond) blocks.push(respond);
  const steps = runbookOf(a.rule).response.slice(0, MAX_STEPS);
  if (steps.length) blocks.push({ type: 'section', text: mrkdwn(`*What to do first*\n${steps.map((step, i) => `${i + 1}. ${own(step, 300)}`).join('\n')}`) });
  const mitre = mitreIds(a.rule);
  blocks.push({
    type: 'context',
    elements: [
      mrkdwn(`${own(a.rule.name, 120)} · risk ${Number(a.rule.riskScore) || 0} · alert ${slackCode(a.id, 100)}`),
      ...(mitre.tactics.length + mitre.techniques.length ? [mrkdwn(`MITRE ATT&amp;CK ${[...mitre.tactics, ...mitre.techniques].join(' · ')}`)] : []),
    ],
  });
  const text = fitMrkdwn(
    `${testPrefix(test)}${severity}: ${headline(a)}: ${slackCode(subjectName(a), 100)} by ${slackCode(actorShort(a), 100)}`,
    SLACK_LIMITS.text,
  );
  return { text, blocks: blocks.slice(0, SLACK_LIMITS.blocks), unfurl_links: false, unfurl_media: false };
}

function formatSummary(s: AlertSummary, test: boolean | undefined): SlackMessage {
  const severity = severityOf(s.rule);
  const count = Math.max(0, Math.floor(Number(s.count) || 0));
  const f = summaryFacts(s);
  const actors = f.actors.map((x) => `• ${slackCode(x.actor, 100)} ×${Math.floor(Number(x.count) || 0)}`).join('\n') + (f.moreActors ? `\n…and ${f.moreActors} more` : '');
  const names = f.tokenNames.map((n) => `• ${slackCode(n, 80)}`).join('\n') + (f.moreNames ? `\n…and ${f.moreNames} more` : '');
  const blocks: Array<Record<string, unknown>> = [
    header(`${testPrefix(test)}${severity.toUpperCase()}: ${count} more Okta API token creations`),
    {
      type: 'section',
      text: mrkdwn(
        `${count} API token creations between ${slackCode(s.firstPublished, 40)} and ${slackCode(s.lastPublished, 40)} went over the per-tick alert limit, so they are summarised here instead of one message each. Every one of them is stored.`,
      ),
    },
    { type: 'section', fields: [mrkdwn(`*Actors*\n${actors || '-'}`, SLACK_LIMITS.field), mrkdwn(`*Token names*\n${names || '-'}`, SLACK_LIMITS.field)] },
    { type: 'section', text: mrkdwn(`*List them*\n${slackCode(s.howToList, 200)}`) },
  ];
  const actions = buttons([
    { text: 'API tokens page', url: s.links.apiTokens, id: 'otw_open_api_tokens' },
    { text: 'System Log', url: s.links.systemLog, id: 'otw_open_system_log' },
  ]);
  if (actions) blocks.push(actions);
  blocks.push({ type: 'context', elements: [mrkdwn(`${own(s.rule.name, 120)} · summary ${slackCode(s.id, 60)}`)] });
  const text = `${testPrefix(test)}${severity}: ${count} more Okta API token creations (summary)`;
  return { text, blocks, unfurl_links: false, unfurl_media: false };
}

/** An event this program could not read: what is known, the raw JSON's start in a code span, the links. */
function formatUnreadable(a: Alert, test: boolean | undefined): SlackMessage {
  const severity = severityOf(a.rule);
  const blocks: Array<Record<string, unknown>> = [
    header(`${testPrefix(test)}${severity.toUpperCase()}: ${UNREADABLE_HEADLINE}`),
    { type: 'section', text: mrkdwn(unreadableIntro(a).map((l) => own(l)).join('\n')) },
    { type: 'section', fields: unreadableFacts(a).map((f) => mrkdwn(`*${f.label}*\n${slackCode(f.value, f.max)}`, SLACK_LIMITS.field)) },
    { type: 'section', text: mrkdwn(`*Raw event (start)*\n${slackCode(a.unreadable?.raw ?? null, 1500)}`) },
  ];
  const actions = buttons([
    { text: 'Find the event in Okta', url: a.links.event, id: 'otw_open_event' },
    { text: 'API tokens page', url: a.links.apiTokens, id: 'otw_open_api_tokens' },
  ]);
  if (actions) blocks.push(actions);
  blocks.push({ type: 'context', elements: [mrkdwn(`${own(a.rule.name, 120)} · alert ${slackCode(a.id, 100)}`)] });
  return { text: `${testPrefix(test)}${severity}: ${UNREADABLE_HEADLINE}: ${slackCode(a.event.uuid, 100)}`, blocks, unfurl_links: false, unfurl_media: false };
}

/** A follow-up notification. */
type FollowUpNotification = Extract<Notification, { kind: 'followup' }>;

/**
 * Lines as sections under one title, each section within Slack's text limit: a long list is split
 * between lines rather than cut inside one (a cut could leave a code span open).
 */
function listSections(title: string, lines: string[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  let current = `*${title}*`;
  for (const line of lines) {
    const next = `${current}\n${line}`;
    if (next.length > SLACK_LIMITS.sectionText - 10 && current !== `*${title}*`) {
      out.push({ type: 'section', text: mrkdwn(current) });
      current = line;
    } else current = next;
  }
  out.push({ type: 'section', text: mrkdwn(current) });
  return out;
}

/** The attention mark of a prominent follow-up: in the header and in the notification text. */
function attention(f: FollowUp): string {
  return isProminent(f) ? 'ATTENTION: ' : '';
}

/**
 * The reply to an alert: what happened to its token (first use, lifecycle change, digest), with the
 * alert named so it reads on its own when it cannot sit in the alert's thread.
 */
function formatFollowUp(n: FollowUpNotification): SlackMessage {
  const f = n.followup;
  const code = (v: string): string => slackCode(v, 200);
  const facts = followUpFacts(f);
  const fieldFacts = facts.filter((x) => x.label !== 'User agent').slice(0, SLACK_LIMITS.fields);
  const ua = facts.find((x) => x.label === 'User agent');
  const blocks: Array<Record<string, unknown>> = [
    header(`${testPrefix(n.test)}${attention(f)}${followUpHeadline(f)}`),
    {
      type: 'section',
      text: mrkdwn(`${n.test ? '*This is a test notification from okta-token-watch.*\n' : ''}${followUpIntro(f, n.alert, code)}\n${watchStatusLine(f.watch, code)}`),
    },
  ];
  const signals = followUpSignalLines(f);
  if (signals.length) blocks.push({ type: 'section', text: mrkdwn(signals.map((l) => `:rotating_light: *${own(l)}*`).join('\n')) });
  blocks.push({ type: 'section', fields: fieldFacts.map((x) => mrkdwn(`*${x.label}*\n${slackCode(x.value, x.max)}`, SLACK_LIMITS.field)) });
  if (ua?.value) blocks.push({ type: 'section', text: mrkdwn(`*User agent*\n${slackCode(ua.value, ua.max)}`) });
  if (f.kind === 'digest' && f.digest) {
    const types = digestTypes(f.digest);
    if (types.lines.length) {
      blocks.push(...listSections('Events by type', [...types.lines.map((t) => `• ${slackCode(t.eventType, 120)} ×${t.count}`), ...(types.more ? [`…and ${types.more} more types`] : [])]));
    }
    const sensitive = digestSensitiveLines(f.digest, (v) => slackCode(v, 120));
    if (sensitive.lines.length) {
      blocks.push(...listSections('Sensitive actions', [...sensitive.lines.map((l) => `• ${l}`), ...(sensitive.more ? [`…and ${sensitive.more} more`] : [])]));
    }
  }
  const actions = buttons(followUpLinks(n.alert));
  if (actions) blocks.push(actions);
  blocks.push({ type: 'context', elements: [mrkdwn(`follow-up ${slackCode(f.id, 60)} · alert ${slackCode(f.alertId, 100)}`)] });
  const text = fitMrkdwn(`${testPrefix(n.test)}${attention(f)}${followUpHeadline(f)}: ${slackCode(f.token?.name ?? f.token?.id ?? null, 100)}`, SLACK_LIMITS.text);
  return { text, blocks: blocks.slice(0, SLACK_LIMITS.blocks), unfurl_links: false, unfurl_media: false };
}

/**
 * The alert message as it reads after a follow-up: the alert, re-rendered, with the watch's status
 * line under its first sentence ("first used 12 min after creation; revoked by X"). Pure.
 */
export function formatSlackParent(n: FollowUpNotification, opts: SlackFormatOptions = {}): SlackMessage {
  // In app mode the re-rendered alert keeps its response buttons, except Revoke once the token is gone.
  const gone = n.followup.watch?.revokedAt != null || n.followup.watch?.closed === 'revoked' || n.followup.watch?.closed === 'expired';
  const responses = opts.responses && gone ? { actions: opts.responses.actions.filter((x) => x !== 'revoke') } : opts.responses;
  const base = formatSlack({ kind: 'alert', alert: n.alert, test: n.test }, { responses });
  const status = `${isProminent(n.followup) ? ':rotating_light: ' : ''}*${watchStatusLine(n.followup.watch, (v) => slackCode(v, 200))}*`;
  // Under the alert's first sentence: after the header, the org's line when there is one, and that sentence.
  const at = base.blocks.findIndex((b) => b.type === 'section') + 1 || 2;
  const blocks = [...base.blocks.slice(0, at), { type: 'section', text: mrkdwn(status) }, ...base.blocks.slice(at)];
  return { ...base, blocks: blocks.slice(0, SLACK_LIMITS.blocks) };
}

/** Options of the Slack formatter. */
export interface SlackFormatOptions {
  /** Slack app mode: the response buttons alerts carry (unset: none, as with a webhook). */
  responses?: ResponseButtonsOption;
}

/** The Block Kit message for one notification (for a follow-up: the reply). Pure. */
export function formatSlack(n: Notification, opts: SlackFormatOptions = {}): SlackMessage {
  return withOrg(formatKind(n, opts), notificationOrg(n));
}

function formatKind(n: Notification, opts: SlackFormatOptions): SlackMessage {
  if (n.kind === 'followup') return formatFollowUp(n);
  if (n.kind === 'alert' && n.alert.unreadable) return formatUnreadable(n.alert, n.test);
  return n.kind === 'alert' ? formatAlert(n.alert, n.test, opts) : formatSummary(n.summary, n.test);
}

// Slack's ids and message timestamps: what a receipt may hold (the answer is Slack's, but it is
// stored and sent back, so only these shapes are kept).
const CHANNEL_ID = /^[A-Z0-9]{1,40}$/i;
const MESSAGE_TS = /^\d{1,12}\.\d{1,9}$/;

/** The channel and ts of a posted message, when the answer gives usable ones. */
function receiptOf(answer: Record<string, unknown>): DeliveryReceipt | undefined {
  const { channel, ts } = answer;
  return typeof channel === 'string' && CHANNEL_ID.test(channel) && typeof ts === 'string' && MESSAGE_TS.test(ts) ? { channel, ts } : undefined;
}

/** The parent message to update and reply under, when the alert's receipt is usable. */
function parentOf(n: FollowUpNotification): { channel: string; ts: string } | null {
  const p = n.parent;
  return p && typeof p.channel === 'string' && CHANNEL_ID.test(p.channel) && typeof p.ts === 'string' && MESSAGE_TS.test(p.ts) ? { channel: p.channel, ts: p.ts } : null;
}

// chat.update answers these when the alert message is gone or is not ours to edit: the follow-up
// still has to reach the channel, so they are logged and the reply is posted anyway.
const PARENT_GONE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed', 'msg_too_long']);

/** A Slack Web API method that answered ok:false, with its error code. */
class SlackApiRefusal extends DeliveryError {
  constructor(
    message: string,
    retryable: boolean,
    retryAfterMs: number | undefined,
    readonly error: string,
  ) {
    super(message, retryable, retryAfterMs);
  }
}

// chat.postMessage answers HTTP 200 with {ok:false,error}: these errors may pass; others need a fix.
const RETRYABLE_API_ERRORS = new Set(['ratelimited', 'rate_limited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org']);

/**
 * Posts to Slack through an incoming webhook or chat.postMessage. The bot token is sent only to
 * the configured API base (slack.com, or a loopback stand-in in tests), never through a redirect.
 */
export class SlackNotifier implements Notifier {
  readonly name = 'slack';
  readonly minIntervalMs = 1000;
  // A few tokens made at once should all reach the channel within the second, not one a second;
  // the sustained rate stays at one message a second.
  readonly burst = 5;
  readonly check?: () => Promise<void>;
  private readonly http: AxiosInstance;
  private readonly what: string;
  private readonly timeoutMs: number;

  private readonly logger: Logger | undefined;

  constructor(
    private readonly config: SlackConfig,
    opts: { timeoutMs: number; now?: () => Date; logger?: Logger; format?: SlackFormatOptions },
  ) {
    this.format = opts.format ?? {};
    this.http = createHttp(opts.timeoutMs);
    this.timeoutMs = opts.timeoutMs;
    this.logger = opts.logger;
    this.now = opts.now ?? (() => new Date());
    this.what = config.transport === 'webhook' ? 'SLACK_WEBHOOK_URL' : 'Slack chat.postMessage';
    if (config.transport === 'bot') this.check = () => this.authTest();
  }

  private readonly now: () => Date;
  private readonly format: SlackFormatOptions;

  /**
   * An alert or summary: one message; with a bot, its channel and ts come back as the receipt. A
   * follow-up with a bot and a parent: the parent is updated FIRST, then the reply is posted in its
   * thread. Updating is idempotent, so when either step fails the whole send is tried again and the
   * reply, posted last, goes out once. Without a parent (incoming webhook, alert sent in a summary,
   * no receipt) the reply is a message of its own that names the alert.
   */
  async send(n: Notification, signal?: AbortSignal): Promise<void | DeliveryReceipt> {
    const message = formatSlack(n, this.format);
    if (this.config.transport === 'webhook') {
      const res = await this.http.post(this.config.webhookUrl, message, { signal: deadlineSignal(this.timeoutMs, signal) }).catch((err: unknown) => {
        throw classifyTransportError(err, this.what);
      });
      const problem = classifyResponse(res, this.what, this.now());
      if (problem) throw problem;
      return;
    }
    if (n.kind === 'followup') return this.sendFollowUp(n, message, signal);
    return receiptOf(await this.api('chat.postMessage', { channel: this.config.channel, ...message }, signal));
  }

  private async sendFollowUp(n: FollowUpNotification, reply: SlackMessage, signal?: AbortSignal): Promise<void> {
    if (this.config.transport !== 'bot') return;
    const parent = parentOf(n);
    if (!parent) {
      await this.api('chat.postMessage', { channel: this.config.channel, ...reply }, signal);
      return;
    }
    let threaded = true;
    // Replying to a summary (the alert went out only in one): the reply goes in the summary's
    // thread, but the summary is not rewritten as this one alert.
    if (n.repliesTo && n.repliesTo !== n.alert.id) {
      await this.api('chat.postMessage', { channel: parent.channel, thread_ts: parent.ts, ...(isProminent(n.followup) ? { reply_broadcast: true } : {}), ...reply }, signal);
      return;
    }
    try {
      const updated = formatSlackParent(n, this.format);
      // chat.update takes the content only; unfurling was settled when the alert was posted.
      await this.api('chat.update', { channel: parent.channel, ts: parent.ts, text: updated.text, blocks: updated.blocks }, signal);
    } catch (err) {
      if (!(err instanceof SlackApiRefusal && PARENT_GONE.has(err.error))) throw err;
      this.logger?.warn('Slack would not update the alert message; the follow-up is posted anyway', { id: n.followup.id, alertId: n.followup.alertId, error: err.error });
      // A deleted parent has no thread left to reply in.
      threaded = err.error !== 'message_not_found';
    }
    await this.api(
      'chat.postMessage',
      threaded
        ? // A prominent reply is also shown in the channel, not only in the thread.
          { channel: parent.channel, thread_ts: parent.ts, ...(isProminent(n.followup) ? { reply_broadcast: true } : {}), ...reply }
        : { channel: parent.channel, ...reply },
      signal,
    );
  }

  private async authTest(): Promise<void> {
    await this.api('auth.test', {});
  }

  private async api(method: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    if (this.config.transport !== 'bot') return {};
    const res = await this.http
      .post(`${this.config.apiUrl}/${method}`, body, {
        headers: { Authorization: `Bearer ${this.config.token}` },
        signal: deadlineSignal(this.timeoutMs, signal),
      })
      .catch((err: unknown) => {
        throw classifyTransportError(err, `Slack ${method}`);
      });
    const problem = classifyResponse(res, `Slack ${method}`, this.now());
    if (problem) throw problem;
    let parsed: { ok?: unknown; error?: unknown };
    try {
      parsed = JSON.parse(String(res.data)) as { ok?: unknown; error?: unknown };
    } catch {
      throw new DeliveryError(`Slack ${method} answered something that is not JSON: ${serverReason(res.data)}`, true);
    }
    if (parsed !== null && typeof parsed === 'object' && parsed.ok === true) return parsed as Record<string, unknown>;
    if (parsed === null || typeof parsed !== 'object') throw new DeliveryError(`Slack ${method} answered JSON that is not an object`, true);
    // Redact before stripping: stripping first would turn an echoed token (xoxb-1-2) into text
    // (xoxb12) that no longer matches the secret, and it would then be logged.
    const error = typeof parsed.error === 'string' ? redact(parsed.error).replace(/[^a-z0-9_]/gi, '').slice(0, 60) : 'unknown_error';
    const retryable = RETRYABLE_API_ERRORS.has(error);
    const hint = HINTS[error];
    throw new SlackApiRefusal(
      `Slack ${method} refused the message: ${error}${hint ? ` (${hint})` : ''}`,
      retryable,
      retryable ? parseRetryAfter(res.headers['retry-after'], this.now()) : undefined,
      error,
    );
  }
}

const HINTS: Record<string, string> = {
  channel_not_found: 'check SLACK_CHANNEL; use the channel id, and invite the bot to private channels',
  not_in_channel: 'invite the bot to the channel in SLACK_CHANNEL',
  is_archived: 'the channel in SLACK_CHANNEL is archived',
  invalid_auth: 'SLACK_BOT_TOKEN is wrong or revoked',
  not_authed: 'SLACK_BOT_TOKEN is missing',
  token_revoked: 'SLACK_BOT_TOKEN was revoked; install the app again',
  account_inactive: 'the bot user of SLACK_BOT_TOKEN is deactivated',
  missing_scope: 'give the app the chat:write scope and reinstall it',
};
