import type { AxiosInstance } from 'axios';
import type { Alert, AlertOrg, AlertSummary, Notification } from '../detect/alert';
import type { FollowUp } from '../follow/followup';
import type { TeamsConfig } from './config';
import { actionLine, alertFacts, alertLinks, headline, historyLines, mitreIds, notificationOrg, orgFact, runbookOf, severityOf, signalLines, summaryFacts, tokenStateLine, UNREADABLE_HEADLINE, unreadableFacts, unreadableIntro } from './facts';
import { followUpHeadline, followUpLines, isProminent } from './followup-facts';
import { classifyResponse, classifyTransportError, createHttp, deadlineSignal } from './http';
import { DeliveryError, type Notifier } from './notifier';
import { plainText, safeLink } from './sanitize';

/**
 * Teams refuses a message over about 28 KB; the card is cut below that (see `fitCard`). Response
 * steps shown are bounded like Slack's; facts are bounded by facts.ts.
 */
export const TEAMS_LIMITS = { bytes: 26_000, steps: 8, actions: 6 } as const;

type Element = Record<string, unknown>;

/** The Workflows webhook body: one message carrying one Adaptive Card. */
export interface TeamsMessage {
  type: 'message';
  attachments: Array<{ contentType: 'application/vnd.microsoft.card.adaptive'; contentUrl: null; content: AdaptiveCard }>;
}

export interface AdaptiveCard {
  $schema: string;
  type: 'AdaptiveCard';
  version: '1.4';
  body: Element[];
  actions: Element[];
  msteams: { width: 'Full' };
}

// Everything an Adaptive Card TextBlock (Teams' markdown subset) could read as formatting: emphasis,
// links and images (no `(` without a `[` before it), code, headings, quotes, tables, HTML-looking
// text and `{{DATE(...)}}` functions. A backslash before it makes it literal.
const MARKDOWN = /[\\`*_~[\]#>|<{}]/g;

/**
 * One raw value for a TextBlock or FactSet value: plainText (invisible characters shown, URL
 * schemes defanged, bounded), then every markdown character escaped with a backslash, and a
 * leading list marker (`-`, `+`, `1.`) broken, so no value can become a link, a list or emphasis.
 */
export function teamsText(value: unknown, max = 256): string {
  const s = plainText(value, max);
  if (value === null || value === undefined || s === '-') return '-';
  // CommonMark escapes only punctuation: `12\. item`, not `\12. item`.
  return s.replace(MARKDOWN, '\\$&').replace(/^([-+])(\s)/, '\\$1$2').replace(/^(\d+)\.(\s)/, '$1\\.$2');
}

/**
 * A raw value inside one of our sentences: escaped, in bold so it stands apart from our words. An
 * unknown one is a word, not `-`, which at the start of a sentence would make a list item.
 */
const b = (value: string | null, max = 200): string => (value === null || value === undefined || plainText(value, max) === '-' ? 'unknown' : `**${teamsText(value, max)}**`);

/** Our own sentence (fixed words), escaped too: rule names and runbook steps come from rule files. */
const own = (text: string, max = 600): string => teamsText(text, max);

function text(t: string, extra: Element = {}): Element {
  return { type: 'TextBlock', text: t, wrap: true, ...extra };
}

function facts(list: Array<{ label: string; value: string | null; max: number }>): Element {
  return { type: 'FactSet', facts: list.map((f) => ({ title: own(f.label, 60), value: teamsText(f.value, f.max) })) };
}

function openUrls(links: Array<{ text: string; url: string | null }>): Element[] {
  const out: Element[] = [];
  for (const l of links) {
    const url = safeLink(l.url);
    if (url) out.push({ type: 'Action.OpenUrl', title: l.text.slice(0, 60), url });
  }
  return out.slice(0, TEAMS_LIMITS.actions);
}

const COLOR: Record<string, string> = { critical: 'Attention', high: 'Attention', medium: 'Warning', low: 'Default' };

function title(t: string, severity: string): Element {
  return text(t, { size: 'Large', weight: 'Bolder', color: COLOR[severity] ?? 'Warning' });
}

function testLine(test: boolean): Element[] {
  return test ? [text('**This is a test notification from okta-token-watch.**')] : [];
}

function card(body: Element[], actions: Element[]): TeamsMessage {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', body, actions, msteams: { width: 'Full' } },
      },
    ],
  };
}

function alertCard(a: Alert, test: boolean): TeamsMessage {
  const severity = severityOf(a.rule);
  const prefix = test ? '[TEST] ' : '';
  if (a.unreadable) {
    return card(
      [
        title(`${prefix}${severity.toUpperCase()}: ${UNREADABLE_HEADLINE}`, severity),
        ...testLine(test),
        ...unreadableIntro(a).map((l) => text(own(l))),
        facts(unreadableFacts(a)),
        text(`**Raw event (start)**\n\n${teamsText(a.unreadable.raw, 1500)}`),
        footer(`${own(a.rule.name, 120)} · alert ${teamsText(a.id, 100)}`),
      ],
      openUrls([
        { text: 'Find the event in Okta', url: a.links.event },
        { text: 'API tokens page', url: a.links.apiTokens },
      ]),
    );
  }
  const body: Element[] = [title(`${prefix}${severity.toUpperCase()}: ${headline(a)}`, severity), ...testLine(test), text(actionLine(a, (v) => b(v)))];
  for (const l of signalLines(a, (v) => b(v))) body.push(text(`⚠ ${l}`, { color: 'Attention' }));
  body.push(facts(alertFacts(a).filter((f) => f.label !== 'Actor id')));
  const history = historyLines(a, (v) => b(v, 60));
  if (history.length) body.push(text('**What this database has seen**', { spacing: 'Medium' }), ...history.map((l) => text(`• ${l}`, { spacing: 'None' })));
  const state = tokenStateLine(a, (v) => b(v));
  if (state) body.push(text(`**Token now:** ${state}`));
  const steps = runbookOf(a.rule).response.slice(0, TEAMS_LIMITS.steps);
  if (steps.length) body.push(text('**What to do first**', { spacing: 'Medium' }), ...steps.map((s, i) => text(`${i + 1}\\. ${own(s, 300)}`, { spacing: 'None' })));
  const mitre = mitreIds(a.rule);
  const ids = [...mitre.tactics, ...mitre.techniques];
  body.push(footer(`${own(a.rule.name, 120)} · risk ${Number(a.rule.riskScore) || 0} · alert ${teamsText(a.id, 100)}${ids.length ? ` · MITRE ATT&CK ${ids.join(' · ')}` : ''}`));
  return card(body, openUrls(alertLinks(a)));
}

function footer(t: string): Element {
  return text(t, { isSubtle: true, size: 'Small', spacing: 'Medium' });
}

function summaryCard(s: AlertSummary, test: boolean): TeamsMessage {
  const severity = severityOf(s.rule);
  const count = Math.max(0, Math.floor(Number(s.count) || 0));
  const f = summaryFacts(s);
  const actors = f.actors.map((x) => `${teamsText(x.actor, 100)} ×${Math.floor(Number(x.count) || 0)}`);
  if (f.moreActors) actors.push(`…and ${f.moreActors} more`);
  const names = f.tokenNames.map((n) => teamsText(n, 80));
  if (f.moreNames) names.push(`…and ${f.moreNames} more`);
  return card(
    [
      title(`${test ? '[TEST] ' : ''}${severity.toUpperCase()}: ${count} more Okta API token creations`, severity),
      ...testLine(test),
      text(`${count} API token creations between ${b(s.firstPublished, 40)} and ${b(s.lastPublished, 40)} went over the per-tick alert limit, so they are summarised here instead of one message each. Every one of them is stored.`),
      { type: 'FactSet', facts: [{ title: 'Actors', value: actors.join(', ') || '-' }, { title: 'Token names', value: names.join(', ') || '-' }, { title: 'List them', value: teamsText(s.howToList, 200) }] },
      footer(`${own(s.rule.name, 120)} · summary ${teamsText(s.id, 60)}`),
    ],
    openUrls([
      { text: 'API tokens page', url: s.links.apiTokens },
      { text: 'System Log', url: s.links.systemLog },
    ]),
  );
}

function followUpCard(f: FollowUp, a: Alert, test: boolean): TeamsMessage {
  const severity = severityOf(a.rule ?? { severity: 'medium' });
  const loud = isProminent(f);
  const lines = followUpLines(f, (v) => b(v));
  return card(
    [
      title(`${test ? '[TEST] ' : ''}${followUpHeadline(f)}`, loud ? 'critical' : severity),
      ...testLine(test),
      // A follow-up names its alert: Teams cannot thread a webhook post under the alert's message.
      text(`Follow-up to the alert "${headline(a)}" about ${b(a.token?.name ?? f.token?.name ?? null)} by ${b(a.actor?.login ?? a.actor?.displayName ?? a.actor?.id ?? null)} (alert ${teamsText(f.alertId, 100)}).`, { isSubtle: true }),
      ...lines.map((l, i) => text(l, i > 0 && loud ? { color: 'Attention' } : {})),
      footer(`follow-up ${teamsText(f.id, 60)}`),
    ],
    a.links ? openUrls(alertLinks(a)) : [],
  );
}

/**
 * Drops body elements from the end (the footer stays) until the message fits Teams' size limit.
 * Fields are bounded long before this; it is the last line of defence.
 */
export function fitCard(m: TeamsMessage): TeamsMessage {
  const content = m.attachments[0]!.content;
  while (Buffer.byteLength(JSON.stringify(m), 'utf8') > TEAMS_LIMITS.bytes && content.body.length > 2) content.body.splice(content.body.length - 2, 1);
  return m;
}

/** The Workflows webhook message for one notification. Pure. */
export function formatTeams(n: Notification): TeamsMessage {
  const test = n.test === true;
  if (n.kind === 'summary') return fitCard(withOrg(summaryCard(n.summary, test), notificationOrg(n)));
  if (n.kind === 'followup') return fitCard(withOrg(followUpCard(n.followup, n.alert, test), notificationOrg(n)));
  return fitCard(withOrg(alertCard(n.alert, test), notificationOrg(n)));
}

/**
 * With several orgs, the card's first fact names the org (`Okta org: prod (url)`): in the card's
 * first FactSet, or in a FactSet of its own under the title when the card has none. Unchanged in a
 * single-org install.
 */
function withOrg(m: TeamsMessage, org: AlertOrg | null): TeamsMessage {
  if (!org) return m;
  const body = m.attachments[0]!.content.body;
  const fact = facts([orgFact(org)]).facts as Element[];
  const set = body.find((e) => e.type === 'FactSet');
  if (set) set.facts = [...fact, ...(set.facts as Element[])];
  else body.splice(1, 0, { type: 'FactSet', facts: fact });
  return m;
}

/**
 * True for an Office 365 connector webhook (`*.webhook.office.com`), which Microsoft is retiring in
 * favour of Workflows; `check` warns about it.
 */
export function isConnectorUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.toLowerCase();
    return host.endsWith('.webhook.office.com') || host === 'outlook.office.com' || host === 'outlook.office365.com';
  } catch {
    return false;
  }
}

/**
 * Posts the card to a Teams Workflows webhook ("Post to a channel when a webhook request is
 * received"). The URL carries the flow's signature, so it never appears in an error, and a redirect
 * is not followed.
 */
export class TeamsNotifier implements Notifier {
  readonly name = 'teams';
  // Teams allows a few messages a second per webhook; one a second keeps well inside it.
  readonly minIntervalMs = 1000;
  readonly burst = 4;
  private readonly http: AxiosInstance;
  private readonly now: () => Date;

  constructor(
    private readonly config: TeamsConfig,
    private readonly opts: { timeoutMs: number; now?: () => Date },
  ) {
    this.http = createHttp(opts.timeoutMs);
    this.now = opts.now ?? (() => new Date());
  }

  async send(n: Notification, signal?: AbortSignal): Promise<void> {
    const message = formatTeams(n);
    const res = await this.http.post(this.config.webhookUrl, message, { signal: deadlineSignal(this.opts.timeoutMs, signal) }).catch((err: unknown) => {
      throw classifyTransportError(err, 'TEAMS_WEBHOOK_URL');
    });
    // The answer is quoted in the error (bounded, so a cut-off secret would slip past a later
    // search): a flow that echoes its own URL must not leak the signature, so it goes first.
    if (typeof res.data === 'string') res.data = this.scrub(res.data);
    const problem = classifyResponse(res, 'TEAMS_WEBHOOK_URL', this.now());
    if (!problem) return;
    const hint = res.status === 401 || res.status === 403 || res.status === 404 ? ' (the flow was deleted or turned off, or TEAMS_WEBHOOK_URL is incomplete: copy the whole "HTTP POST URL" of the Workflows trigger)' : '';
    throw new DeliveryError(problem.message + hint, problem.retryable, problem.retryAfterMs);
  }

  private scrub(text: string): string {
    let out = text.split(this.config.webhookUrl).join('[TEAMS_WEBHOOK_URL]');
    const sig = new URL(this.config.webhookUrl).searchParams.get('sig');
    if (sig) out = out.split(sig).join('[signature]').split(encodeURIComponent(sig)).join('[signature]');
    return out;
  }
}
