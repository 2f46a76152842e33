import type { EnvReader } from '../config';

/** Every notifier this program knows, in the order they are enabled when NOTIFIERS is unset. */
export const NOTIFIER_NAMES = ['slack', 'email', 'webhook', 'pagerduty', 'teams', 'console'] as const;
export type NotifierName = (typeof NOTIFIER_NAMES)[number];

/** Slack: an incoming webhook, or a bot token posting with chat.postMessage. */
export type SlackConfig =
  | { transport: 'webhook'; webhookUrl: string }
  | { transport: 'bot'; token: string; channel: string; /** `https://slack.com/api` unless overridden for loopback tests. */ apiUrl: string };

/** Where the email notifier connects. */
export interface SmtpConfig {
  host: string;
  port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS. */
  secure: boolean;
  /** Refuse to send when the server offers no STARTTLS (default on, except on loopback). */
  requireTls: boolean;
  user: string | null;
  password: string | null;
}

export interface EmailConfig {
  smtp: SmtpConfig;
  from: string;
  to: string[];
}

export interface WebhookConfig {
  url: string;
  /** HMAC-SHA256 key for X-OTW-Signature; null sends unsigned requests. */
  secret: string | null;
}

/** PagerDuty Events API v2: one service's integration (routing) key. */
export interface PagerDutyConfig {
  /** The 32-character integration key (secret: anyone holding it can open incidents). */
  routingKey: string;
  /** The enqueue endpoint: PagerDuty's (US or EU service region), or a loopback stand-in for tests. */
  eventsUrl: string;
}

/** Microsoft Teams: a Workflows webhook (its URL carries a signature, so it is a secret). */
export interface TeamsConfig {
  webhookUrl: string;
}

/** Settings of the notifiers. */
export interface NotifyConfig {
  /** Names of the enabled notifiers, in order. Never empty. */
  enabled: string[];
  /** True when nothing was configured and console was chosen by default (start-up warns). */
  defaulted: boolean;
  /** Time limit for one HTTP request, and for each SMTP phase (connect, greeting, socket idle). */
  timeoutMs: number;
  slack: SlackConfig | null;
  email: EmailConfig | null;
  webhook: WebhookConfig | null;
  pagerduty: PagerDutyConfig | null;
  teams: TeamsConfig | null;
}

/**
 * The longest NOTIFY_TIMEOUT, which is also the dispatcher's hard limit for one send. A delivery is
 * claimed for this plus DELIVERY_CLAIM_MARGIN_MS, so a send (aborted at its deadline at the latest)
 * and the record of its result always end while the claim still holds.
 */
export const NOTIFY_TIMEOUT_MAX_MS = 120_000;
/** What a delivery's claim lasts beyond the longest send: time to record the result. */
export const DELIVERY_CLAIM_MARGIN_MS = 60_000;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const DEFAULT_SLACK_API = 'https://slack.com/api';
// A bare address, or `Name <address>`; no CR/LF, no second address.
const ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;
const NAMED_ADDRESS = /^[^\r\n<>@,;"]{0,100}<([^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+)>$/;

/** Either notifier setting named, for messages: "SMTP_HOST (or SMTP_URL)". */
type Parsed<T> = { value: T | null; missing: string | null };

function parseSlack(r: EnvReader): Parsed<SlackConfig> {
  const webhookSet = r.get('SLACK_WEBHOOK_URL') !== undefined;
  const tokenSet = r.get('SLACK_BOT_TOKEN') !== undefined;
  const channel = r.get('SLACK_CHANNEL');
  const apiSet = r.get('SLACK_API_URL') !== undefined;
  if (!webhookSet && !tokenSet && channel === undefined && !apiSet) return { value: null, missing: 'SLACK_WEBHOOK_URL (or SLACK_BOT_TOKEN and SLACK_CHANNEL)' };

  if (webhookSet && (tokenSet || channel !== undefined)) {
    r.problem('SLACK_WEBHOOK_URL and SLACK_BOT_TOKEN/SLACK_CHANNEL are both set: use either the incoming webhook or the bot token, not both.');
    r.secret('SLACK_BOT_TOKEN');
    r.url('SLACK_WEBHOOK_URL', { secret: true });
    return { value: null, missing: null };
  }
  if (webhookSet) {
    if (apiSet) r.problem('SLACK_API_URL is only used with SLACK_BOT_TOKEN: unset it when you use SLACK_WEBHOOK_URL.');
    const url = r.url('SLACK_WEBHOOK_URL', { secret: true });
    return { value: url ? { transport: 'webhook', webhookUrl: url.toString() } : null, missing: null };
  }
  const token = r.secret('SLACK_BOT_TOKEN');
  if (token === undefined) {
    r.problem('SLACK_CHANNEL is set but SLACK_BOT_TOKEN is not: set SLACK_BOT_TOKEN to the bot\'s xoxb- token, or set SLACK_WEBHOOK_URL instead and unset SLACK_CHANNEL.');
    return { value: null, missing: null };
  }
  let ok = true;
  if (!/^xoxb-[A-Za-z0-9-]{10,}$/.test(token)) {
    r.problem('SLACK_BOT_TOKEN is not a Slack bot token: use the "Bot User OAuth Token" that starts with xoxb-.');
    ok = false;
  }
  if (channel === undefined) {
    r.problem('SLACK_BOT_TOKEN is set but SLACK_CHANNEL is not: set SLACK_CHANNEL to the channel id (like C0123456789) the bot posts to.');
    ok = false;
  } else if (!/^[#]?[A-Za-z0-9._-]{1,80}$/.test(channel)) {
    r.problem('SLACK_CHANNEL must be a channel id like C0123456789 (or a #name without spaces).');
    ok = false;
  }
  // The bot token goes only to slack.com, or to a loopback stand-in for tests: never to another host.
  let apiUrl = DEFAULT_SLACK_API;
  if (apiSet) {
    const u = r.url('SLACK_API_URL');
    if (!u) ok = false;
    else if (!(LOOPBACK.has(u.hostname) || (u.protocol === 'https:' && u.hostname === 'slack.com'))) {
      r.problem('SLACK_API_URL may only point at https://slack.com/api or a loopback test server (127.0.0.1 or localhost): unset it to use Slack.');
      ok = false;
    } else apiUrl = u.toString().replace(/\/+$/, '');
  }
  return { value: ok && channel ? { transport: 'bot', token, channel, apiUrl } : null, missing: null };
}

function parseSmtpUrl(r: EnvReader, raw: string): Omit<SmtpConfig, 'requireTls'> | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    r.problem('SMTP_URL is not a valid URL: use smtp://user:password@host:587 or smtps://user:password@host:465.');
    return null;
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') {
    r.problem('SMTP_URL must start with smtp:// (STARTTLS) or smtps:// (TLS).');
    return null;
  }
  if (!u.hostname) {
    r.problem('SMTP_URL has no host: use smtp://user:password@host:587.');
    return null;
  }
  if (u.search || (u.pathname && u.pathname !== '/')) {
    r.problem('SMTP_URL must not carry a path or query options: use SMTP_REQUIRE_TLS and the other SMTP_ settings for options.');
    return null;
  }
  const secure = u.protocol === 'smtps:';
  const user = u.username ? decodeURIComponent(u.username) : null;
  const password = u.password ? decodeURIComponent(u.password) : null;
  if (password) r.secrets.push(password);
  if (u.password) r.secrets.push(u.password);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : secure ? 465 : 587, secure, user, password };
}

function parseAddresses(r: EnvReader, name: string, raw: string, many: boolean): string[] | null {
  const parts = many ? raw.split(',').map((s) => s.trim()).filter(Boolean) : [raw];
  if (parts.length === 0 || parts.length > 50) {
    r.problem(`${name} must list from 1 to 50 email addresses, separated by commas.`);
    return null;
  }
  for (const p of parts) {
    if (!ADDRESS.test(p) && !NAMED_ADDRESS.test(p)) {
      r.problem(`${name} is not ${many ? 'a comma-separated list of email addresses' : 'an email address'}: use ${many ? 'secops@example.com, oncall@example.com' : 'okta-token-watch@example.com or "Token Watch <otw@example.com>"'}.`);
      return null;
    }
  }
  return parts;
}

function parseEmail(r: EnvReader): Parsed<EmailConfig> {
  const names = ['SMTP_URL', 'SMTP_HOST', 'SMTP_PORT', 'SMTP_USER', 'SMTP_PASSWORD', 'SMTP_SECURE', 'SMTP_REQUIRE_TLS', 'EMAIL_FROM', 'EMAIL_TO'] as const;
  const set = names.filter((n) => r.get(n) !== undefined);
  if (set.length === 0) return { value: null, missing: 'SMTP_HOST (or SMTP_URL)' };
  const before = r.problems.length;

  const rawUrl = r.secret('SMTP_URL');
  const host = r.get('SMTP_HOST');
  const password = r.secret('SMTP_PASSWORD');
  let smtp: Omit<SmtpConfig, 'requireTls'> | null = null;
  if (rawUrl !== undefined && host !== undefined) {
    r.problem('SMTP_URL and SMTP_HOST are both set: use one of them.');
  } else if (rawUrl !== undefined) {
    for (const n of ['SMTP_PORT', 'SMTP_USER', 'SMTP_PASSWORD', 'SMTP_SECURE'] as const) {
      if (r.get(n) !== undefined) r.problem(`${n} is set together with SMTP_URL: put everything in SMTP_URL, or use SMTP_HOST and the SMTP_ settings instead.`);
    }
    smtp = parseSmtpUrl(r, rawUrl);
  } else if (host !== undefined) {
    const secureSet = r.get('SMTP_SECURE') !== undefined;
    let secure = r.boolean('SMTP_SECURE', false);
    const port = r.integer('SMTP_PORT', secure ? 465 : 587, 1, 65535);
    if (!secureSet && port === 465) secure = true;
    const user = r.get('SMTP_USER') ?? null;
    if (user !== null && password === undefined) r.problem('SMTP_USER is set but SMTP_PASSWORD is not: set SMTP_PASSWORD, or unset SMTP_USER for a relay without login.');
    if (user === null && password !== undefined) r.problem('SMTP_PASSWORD is set but SMTP_USER is not: set SMTP_USER to the login name.');
    if (!/^[A-Za-z0-9.-]{1,253}$|^\[?[0-9a-fA-F:.]+\]?$/.test(host)) r.problem('SMTP_HOST must be a host name or IP address, without scheme or port (use SMTP_PORT).');
    smtp = { host: host.replace(/^\[|\]$/g, ''), port, secure, user, password: password ?? null };
  } else {
    r.problem(`${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set but SMTP_HOST (or SMTP_URL) is not: set SMTP_HOST to your mail server, or unset the email settings to turn email off.`);
  }

  const fromRaw = r.get('EMAIL_FROM');
  const toRaw = r.get('EMAIL_TO');
  if (fromRaw === undefined) r.problem('EMAIL_FROM is not set: set it to the sender address, like okta-token-watch@example.com.');
  if (toRaw === undefined) r.problem('EMAIL_TO is not set: set it to the recipients, separated by commas, like secops@example.com.');
  const from = fromRaw !== undefined ? parseAddresses(r, 'EMAIL_FROM', fromRaw, false)?.[0] : undefined;
  const to = toRaw !== undefined ? parseAddresses(r, 'EMAIL_TO', toRaw, true) : null;

  const loopback = smtp !== null && (LOOPBACK.has(smtp.host) || smtp.host === '::1');
  const requireTls = r.boolean('SMTP_REQUIRE_TLS', !loopback);
  if (r.problems.length > before || !smtp || !from || !to) return { value: null, missing: null };
  return { value: { smtp: { ...smtp, requireTls }, from, to }, missing: null };
}

function parseWebhook(r: EnvReader): Parsed<WebhookConfig> {
  const urlSet = r.get('WEBHOOK_URL') !== undefined;
  const secret = r.secret('WEBHOOK_SECRET');
  if (!urlSet && secret === undefined) return { value: null, missing: 'WEBHOOK_URL' };
  if (!urlSet) {
    r.problem('WEBHOOK_SECRET is set but WEBHOOK_URL is not: set WEBHOOK_URL to the receiver\'s https URL, or unset WEBHOOK_SECRET.');
    return { value: null, missing: null };
  }
  const url = r.url('WEBHOOK_URL', { secret: true });
  let ok = url !== undefined;
  if (secret !== undefined && secret.length < 16) {
    r.problem('WEBHOOK_SECRET is too short: use at least 16 random characters (for example the output of openssl rand -hex 32).');
    ok = false;
  }
  return { value: ok && url ? { url: url.toString(), secret: secret ?? null } : null, missing: null };
}

/** PagerDuty's Events API v2 endpoint; the EU service region has its own host. */
export const DEFAULT_PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';
const PAGERDUTY_HOSTS = new Set(['events.pagerduty.com', 'events.eu.pagerduty.com']);

function parsePagerDuty(r: EnvReader): Parsed<PagerDutyConfig> {
  const key = r.secret('PAGERDUTY_ROUTING_KEY');
  const urlSet = r.get('PAGERDUTY_EVENTS_URL') !== undefined;
  if (key === undefined && !urlSet) return { value: null, missing: 'PAGERDUTY_ROUTING_KEY' };
  let ok = true;
  if (key === undefined) {
    r.problem('PAGERDUTY_EVENTS_URL is set but PAGERDUTY_ROUTING_KEY is not: set the integration key of the service\'s Events API v2 integration, or unset PAGERDUTY_EVENTS_URL.');
    ok = false;
  } else if (!/^[A-Za-z0-9]{32}$/.test(key)) {
    r.problem('PAGERDUTY_ROUTING_KEY is not an Events API v2 integration key: copy the 32-character "Integration Key" of the service\'s Events API v2 integration.');
    ok = false;
  }
  // The routing key goes only to PagerDuty, or to a loopback stand-in for tests: never to another host.
  let eventsUrl = DEFAULT_PAGERDUTY_EVENTS_URL;
  if (urlSet) {
    const u = r.url('PAGERDUTY_EVENTS_URL');
    if (!u) ok = false;
    else if (!(LOOPBACK.has(u.hostname) || (u.protocol === 'https:' && PAGERDUTY_HOSTS.has(u.hostname)))) {
      r.problem('PAGERDUTY_EVENTS_URL may only point at https://events.pagerduty.com/v2/enqueue (or events.eu.pagerduty.com) or a loopback test server: unset it to use PagerDuty.');
      ok = false;
    } else eventsUrl = u.toString();
  }
  return { value: ok && key ? { routingKey: key, eventsUrl } : null, missing: null };
}

function parseTeams(r: EnvReader): Parsed<TeamsConfig> {
  if (r.get('TEAMS_WEBHOOK_URL') === undefined) return { value: null, missing: 'TEAMS_WEBHOOK_URL' };
  const url = r.url('TEAMS_WEBHOOK_URL', { secret: true });
  if (!url) return { value: null, missing: null };
  // The URL is used normalised (`:443` dropped), which no longer contains the value as written; the
  // flow's signature alone is enough to post, so it is redacted wherever it shows up too.
  r.secrets.push(url.toString());
  const sig = url.searchParams.get('sig');
  if (sig && sig.length >= 8) r.secrets.push(sig);
  return { value: { webhookUrl: url.toString() }, missing: null };
}

/** Parses the notifier settings, recording problems on the reader. */
export function parseNotifyConfig(r: EnvReader): NotifyConfig {
  let timeoutMs = r.duration('NOTIFY_TIMEOUT', '20s');
  if (timeoutMs > NOTIFY_TIMEOUT_MAX_MS) {
    r.problem(
      `NOTIFY_TIMEOUT must be at most ${NOTIFY_TIMEOUT_MAX_MS / 60_000}m: a send has to end before its delivery claim (${(NOTIFY_TIMEOUT_MAX_MS + DELIVERY_CLAIM_MARGIN_MS) / 60_000}m) runs out, or another process could send the same alert again.`,
    );
    timeoutMs = NOTIFY_TIMEOUT_MAX_MS;
  }
  // Each notifier's settings are checked whether or not NOTIFIERS lists it: a half-configured
  // notifier is a mistake to report, never a reason to switch it off silently.
  const slack = parseSlack(r);
  const email = parseEmail(r);
  const webhook = parseWebhook(r);
  const pagerduty = parsePagerDuty(r);
  const teams = parseTeams(r);
  const configured: Record<NotifierName, Parsed<unknown>> = {
    slack,
    email,
    webhook,
    pagerduty,
    teams,
    console: { value: true, missing: null },
  };

  const list = r.get('NOTIFIERS');
  let enabled: string[];
  let defaulted = false;
  if (list !== undefined) {
    const names = [...new Set(list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))];
    enabled = [];
    for (const n of names) {
      if (!(NOTIFIER_NAMES as readonly string[]).includes(n)) {
        r.problem(`NOTIFIERS names an unknown notifier "${n.replace(/[^a-z0-9_-]/g, '?').slice(0, 20)}": use ${NOTIFIER_NAMES.join(', ')}.`);
        continue;
      }
      const c = configured[n as NotifierName];
      if (c.value === null && c.missing !== null) {
        r.problem(`NOTIFIERS includes ${n} but ${c.missing} is not set: set it, or remove ${n} from NOTIFIERS.`);
      }
      enabled.push(n);
    }
    if (enabled.length === 0) {
      if (names.length === 0) r.problem('NOTIFIERS is empty: list notifiers like slack,email, or unset it to enable every configured one.');
      enabled = ['console'];
    }
  } else {
    enabled = NOTIFIER_NAMES.filter((n) => n !== 'console' && configured[n].value !== null);
    if (enabled.length === 0) {
      enabled = ['console'];
      defaulted = true;
    }
  }
  return { enabled, defaulted, timeoutMs, slack: slack.value, email: email.value, webhook: webhook.value, pagerduty: pagerduty.value, teams: teams.value };
}
