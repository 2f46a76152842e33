import type { Alert, AlertOrg, AlertPrincipal, AlertRule, AlertSummary, Notification } from '../detect/alert';
import { HISTORY_COUNT_CAP, HISTORY_WINDOW_DAYS } from '../detect/history';
import { bound } from './sanitize';

/**
 * The facts every human-readable notifier shows, in one place so Slack and email say the same
 * thing. Values are raw (possibly hostile) text; each format escapes them itself.
 */
export interface Fact {
  label: string;
  /** Raw value; null when unknown. */
  value: string | null;
  /** Bound for this value, in code points. */
  max: number;
}

const SEVERITIES = new Set(['low', 'medium', 'high', 'critical']);

/** The rule's severity when it is one we know, else `medium` (it is only used in fixed text). */
export function severityOf(rule: Pick<AlertRule, 'severity'>): string {
  return SEVERITIES.has(rule.severity) ? rule.severity : 'medium';
}

/** True when Okta reports the creation as successful. */
export function succeeded(a: Alert): boolean {
  return a.outcome.result.toUpperCase() === 'SUCCESS';
}

/** What happened, in fixed words (no event text): safe for headers and subjects. */
export function headline(a: Alert): string {
  if (a.unreadable) return UNREADABLE_HEADLINE;
  if (a.eventHook) return eventHookHeadline(a);
  if (a.lifecycle) return lifecycleHeadline(a);
  return succeeded(a) ? 'Okta API token created' : 'Okta API token creation attempted';
}

const HOOK_VERBS: Record<string, { done: string; tried: string }> = {
  deactivated: { done: 'deactivated', tried: 'deactivate' },
  deleted: { done: 'deleted', tried: 'delete' },
  updated: { done: 'changed', tried: 'change' },
};

/** The event-hook rule's headline: which hook (ours or not confirmed), what happened, attempt or done. */
function eventHookHeadline(a: Alert): string {
  const h = a.eventHook!;
  const whose = h.ours ? 'the okta-token-watch event hook' : 'an Okta event hook';
  if (h.change === 'delivery failed') return `Okta failed to deliver to ${whose}`;
  const verb = HOOK_VERBS[h.change] ?? HOOK_VERBS.updated!;
  const hook = whose.charAt(0).toUpperCase() + whose.slice(1);
  return succeeded(a) ? `${hook} was ${verb.done}` : `Attempt to ${verb.tried} ${whose}`;
}

const LIFECYCLE_HEADLINES: Record<string, { done: string; tried: string }> = {
  revoked: { done: 'Okta API token revoked', tried: 'Okta API token revocation attempted' },
  // Okta's own expiry: never an attempt, never a person.
  expired: { done: 'Okta API token expired (revoked by Okta, not by a person)', tried: 'Okta API token expired (revoked by Okta, not by a person)' },
  updated: { done: 'Okta API token changed', tried: 'Okta API token change attempted' },
  // Okta refuses such a request: the alert is the attempt itself, whatever the outcome says.
  'outside-range': { done: 'Okta API token used from outside its allowed network zones', tried: 'Okta API token used from outside its allowed network zones' },
  enabled: { done: 'Okta API token re-enabled', tried: 'Okta API token re-enable attempted' },
};

/** A lifecycle rule's headline: what happened to the token, attempt or done; opening it to any network named as such. */
function lifecycleHeadline(a: Alert): string {
  const l = a.lifecycle!;
  if (l.change === 'updated' && l.networkAnywhere) return succeeded(a) ? 'Okta API token opened to any network' : 'Attempt to open an Okta API token to any network';
  const h = LIFECYCLE_HEADLINES[l.change] ?? LIFECYCLE_HEADLINES.updated!;
  return succeeded(a) ? h.done : h.tried;
}

/** The token's network condition as text (raw values): `ZONE, include: a, b; exclude: c`, or null. */
export function networkConditionText(n: Alert['network'] | null | undefined): string | null {
  if (!n) return null;
  const parts = [n.connection, n.includedZones?.length ? `include: ${n.includedZones.join(', ')}` : null, n.excludedZones?.length ? `exclude: ${n.excludedZones.join(', ')}` : null];
  return join(parts, '; ');
}

/** A lifecycle alert's sentence (see actionLine): who did what to which token, and its network condition. */
function lifecycleAction(a: Alert, v: (value: string | null) => string): string {
  const l = a.lifecycle!;
  const token = v(a.token?.name ?? a.token?.id ?? null);
  const who = v(actorShort(a));
  const ok = succeeded(a);
  const net = networkConditionText(a.network);
  switch (l.change) {
    case 'expired':
      return `Okta itself (${who}) revoked API token ${token}: it went unused for its whole expiry window. No person revoked it.`;
    case 'revoked':
      return `${who} ${ok ? 'revoked' : 'tried to revoke'} API token ${token} in Okta.`;
    case 'outside-range':
      return `A request made with API token ${token} (acting as ${who}) came from ${v(a.client.ip)}, outside the network zones the token is limited to${net ? ` (network condition ${v(net)})` : ''}; outcome ${v(a.outcome.result)}.`;
    case 'enabled':
      return `${who} ${ok ? 're-enabled' : 'tried to re-enable'} API token ${token} in Okta.`;
    case 'updated':
    default:
      if (l.networkAnywhere) return `${who} ${ok ? 'changed' : 'tried to change'} API token ${token} to work from any network (network condition ${v(net)}).`;
      return `${who} ${ok ? 'changed' : 'tried to change'} API token ${token} in Okta${net ? ` (network condition now ${v(net)})` : ''}.`;
  }
}

/** The thing the alert is about, by name: the token's, or the event hook's. */
export function subjectName(a: Alert): string | null {
  return a.eventHook ? a.eventHook.name : (a.token?.name ?? null);
}

/**
 * The alert in one sentence of fixed words, data values through `v`: who did what to which token
 * or event hook. `v` receives null as well, for a value the event does not give.
 */
export function actionLine(a: Alert, v: (value: string | null) => string): string {
  if (a.eventHook) {
    const h = a.eventHook;
    if (h.change === 'delivery failed') return `Okta could not deliver events to event hook ${v(h.name ?? h.id)}.`;
    const verb = HOOK_VERBS[h.change] ?? HOOK_VERBS.updated!;
    const did = succeeded(a) ? verb.done : `tried to ${verb.tried}`;
    return `${v(actorShort(a))} ${did} event hook ${v(h.name ?? h.id)} in Okta${h.ours ? '' : ' (not confirmed as the okta-token-watch hook: no registered hook id is known, or it names another)'}.`;
  }
  if (a.lifecycle) return lifecycleAction(a, v);
  const verb = succeeded(a) ? 'created API token' : 'tried to create API token';
  return `${v(actorShort(a))} ${verb} ${v(a.token?.name ?? null)} in Okta.`;
}

/** The headline of an alert for an event this program could not read. */
export const UNREADABLE_HEADLINE = 'An Okta event this program could not read';

/**
 * What an unreadable-event alert says, in fixed words: the event is one the System Log query for
 * token creation returned, so it may be one; what went wrong; and what to do.
 */
export function unreadableIntro(a: Alert): string[] {
  return [
    'Okta returned an event for the detection query (API token creation or a later change to a token, changes to the event hook) that okta-token-watch could not read, so it cannot say who did what. Treat it as a possible API token creation, a token opened up or used from outside its zones, or the push hook being switched off, until you have looked at it in Okta.',
    a.unreadable?.keyFromContent
      ? 'The event has no usable uuid; the id below is derived from its content, and the link searches the System Log for token creations around its time.'
      : 'The event is stored with its raw JSON; the link opens it in the System Log by its uuid.',
  ];
}

/** The facts of an unreadable-event alert: whatever could be salvaged, raw values. */
export function unreadableFacts(a: Alert): Fact[] {
  return [
    { label: 'Why', value: a.unreadable?.reason ?? null, max: 300 },
    { label: a.unreadable?.keyFromContent ? 'Key (no uuid)' : 'Event uuid', value: a.event.uuid, max: 120 },
    { label: 'Time', value: a.event.published || null, max: 40 },
    { label: 'Actor', value: actorText(a), max: 200 },
    { label: 'Token name', value: a.token?.name ?? null, max: 200 },
    { label: 'Outcome', value: a.outcome.result, max: 100 },
    { label: 'Client IP', value: a.client.ip, max: 64 },
  ];
}

/** The actor as one string: `Display Name (login)`, or whatever part is known. */
export function actorText(a: Alert): string | null {
  const { displayName, login, id } = a.actor;
  if (displayName && login && displayName !== login) return `${displayName} (${login})`;
  return login ?? displayName ?? id;
}

/** The actor as a short name for subjects: login, else display name, else id. */
export function actorShort(a: Alert): string {
  return a.actor.login ?? a.actor.displayName ?? a.actor.id ?? 'unknown actor';
}

function join(parts: Array<string | null | undefined>, sep = ', '): string | null {
  const kept = parts.filter((p): p is string => typeof p === 'string' && p.trim() !== '');
  return kept.length ? kept.join(sep) : null;
}

/** The main facts of an alert, in display order. */
export function alertFacts(a: Alert): Fact[] {
  const c = a.client;
  const network = join([
    c.zone && c.zone !== 'null' ? `zone ${c.zone}` : null,
    c.asNumber !== null ? `AS${c.asNumber}${c.asOrg ? ` ${c.asOrg}` : ''}` : c.asOrg,
    c.isp ? `ISP ${c.isp}` : null,
    c.isProxy === true ? 'via a proxy' : c.isProxy === false ? 'no proxy' : null,
  ]);
  const via = a.via.kind === 'admin-console' ? 'Admin Console' : a.via.kind === 'api' ? 'API' : 'unknown';
  const subject: Fact[] = a.eventHook
    ? [
        { label: 'Event hook', value: a.eventHook.name ?? 'the event names no event hook', max: 200 },
        { label: 'Event hook id', value: a.eventHook.id, max: 64 },
        { label: 'Ours', value: a.eventHook.ours ? 'yes, the hook okta-token-watch registered' : 'not confirmed', max: 60 },
      ]
    : [
        { label: 'Token name', value: a.token ? a.token.name : 'the event names no token', max: 200 },
        { label: 'Token id', value: a.token?.id ?? null, max: 64 },
      ];
  const rest: Fact[] = [
    { label: 'Outcome', value: join([a.outcome.result, a.outcome.reason], ': '), max: 300 },
    { label: 'Time', value: a.event.published, max: 40 },
    { label: 'Client IP', value: a.client.ip, max: 64 },
    { label: 'Location', value: join([c.city, c.region, c.country]), max: 200 },
    { label: 'Network', value: network, max: 300 },
    ...(a.eventHook
      ? []
      : a.lifecycle
        ? [
            { label: 'Token network', value: networkConditionText(a.network), max: 300 },
            { label: 'Request made with', value: a.createdByTokenId ? `API token ${a.createdByTokenId}` : null, max: 200 },
          ]
        : [{ label: 'Created via', value: join([via, a.createdByTokenId ? `by API token ${a.createdByTokenId}` : null], ', '), max: 200 }]),
    { label: 'User agent', value: c.userAgent.raw ?? join([c.userAgent.browser, c.userAgent.os], ' on '), max: 512 },
  ];
  return [{ label: 'Actor', value: actorText(a), max: 200 }, { label: 'Actor id', value: a.actor.id, max: 64 }, ...subject, ...rest];
}

/** Renders one data value inside one of our sentences (escaping it for the output format). */
export type ValueRenderer = (value: string) => string;

/** A history count as words: the store's queries stop counting at HISTORY_COUNT_CAP, which reads "N or more". */
export function historyCount(n: number): string {
  return n >= HISTORY_COUNT_CAP ? `${HISTORY_COUNT_CAP} or more` : String(n);
}

const DAY_MS = 86_400_000;

/**
 * Whole days of history this database had before the event: null when either time is unknown (the
 * facts are then shown as they are), 0 when history began after the event (a backfill).
 */
export function historyDays(a: Pick<Alert, 'history'> & { event?: Pick<Alert['event'], 'published'> }): number | null {
  const since = Date.parse(a.history?.since ?? '');
  const published = Date.parse(a.event?.published ?? '');
  if (!Number.isFinite(since) || !Number.isFinite(published)) return null;
  return Math.max(0, Math.floor((published - since) / DAY_MS));
}

function historySpan(days: number): string {
  return days === 0 ? 'less than a day' : `only the last ${days === 1 ? '1 day' : `${days} days`}`;
}

/**
 * The "first seen" facts from the local history, as sentences of fixed words; data values go
 * through `v`. Empty when there is no history. A database younger than the 90-day window cannot
 * tell a first from a first-since-install, so then it says how far history goes and shows only
 * what it did see (counts above zero), instead of "first" facts that would lead every alert.
 * A failed attempt is called an attempt, never a created token.
 */
export function historyLines(a: Pick<Alert, 'history'> & { event?: Pick<Alert['event'], 'published'>; outcome?: Pick<Alert['outcome'], 'result'> }, v: ValueRenderer): string[] {
  const h = a.history;
  if (!h) return [];
  const n = (x: unknown): number => Math.max(0, Math.floor(Number(x) || 0));
  const count = (x: unknown): string => historyCount(n(x));
  const ok = typeof a.outcome?.result === 'string' ? a.outcome.result.toUpperCase() === 'SUCCESS' : true;
  const days = historyDays(a);
  const out: string[] = [];
  if (days !== null && days < HISTORY_WINDOW_DAYS) {
    out.push(`History covers ${historySpan(days)} (since ${v(String(h.since))}), so first-seen facts are left out until it covers ${HISTORY_WINDOW_DAYS} days.`);
    if (n(h.actorTokensLast90d) > 0) out.push(`This actor made ${count(h.actorTokensLast90d)} other API token creation attempt(s) in that time.`);
    if (n(h.burstSameHour) > 0) out.push(`${count(h.burstSameHour)} other token creation(s) within an hour of this one.`);
    return out;
  }
  if (n(h.actorTokensLast90d) === 0) out.push(ok ? `First API token this actor created in the last ${HISTORY_WINDOW_DAYS} days.` : `First attempt by this actor to create an API token in the last ${HISTORY_WINDOW_DAYS} days.`);
  else out.push(`This actor created ${count(h.actorTokensLast90d)} other API token(s) in the last ${HISTORY_WINDOW_DAYS} days.`);
  if (h.firstFromCountry === true) out.push(ok ? 'First token creation by this actor from this country.' : 'First attempt by this actor from this country.');
  if (h.firstFromAsn === true) out.push(ok ? 'First token creation by this actor from this network (ASN).' : 'First attempt by this actor from this network (ASN).');
  if (n(h.burstSameHour) > 0) out.push(`${count(h.burstSameHour)} other token creation(s) within an hour of this one.`);
  if (h.since) out.push(`History covers what this database has seen since ${v(h.since)}.`);
  return out;
}

/** A principal as one string: `Display Name (login)`, or whatever part is known. */
export function principalText(p: AlertPrincipal): string | null {
  const { displayName, login, id } = p;
  if (displayName && login && displayName !== login) return `${displayName} (${login})`;
  return login ?? displayName ?? id;
}

/**
 * The token's network restriction: the token lookup's answer when there is one (it is what the
 * token has now), else what the event recorded. Null when neither says.
 */
export function tokenNetwork(a: Pick<Alert, 'network' | 'tokenState'>): { connection: string; from: 'token lookup' | 'event' } | null {
  const s = a.tokenState;
  if (s?.status === 'found' && typeof s.network?.connection === 'string' && s.network.connection.trim() !== '') return { connection: s.network.connection, from: 'token lookup' };
  const c = a.network?.connection;
  return typeof c === 'string' && c.trim() !== '' ? { connection: c, from: 'event' } : null;
}

/**
 * Warnings that raise an alert above the routine, as sentences of fixed words (data values through
 * `v`): an impersonation Okta recorded, and a token usable from any network.
 */
export function signalLines(a: Alert, v: ValueRenderer): string[] {
  const out: string[] = [];
  const p = a.originalPrincipal ? principalText(a.originalPrincipal) : null;
  if (p !== null) out.push(`Impersonation: Okta records ${v(p)} as the real person acting as this actor.`);
  const net = tokenNetwork(a);
  // A revoked or expired token works from nowhere, whatever network condition the event repeats.
  const gone = a.lifecycle?.change === 'revoked' || a.lifecycle?.change === 'expired';
  if (net && !gone && net.connection.trim().toUpperCase() === 'ANYWHERE') {
    out.push(`No network restriction: the token works from any IP address (network connection ${v(net.connection)}, from the ${net.from}).`);
  }
  // Both are rare for an admin at work and common in an intrusion: they belong above the fields.
  if (a.client?.isProxy === true) out.push('Anonymising proxy: Okta flags the address this request came from as a proxy.');
  if (typeof a.createdByTokenId === 'string' && a.createdByTokenId !== '') {
    // On a lifecycle event the request's token may be the token itself (a request outside its range).
    if (!a.lifecycle) out.push(`Made by another API token (${v(a.createdByTokenId)}): find out who holds that token too.`);
    else if (a.createdByTokenId !== a.token?.id) out.push(`Done with another API token (${v(a.createdByTokenId)}): find out who holds that token too.`);
  }
  return out;
}

/** The links of an alert, in the order an analyst needs them; unknown ones are null. */
export function alertLinks(a: Alert): Array<{ text: string; url: string | null; id: string }> {
  return [
    { text: 'Open the event in Okta', url: a.links.event, id: 'otw_open_event' },
    { text: 'Actor in Okta', url: a.links.actor ?? null, id: 'otw_open_actor' },
    { text: 'What the token did (System Log)', url: a.links.tokenActivity ?? null, id: 'otw_token_activity' },
    { text: 'API tokens page (revoke)', url: a.links.apiTokens, id: 'otw_open_api_tokens' },
  ];
}

const MITRE_ID = /^(TA\d{4}|T\d{4}(\.\d{3})?)$/;

/** The rule's MITRE ATT&CK ids (tactics first, then techniques and sub-techniques), well-formed ones only. */
export function mitreIds(rule: Pick<AlertRule, 'mitre'>): { tactics: string[]; techniques: string[] } {
  const tactics: string[] = [];
  const techniques: string[] = [];
  const add = (into: string[], id: unknown): void => {
    if (typeof id === 'string' && MITRE_ID.test(id) && !into.includes(id)) into.push(id);
  };
  for (const m of Array.isArray(rule.mitre) ? rule.mitre : []) {
    add(tactics, m?.tactic?.id);
    add(techniques, m?.technique?.id);
    add(techniques, m?.subtechnique?.id);
  }
  return { tactics, techniques };
}

/** The token's current state in one sentence (data values through `v`), or null when the lookup was skipped. */
export function tokenStateLine(a: Alert, v: ValueRenderer): string | null {
  const s = a.tokenState;
  switch (s.status) {
    case 'found': {
      const parts = [s.active ? 'The token is active' : 'The token is not active'];
      if (s.expiresAt) parts.push(`expires ${v(s.expiresAt)}`);
      if (s.network?.connection) parts.push(`network: ${v(s.network.connection)}`);
      return parts.join(', ') + ` (checked ${v(s.checkedAt)}).`;
    }
    case 'not-found':
      return `Okta no longer knows this token: it was revoked or never created (checked ${v(s.checkedAt)}).`;
    case 'failed':
      return `The token state could not be read: ${v(s.reason)}.`;
    case 'skipped':
      return null;
  }
}

/** The runbook, falling back to this project's own guidance when the rule carries none. */
export function runbookOf(rule: AlertRule): AlertRule['runbook'] {
  const r = rule.runbook;
  return {
    triage: r.triage.length ? r.triage : DEFAULT_RUNBOOK.triage,
    benign: r.benign.length ? r.benign : DEFAULT_RUNBOOK.benign,
    response: r.response.length ? r.response : DEFAULT_RUNBOOK.response,
  };
}

/** Our own wording of the rule's investigation guide. */
export const DEFAULT_RUNBOOK: AlertRule['runbook'] = {
  triage: [
    'Confirm with the actor that they created this token, and that creating tokens is part of their job.',
    'Compare the time with other security events for this actor (sign-ins, MFA changes, admin role grants).',
    'Check that the client IP, location, network and user agent match where this actor usually works from.',
    'Search the System Log for actions taken with the new token (transaction.detail.requestApiTokenId equals the token id).',
    'Check the token against your policy on API tokens: owner, purpose, network restriction, expiry.',
  ],
  benign: [
    'IT staff automating Okta administration.',
    'Scheduled maintenance or a planned integration roll-out.',
    'A third-party integration that needs its own token.',
    'Development and test orgs.',
  ],
  response: [
    'If nobody can explain the token, revoke it now (Security > API > Tokens).',
    'Review everything the token did since it was created.',
    'Reset the credentials of the accounts involved and enforce MFA on them.',
    'Tell the security team; escalate if the compromise looks wider than one account.',
    'Restrict who may create API tokens to the admins who need to.',
  ],
};

/** Summary facts: raw values, bounded in number. */
export function summaryFacts(s: AlertSummary): { actors: Array<{ actor: string; count: number }>; tokenNames: string[]; moreActors: number; moreNames: number } {
  const actors = s.actors.slice(0, 15);
  const tokenNames = s.tokenNames.slice(0, 20);
  return { actors, tokenNames, moreActors: Math.max(0, (Number.isFinite(s.actorCount) ? s.actorCount : s.actors.length) - actors.length), moreNames: Math.max(0, (Number.isFinite(s.tokenNameCount) ? s.tokenNameCount : s.tokenNames.length) - tokenNames.length) };
}

/** The id a notification is known by (idempotency key, Message-ID). */
export function notificationId(n: Notification): string {
  return n.kind === 'alert' ? n.alert.id : n.kind === 'followup' ? n.followup.id : n.summary.id;
}

/** Bounds of an org's name and URL in any output (names are at most 32 characters by ORGS_FILE's rule). */
export const ORG_BOUNDS = { name: 64, url: 200 } as const;

/** The org in stored JSON when it has the shape of one (a name that is a non-empty string), else null. */
function orgShape(value: unknown): AlertOrg | null {
  if (typeof value !== 'object' || value === null) return null;
  const { name, url } = value as { name?: unknown; url?: unknown };
  if (typeof name !== 'string' || name.trim() === '') return null;
  return { name, url: typeof url === 'string' ? url : '' };
}

/**
 * The org a notification belongs to, or null in a single-org install (every format then renders
 * exactly what it did before orgs). A follow-up stored without one takes its alert's. Raw text:
 * each format escapes and bounds it like any other value.
 */
export function notificationOrg(n: Notification): AlertOrg | null {
  if (n.kind === 'alert') return orgShape(n.alert.org);
  if (n.kind === 'summary') return orgShape(n.summary.org);
  return orgShape(n.followup.org) ?? orgShape(n.alert?.org);
}

/** The org as one fact: its name, and its URL in brackets when known. */
export function orgFact(org: AlertOrg): Fact {
  const url = org.url ? ` (${bound(org.url, ORG_BOUNDS.url)})` : '';
  return { label: 'Okta org', value: `${bound(org.name, ORG_BOUNDS.name)}${url}`, max: ORG_BOUNDS.name + ORG_BOUNDS.url + 4 };
}
