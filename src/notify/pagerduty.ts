import type { AxiosInstance } from 'axios';
import type { Alert, AlertOrg, AlertSummary, Notification } from '../detect/alert';
import type { FollowUp } from '../follow/followup';
import type { PagerDutyConfig } from './config';
import { actionLine, actorShort, alertFacts, alertLinks, headline, historyLines, notificationOrg, ORG_BOUNDS, runbookOf, severityOf, signalLines, subjectName, summaryFacts, tokenStateLine, unreadableFacts } from './facts';
import { followUpHeadline, followUpLines, isProminent, lifecycleDone } from './followup-facts';
import { classifyResponse, classifyTransportError, createHttp, deadlineSignal } from './http';
import { DeliveryError, type Notifier } from './notifier';
import { bound, plainText, safeLink } from './sanitize';

/** PagerDuty's limits (Events API v2): summary and dedup_key lengths. */
export const PAGERDUTY_LIMITS = { summary: 1024, dedupKey: 255, source: 255, links: 10 } as const;

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';
export type PagerDutyAction = 'trigger' | 'acknowledge' | 'resolve';

/** One Events API v2 event, without the routing key (the sender adds it, so formatting never sees a secret). */
export interface PagerDutyEvent {
  event_action: PagerDutyAction;
  dedup_key: string;
  /** Only on `trigger`. */
  payload?: {
    summary: string;
    source: string;
    severity: PagerDutySeverity;
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  links?: Array<{ href: string; text: string }>;
  client?: string;
}

/**
 * The rule's severity as PagerDuty's: critical stays critical, high is `error`, medium `warning`,
 * low `info`. With PagerDuty's "urgency from severity" service setting, critical and error page
 * at high urgency, warning and info at low urgency.
 */
const SEVERITY: Record<string, PagerDutySeverity> = { critical: 'critical', high: 'error', medium: 'warning', low: 'info' };
const RAISED: Record<PagerDutySeverity, PagerDutySeverity> = { info: 'warning', warning: 'error', error: 'critical', critical: 'critical' };

/** The PagerDuty severity for a rule severity (unknown ones count as medium). */
export function pagerDutySeverity(ruleSeverity: string): PagerDutySeverity {
  return SEVERITY[severityOf({ severity: ruleSeverity as Alert['rule']['severity'] })] ?? 'warning';
}

/** The dedup_key of an alert or summary: its id, bounded to PagerDuty's limit. */
export function dedupKey(id: string): string {
  return bound(String(id), PAGERDUTY_LIMITS.dedupKey);
}

/** An event value in a summary: plain, quoted, bounded. */
const q = (value: string | null, max = 120): string => (value === null || value === undefined ? '-' : `"${plainText(value, max)}"`);
/** An event value in custom details: plain and bounded (PagerDuty links URLs there; plainText defangs them). */
const val = (value: string | null | undefined, max = 256): string => plainText(value ?? null, max);

function summaryLine(text: string): string {
  return bound(text.replace(/\s+/g, ' ').trim(), PAGERDUTY_LIMITS.summary);
}

function linksOf(list: Array<{ text: string; url: string | null }>): Array<{ href: string; text: string }> {
  const out: Array<{ href: string; text: string }> = [];
  for (const l of list) {
    const href = safeLink(l.url);
    if (href) out.push({ href, text: l.text });
  }
  return out.slice(0, PAGERDUTY_LIMITS.links);
}

/** Where the alert comes from, as PagerDuty's `source`: the Okta org's admin host, from a link we built. */
function sourceOf(link: string | null | undefined): string {
  const href = safeLink(link);
  return href ? new URL(href).hostname.slice(0, PAGERDUTY_LIMITS.source) : 'okta-token-watch';
}

function timestampOf(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d\d-\d\dT/.test(value)) return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}

function alertEvent(a: Alert, test: boolean): PagerDutyEvent {
  const severity = severityOf(a.rule);
  const details: Record<string, unknown> = {};
  for (const f of a.unreadable ? unreadableFacts(a) : alertFacts(a)) details[f.label] = val(f.value, f.max);
  if (a.unreadable) details['Raw event (start)'] = val(a.unreadable.raw, 1500);
  const signals = signalLines(a, (v) => q(v, 200));
  if (signals.length) details.Warnings = signals;
  const history = historyLines(a, (v) => q(v, 60));
  if (history.length) details.History = history;
  const state = tokenStateLine(a, (v) => q(v, 200));
  if (state) details['Token now'] = state;
  details['What to do first'] = runbookOf(a.rule).response.slice(0, 8).map((s) => plainText(s, 300));
  details.Rule = `${plainText(a.rule.name, 120)} (risk ${Number(a.rule.riskScore) || 0})`;
  details['Alert id'] = val(a.id, 120);
  if (test) details.Test = 'This is a test notification from okta-token-watch; it resolves itself.';
  return {
    event_action: 'trigger',
    dedup_key: dedupKey(a.id),
    payload: {
      summary: summaryLine(`${test ? '[TEST] ' : ''}${severity}: ${headline(a)}: ${a.eventHook ? 'event hook' : 'token'} ${q(subjectName(a))} by ${q(actorShort(a))}`),
      source: sourceOf(a.links.apiTokens),
      // A test must not page anyone at high urgency.
      severity: test ? 'info' : pagerDutySeverity(a.rule.severity),
      timestamp: timestampOf(a.event.published),
      component: 'okta-api-tokens',
      group: 'okta',
      class: plainText(a.rule.id, 100),
      custom_details: { Summary: actionLine(a, (v) => q(v, 200)), ...details },
    },
    links: linksOf(alertLinks(a)),
    client: 'okta-token-watch',
  };
}

function summaryEvent(s: AlertSummary, test: boolean): PagerDutyEvent {
  const count = Math.max(0, Math.floor(Number(s.count) || 0));
  const f = summaryFacts(s);
  return {
    event_action: 'trigger',
    dedup_key: dedupKey(s.id),
    payload: {
      summary: summaryLine(`${test ? '[TEST] ' : ''}${severityOf(s.rule)}: ${count} more Okta API token creations (summary)`),
      source: sourceOf(s.links.apiTokens),
      severity: test ? 'info' : pagerDutySeverity(s.rule.severity),
      timestamp: timestampOf(s.lastPublished),
      component: 'okta-api-tokens',
      group: 'okta',
      class: plainText(s.rule.id, 100),
      custom_details: {
        Count: count,
        Between: `${val(s.firstPublished, 40)} and ${val(s.lastPublished, 40)}`,
        Actors: [...f.actors.map((x) => `${val(x.actor, 100)} ×${Math.floor(Number(x.count) || 0)}`), ...(f.moreActors ? [`…and ${f.moreActors} more`] : [])],
        'Token names': [...f.tokenNames.map((n) => val(n, 80)), ...(f.moreNames ? [`…and ${f.moreNames} more`] : [])],
        'List them': val(s.howToList, 200),
        'Summary id': val(s.id, 60),
      },
    },
    links: linksOf([
      { text: 'API tokens page (revoke)', url: s.links.apiTokens },
      { text: 'System Log', url: s.links.systemLog },
    ]),
    client: 'okta-token-watch',
  };
}

/**
 * What a follow-up does to the alert's incident:
 * - an analyst's revoke that Okta confirmed (revoked, or already gone), an "expected" verdict, or
 *   the token's own revoke or expiry event: `resolve` (the token can no longer be used, or someone
 *   accountable said it is fine);
 * - an analyst's acknowledgement: `acknowledge`;
 * - a revoke Okta refused or that failed, and a follow-up that stands out (first use from a new
 *   country or network, a request from outside the allowed zones, the network opened to ANYWHERE,
 *   sensitive actions): `trigger` again under the alert's dedup_key, one severity step up. While the
 *   incident is open PagerDuty adds it to the incident; after it was resolved it opens a new one,
 *   which is right: the token is alive and doing something new;
 * - anything else (a routine first use, a change, the digest), and anything about a token that was
 *   revoked or expired: nothing, so that news that needs no one woken cannot reopen a resolved
 *   incident. The other notifiers carry it.
 */
export function followUpAction(f: FollowUp): PagerDutyAction | null {
  if (f.kind === 'response' && f.response) {
    const r = f.response;
    if (r.action === 'revoke') return r.result === 'revoked' || r.result === 'already-gone' ? 'resolve' : 'trigger';
    if (r.action === 'expected') return 'resolve';
    if (r.action === 'acknowledge') return 'acknowledge';
    return null;
  }
  // Only a revoke Okta carried out resolves: a refused one leaves the token alive.
  if (f.kind === 'lifecycle' && (f.lifecycle?.change === 'revoked' || f.lifecycle?.change === 'expired') && lifecycleDone(f)) return 'resolve';
  // A token that is gone can do nothing new: news about it (a digest at its revocation, a first use
  // read after the revoke) never reopens the incident its revocation resolved.
  if (tokenGone(f)) return null;
  return isProminent(f) ? 'trigger' : null;
}

/** True when the follow-up's watch says the token was revoked or expired. */
function tokenGone(f: FollowUp): boolean {
  const w = f.watch as Partial<FollowUp['watch']> | undefined;
  return typeof w === 'object' && w !== null && (typeof w.revokedAt === 'string' || w.closed === 'revoked' || w.closed === 'expired');
}

function followUpEvent(f: FollowUp, a: Alert, test: boolean, repliesTo?: string): PagerDutyEvent | null {
  const action = followUpAction(f);
  if (action === null) return null;
  // The incident is the alert's, or its summary's when the alert went out only in a summary.
  const key = dedupKey(repliesTo ?? f.alertId);
  if (action !== 'trigger') return { event_action: action, dedup_key: key, client: 'okta-token-watch' };
  const lines = followUpLines(f, (v) => q(v, 200));
  return {
    event_action: 'trigger',
    dedup_key: key,
    payload: {
      summary: summaryLine(`${test ? '[TEST] ' : ''}${followUpHeadline(f)}: ${lines[0] ?? ''}`),
      source: sourceOf(a.links?.apiTokens),
      severity: test ? 'info' : RAISED[pagerDutySeverity(a.rule?.severity ?? 'medium')],
      timestamp: timestampOf(f.createdAt),
      component: 'okta-api-tokens',
      group: 'okta',
      class: plainText(a.rule?.id ?? 'okta-api-token-create', 100),
      custom_details: { 'Follow-up': lines, 'Alert id': val(f.alertId, 120), 'Follow-up id': val(f.id, 60), Token: val(f.token?.name ?? f.token?.id ?? null, 200) },
    },
    links: a.links ? linksOf(alertLinks(a)) : [],
    client: 'okta-token-watch',
  };
}

/**
 * The Events API v2 events for one notification, in order. Pure. An alert or summary is one
 * `trigger` (dedup_key = its id); a test alert is a `trigger` at severity info followed by its
 * `resolve`, so `test-notify` leaves no open incident; a follow-up is what `followUpAction` says,
 * possibly nothing.
 */
export function formatPagerDuty(n: Notification): PagerDutyEvent[] {
  return formatKind(n).map((e) => withOrg(e, notificationOrg(n)));
}

/**
 * With several orgs, a triggered event's summary starts with `[prod] ` (after `[TEST] `) and its
 * custom_details carry `org` (the name), for PagerDuty event rules to route on. Acknowledge and
 * resolve carry no payload and are left as they are.
 */
function withOrg(e: PagerDutyEvent, org: AlertOrg | null): PagerDutyEvent {
  if (!org || !e.payload) return e;
  const name = plainText(org.name, ORG_BOUNDS.name);
  const test = e.payload.summary.startsWith('[TEST] ') ? '[TEST] ' : '';
  const summary = summaryLine(`${test}[${name}] ${e.payload.summary.slice(test.length)}`);
  return { ...e, payload: { ...e.payload, summary, custom_details: { org: name, ...e.payload.custom_details } } };
}

function formatKind(n: Notification): PagerDutyEvent[] {
  const test = n.test === true;
  if (n.kind === 'summary') return [summaryEvent(n.summary, test)];
  if (n.kind === 'followup') {
    const e = followUpEvent(n.followup, n.alert, test, n.repliesTo);
    return e ? [e] : [];
  }
  const e = alertEvent(n.alert, test);
  return test ? [e, { event_action: 'resolve', dedup_key: e.dedup_key, client: 'okta-token-watch' }] : [e];
}

/**
 * Sends events to PagerDuty's Events API v2. The routing key goes only to the configured endpoint
 * (PagerDuty, or a loopback stand-in in tests) and never into an error: PagerDuty's answer is
 * quoted in errors, so the key is cut out of it in case the answer echoes it.
 */
export class PagerDutyNotifier implements Notifier {
  readonly name = 'pagerduty';
  // The Events API takes about 120 events a minute per integration key; a burst of new tokens
  // still goes out at once.
  readonly minIntervalMs = 500;
  readonly burst = 10;
  private readonly http: AxiosInstance;
  private readonly now: () => Date;

  constructor(
    private readonly config: PagerDutyConfig,
    private readonly opts: { timeoutMs: number; now?: () => Date },
  ) {
    this.http = createHttp(opts.timeoutMs);
    this.now = opts.now ?? (() => new Date());
  }

  async send(n: Notification, signal?: AbortSignal): Promise<void> {
    for (const event of formatPagerDuty(n)) await this.post(event, signal);
  }

  private async post(event: PagerDutyEvent, signal?: AbortSignal): Promise<void> {
    const what = 'PagerDuty Events API';
    const body = { routing_key: this.config.routingKey, ...event };
    const res = await this.http.post(this.config.eventsUrl, body, { signal: deadlineSignal(this.opts.timeoutMs, signal) }).catch((err: unknown) => {
      throw classifyTransportError(err, what);
    });
    // The answer is quoted in the error, bounded: the key is cut out first, whole.
    if (typeof res.data === 'string') res.data = res.data.split(this.config.routingKey).join('[routing key]');
    const problem = classifyResponse(res, what, this.now());
    if (!problem) return;
    // PagerDuty answers 400 for an event it cannot accept, which includes an unknown routing key.
    const hint = res.status === 400 || res.status === 404 ? ' (check PAGERDUTY_ROUTING_KEY: the Integration Key of an Events API v2 integration)' : '';
    throw new DeliveryError(problem.message + hint, problem.retryable, problem.retryAfterMs);
  }
}
