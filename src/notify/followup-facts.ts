import type { Alert } from '../detect/alert';
import type { Digest, EventPlace, FollowUp, FollowUpSignal, LifecycleChange, ResponseRecord, SensitiveAction, SensitiveCategory, WatchSnapshot } from '../follow/followup';
import { actorShort, type Fact, type ValueRenderer } from './facts';

/**
 * The facts every human-readable notifier shows for a follow-up, so Slack, email, PagerDuty and
 * Teams say the same thing (Slack and email as labelled facts, PagerDuty and Teams as sentences). As in facts.ts: our own sentences are fixed words, data values are raw (possibly hostile)
 * text handed to the format's ValueRenderer, and every count is forced to a small whole number
 * here, because a follow-up is plain JSON read back from the database.
 */

/** How many lines of each digest list are named one by one; the rest is "and N more". */
export const FOLLOWUP_BOUNDS = { byType: 15, sensitive: 20, zones: 10 } as const;

/** A count read from stored JSON: a whole number >= 0, 0 for anything else. */
export function countOf(x: unknown): number {
  const n = Math.floor(Number(x));
  return Number.isFinite(n) && n > 0 ? Math.min(n, Number.MAX_SAFE_INTEGER) : 0;
}

/** A number that may be unknown: a finite number, else null. */
function numberOrNull(x: unknown): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

/** A string from stored JSON, or null when it is not one (the types are attacker-influenced too). */
function str(x: unknown): string | null {
  return typeof x === 'string' && x.trim() !== '' ? x : null;
}

function join(parts: Array<string | null | undefined>, sep = ', '): string | null {
  const kept = parts.filter((p): p is string => typeof p === 'string' && p.trim() !== '');
  return kept.length ? kept.join(sep) : null;
}

/** A delay in minutes as fixed words: `12 min`, `5 h`, `3 days`. */
export function delayText(minutes: unknown): string | null {
  const m = numberOrNull(minutes);
  if (m === null || m < 0) return null;
  if (m < 120) return `${Math.round(m)} min`;
  if (m < 48 * 60) return `${Math.round(m / 60)} h`;
  return `${Math.round(m / 1440)} days`;
}

const CHANGE_HEADLINES: Record<LifecycleChange['change'], string> = {
  revoked: 'API token revoked',
  expired: 'API token expired',
  updated: 'API token changed',
  'outside-range': 'API token used from outside its allowed network',
  enabled: 'API token enabled',
};

const DIGEST_HEADLINES: Record<Digest['reason'], string> = {
  'window-ended': 'What the API token did during its watch',
  revoked: 'What the API token did before it was revoked',
  expired: 'What the API token did before it expired',
};

/** True when Okta reports the lifecycle change as done (outcome SUCCESS). */
export function lifecycleDone(f: FollowUp): boolean {
  const outcome = f.lifecycle?.outcome;
  return typeof outcome === 'string' && outcome.toUpperCase() === 'SUCCESS';
}

/** What happened, in fixed words (no event text): safe for headers and subjects. */
export function followUpHeadline(f: FollowUp): string {
  switch (f.kind) {
    case 'first-use': {
      const u = f.firstUse;
      if (u?.newCountry === true) return 'API token first used, from another country';
      if (u?.newNetwork === true) return 'API token first used, from another network';
      return 'API token first used';
    }
    case 'lifecycle': {
      const change = f.lifecycle?.change;
      // Okta refused the change: it did not happen, and must never read as done (a refused revoke
      // leaves the token alive). A request from outside the range is refused by design: it stands.
      if (!lifecycleDone(f) && change !== 'outside-range') {
        const what = change === 'revoked' || change === 'expired' ? 'revoke' : change === 'enabled' ? 'enable' : 'change';
        return `Attempt to ${what} the API token, not done (Okta did not report success)`;
      }
      if (change === 'updated' && hasSignal(f, 'network-anywhere')) return 'API token opened to any network (ANYWHERE)';
      return (change && Object.hasOwn(CHANGE_HEADLINES, change) ? CHANGE_HEADLINES[change] : null) ?? 'API token changed';
    }
    case 'digest': {
      const reason = f.digest?.reason;
      return (reason && Object.hasOwn(DIGEST_HEADLINES, reason) ? DIGEST_HEADLINES[reason] : null) ?? DIGEST_HEADLINES['window-ended'];
    }
    case 'response':
      return responseHeadline(f.response);
    default:
      return 'Follow-up on an API token alert';
  }
}

function responseHeadline(r: ResponseRecord | undefined): string {
  if (!r) return 'An analyst responded';
  if (r.action === 'revoke') {
    switch (r.result) {
      case 'revoked':
        return 'Token revoked by an analyst';
      case 'already-gone':
        return 'Revoke requested: the token was already gone';
      case 'forbidden':
        return 'Revoke refused by Okta: missing permission';
      default:
        return 'Revoking the token failed';
    }
  }
  return r.action === 'expected' ? 'Marked as expected by an analyst' : 'Acknowledged by an analyst';
}

function hasSignal(f: FollowUp, s: FollowUpSignal): boolean {
  return Array.isArray(f.signals) && f.signals.includes(s);
}

/**
 * True when the follow-up must stand out more than its alert did (Slack and email mark it,
 * PagerDuty pages again, Teams colours it). The follow engine decides this when it builds the
 * follow-up (prominent exactly when it has signals), so it is read here, not decided again.
 */
export function isProminent(f: FollowUp): boolean {
  return f.prominent === true;
}

const SIGNAL_TEXT: Record<FollowUpSignal, string> = {
  'new-country': 'First use from another country than the one the token was created from.',
  'new-network': 'First use from another network (ASN or ISP) than the one the token was created from.',
  'outside-range': 'Okta refused a request with this token from outside its allowed network zones: someone holding it is trying from elsewhere.',
  'network-anywhere': 'The token\'s network condition was opened to ANYWHERE: it now works from any IP address.',
  'sensitive-actions': 'The token did actions on the sensitive list (admin roles, users, MFA, policies, zones, apps, tokens, hooks).',
};

/** Why the follow-up stands out, as sentences of fixed words; unknown codes are left out. */
export function followUpSignalLines(f: FollowUp): string[] {
  const signals = Array.isArray(f.signals) ? f.signals : [];
  const out: string[] = [];
  for (const s of signals.slice(0, 10)) {
    const line = typeof s === 'string' && Object.hasOwn(SIGNAL_TEXT, s) ? SIGNAL_TEXT[s] : null;
    if (line && !out.includes(line)) out.push(line);
  }
  return out;
}

/**
 * Which alert this follows, in one sentence of fixed words, values through `v`: a reader who only
 * sees the follow-up (an incoming webhook, a mail client without threads) can find the alert.
 */
export function followUpIntro(f: FollowUp, a: Alert, v: ValueRenderer): string {
  const name = str(f.token?.name) ?? str(a.token?.name);
  const id = str(f.token?.id) ?? str(a.token?.id);
  const token = name ? `API token ${v(name)}${id ? ` (id ${v(id)})` : ''}` : `API token ${id ? v(id) : 'with no id'}`;
  const actor = str(a.actor?.login) || str(a.actor?.displayName) || str(a.actor?.id) ? actorShort(a) : null;
  return `Follow-up to alert ${v(str(a.id) ?? str(f.alertId) ?? '-')}: ${token}${actor ? `, created by ${v(actor)}` : ''}.`;
}

/** Where a request came from, as one value: city, country. */
export function placeText(p: EventPlace | null | undefined): string | null {
  return p ? join([str(p.city), str(p.country)]) : null;
}

/** The network of a request, as one value: `AS64500 Example Org, ISP Example`. */
export function networkText(p: EventPlace | null | undefined): string | null {
  if (!p) return null;
  const as = numberOrNull(p.asNumber);
  return join([as !== null ? `AS${as}${str(p.asOrg) ? ` ${p.asOrg}` : ''}` : str(p.asOrg), str(p.isp) ? `ISP ${p.isp}` : null]);
}

function comparedText(x: boolean | null | undefined, what: string): string {
  return x === true ? `another ${what} than at creation` : x === false ? `same ${what} as at creation` : 'cannot tell (unknown on one side)';
}

/** The token's lifecycle actor as one value; an expiry is Okta's doing, never a person's. */
export function lifecycleActorText(l: LifecycleChange): string | null {
  if (l.change === 'expired') return 'nobody: Okta expired the token (30 days unused)';
  const p = l.actor;
  if (!p) return null;
  const displayName = str(p.displayName);
  const login = str(p.login);
  if (displayName && login && displayName !== login) return `${displayName} (${login})`;
  return login ?? displayName ?? str(p.id);
}

const CHANGE_TEXT: Record<LifecycleChange['change'], string> = {
  revoked: 'revoked',
  expired: 'expired (Okta revokes a token unused for 30 days)',
  updated: 'changed (name or network condition)',
  'outside-range': 'a request with it came from outside its allowed network zones',
  enabled: 'enabled again',
};

/** The facts of a follow-up, in display order, for its kind (raw values). */
export function followUpFacts(f: FollowUp): Fact[] {
  if (f.kind === 'first-use' && f.firstUse) {
    const u = f.firstUse;
    return [
      { label: 'First used', value: str(u.published), max: 40 },
      { label: 'After creation', value: delayText(u.minutesAfterCreation), max: 20 },
      { label: 'Client IP', value: str(u.place?.ip), max: 64 },
      { label: 'Location', value: placeText(u.place), max: 200 },
      { label: 'Network', value: networkText(u.place), max: 300 },
      { label: 'Country', value: comparedText(u.newCountry, 'country'), max: 60 },
      { label: 'Network vs creation', value: comparedText(u.newNetwork, 'network'), max: 60 },
      { label: 'Created from', value: join([str(u.creationPlace?.ip), placeText(u.creationPlace), networkText(u.creationPlace)], '; '), max: 400 },
      { label: 'Event', value: join([str(u.eventType), str(u.displayMessage)], ': '), max: 300 },
      { label: 'Event uuid', value: str(u.uuid), max: 64 },
      { label: 'User agent', value: str(u.place?.userAgent), max: 512 },
    ];
  }
  if (f.kind === 'lifecycle' && f.lifecycle) {
    const l = f.lifecycle;
    const net = l.network;
    const zones = (z: unknown): string | null => {
      const list = Array.isArray(z) ? z.filter((x): x is string => typeof x === 'string') : [];
      const shown = list.slice(0, FOLLOWUP_BOUNDS.zones);
      return shown.length ? shown.join(', ') + (list.length > shown.length ? ` and ${list.length - shown.length} more` : '') : null;
    };
    return [
      { label: 'What', value: Object.hasOwn(CHANGE_TEXT, l.change) ? CHANGE_TEXT[l.change] : 'changed', max: 100 },
      { label: 'By', value: lifecycleActorText(l), max: 200 },
      { label: 'When', value: str(l.published), max: 40 },
      { label: 'Outcome', value: str(l.outcome), max: 100 },
      ...(net
        ? [
            { label: 'Network condition', value: str(net.connection), max: 60 },
            { label: 'Allowed zones', value: zones(net.includedZones), max: 400 },
            { label: 'Excluded zones', value: zones(net.excludedZones), max: 400 },
          ]
        : []),
      { label: 'Client IP', value: str(l.place?.ip), max: 64 },
      { label: 'Location', value: join([placeText(l.place), networkText(l.place)], '; '), max: 300 },
      { label: 'Event', value: join([str(l.eventType), str(l.uuid)], ' '), max: 200 },
      { label: 'User agent', value: str(l.place?.userAgent), max: 512 },
    ];
  }
  if (f.kind === 'digest' && f.digest) {
    const d = f.digest;
    return [
      { label: 'Why now', value: digestReasonText(d), max: 60 },
      { label: 'Watched from', value: str(d.windowStart), max: 40 },
      { label: 'Watched until', value: str(d.windowEnd), max: 40 },
      { label: 'Events', value: String(countOf(d.total)), max: 20 },
      { label: 'Sensitive actions', value: String(countOf(d.sensitiveCount)), max: 20 },
      { label: 'First use', value: str(d.firstUseAt) ?? 'never used', max: 40 },
      { label: 'Last use', value: str(d.lastUseAt) ?? 'never used', max: 40 },
    ];
  }
  return [{ label: 'Kind', value: str(f.kind), max: 40 }];
}

/** Why a digest was sent, in fixed words. */
function digestReasonText(d: Digest): string {
  return d.reason === 'revoked' ? 'the token was revoked' : d.reason === 'expired' ? 'the token expired' : 'the watch window ended';
}

/** The digest's counts by type, bounded; `more` counts the types left out. */
export function digestTypes(d: Digest): { lines: Array<{ eventType: string | null; count: number }>; more: number } {
  const all = Array.isArray(d.byType) ? d.byType : [];
  const lines = all.slice(0, FOLLOWUP_BOUNDS.byType).map((t) => ({ eventType: str(t?.eventType), count: countOf(t?.count) }));
  return { lines, more: Math.max(0, Math.max(countOf(d.typeCount), all.length) - lines.length) };
}

const CATEGORY_TEXT: Record<SensitiveCategory, string> = {
  'admin-privilege': 'Admin privilege',
  'user-created': 'User created or activated',
  'mfa-reset': 'MFA factor reset or removed',
  'policy-changed': 'Policy changed',
  'network-zone-changed': 'Network zone changed',
  'app-changed': 'App changed',
  'api-token-created': 'API token created',
  'event-hook-or-log-stream-changed': 'Event hook or log stream changed',
};

/** A sensitive category in fixed words. */
export function categoryText(c: unknown): string {
  return typeof c === 'string' && Object.hasOwn(CATEGORY_TEXT, c) ? CATEGORY_TEXT[c as SensitiveCategory] : 'Sensitive action';
}

/**
 * The digest's sensitive actions as sentences (fixed words, values through `v`), oldest first,
 * bounded; `more` counts the ones left out.
 */
export function digestSensitiveLines(d: Digest, v: ValueRenderer): { lines: string[]; more: number } {
  const all: SensitiveAction[] = Array.isArray(d.sensitive) ? d.sensitive : [];
  const shown = all.slice(0, FOLLOWUP_BOUNDS.sensitive);
  const lines = shown.map((s) => {
    const target = str(s?.target);
    const outcome = str(s?.outcome);
    return `${categoryText(s?.category)}: ${v(str(s?.eventType) ?? '-')}${target ? ` on ${v(target)}` : ''} at ${v(str(s?.published) ?? '-')}${outcome && outcome.toUpperCase() !== 'SUCCESS' ? ` (outcome ${v(outcome)})` : ''}`;
  });
  return { lines, more: Math.max(0, Math.max(countOf(d.sensitiveCount), all.length) - shown.length) };
}

/**
 * The alert's status line after this follow-up, from the watch snapshot: "first used 12 min later
 * from another network; revoked by X at T; watch ended: 40 events, 2 sensitive". Fixed words,
 * values through `v`. This is what the updated Slack alert shows.
 */
export function watchStatusLine(w: WatchSnapshot | null | undefined, v: ValueRenderer): string {
  if (!w || typeof w !== 'object') return 'Follow-up: the token\'s watch is unknown.';
  const parts: string[] = [];
  const firstUse = str(w.firstUseAt);
  if (firstUse) {
    const delay = delayText(w.minutesToFirstUse);
    const where = w.firstUseNewCountry === true ? ' from another country' : w.firstUseNewNetwork === true ? ' from another network' : '';
    parts.push(`first used ${delay ? `${delay} after creation` : `at ${v(firstUse)}`}${where}`);
  } else {
    parts.push(w.watching === true ? 'not used yet' : 'never used while watched');
  }
  const revokedAt = str(w.revokedAt);
  if (w.closed === 'expired') parts.push(`expired (Okta's 30-day expiry)${revokedAt ? ` at ${v(revokedAt)}` : ''}`);
  else if (w.closed === 'revoked' || revokedAt) {
    const by = str(w.revokedBy);
    parts.push(`revoked${by ? ` by ${v(by)}` : ''}${revokedAt ? ` at ${v(revokedAt)}` : ''}`);
  }
  const events = countOf(w.events);
  const sensitive = countOf(w.sensitive);
  const tally = `${events} event${events === 1 ? '' : 's'}, ${sensitive} sensitive`;
  const until = str(w.until);
  parts.push(w.watching === true ? `watching${until ? ` until ${v(until)}` : ''}: ${tally} so far` : `watch ended: ${tally}`);
  return `Since the alert: ${parts.join('; ')}.`;
}

/** The links a follow-up carries: what the token did, and where to revoke it (the alert's own links). */
export function followUpLinks(a: Alert): Array<{ text: string; url: string | null; id: string }> {
  return [
    { text: 'What the token did (System Log)', url: a.links?.tokenActivity ?? null, id: 'otw_token_activity' },
    { text: 'API tokens page (revoke)', url: a.links?.apiTokens ?? null, id: 'otw_open_api_tokens' },
  ];
}

/** Renders one raw value (null: unknown) inside the sentences of followUpLines. */
export type FollowUpValue = (value: string | null) => string;

/** Where a request came from, in one phrase: `ip (city, country; AS64500 Org, ISP x)`. */
function placeSentence(p: EventPlace | null | undefined, v: FollowUpValue): string {
  if (!p) return v(null);
  const where = join([placeText(p), networkText(p)], '; ');
  return `${v(str(p.ip))}${where ? ` (${v(where)})` : ''}`;
}

/** Who made an analyst's response, and through what. */
function responderText(r: ResponseRecord, v: FollowUpValue): string {
  const by = r.by ?? { via: 'cli', id: null, name: null };
  return `${v(str(by.name) ?? str(by.id))} (via ${by.via === 'slack' ? 'Slack' : 'the CLI'})`;
}

/**
 * The follow-up as sentences, most important first: what happened, then why it stands out. For the
 * notifiers that show a follow-up as text (PagerDuty's summary and details, Teams' card). The same
 * facts as followUpFacts, in fixed words, with values (and an analyst's reason) through `v`.
 */
export function followUpLines(f: FollowUp, v: FollowUpValue): string[] {
  const token = v(str(f.token?.name) ?? str(f.token?.id));
  const out: string[] = [];
  if (f.kind === 'first-use' && f.firstUse) {
    const u = f.firstUse;
    const delay = delayText(u.minutesAfterCreation);
    out.push(`Token ${token} was first used at ${v(str(u.published))}${delay ? `, ${delay} after creation` : ''}: ${v(str(u.eventType))} from ${placeSentence(u.place, v)}.`);
    out.push(`It was created from ${placeSentence(u.creationPlace, v)}.`);
  } else if (f.kind === 'lifecycle' && f.lifecycle) {
    const l = f.lifecycle;
    const actor = v(lifecycleActorText(l));
    const at = v(str(l.published));
    switch (l.change) {
      case 'revoked':
        out.push(`Token ${token} was revoked by ${actor} at ${at}.`);
        break;
      case 'expired':
        out.push(`Token ${token} expired at ${at} (Okta's expiry of unused tokens).`);
        break;
      case 'outside-range':
        out.push(`Okta refused a request made with token ${token} at ${at} from ${placeSentence(l.place, v)}: outside its allowed network zones.`);
        break;
      case 'enabled':
        out.push(`Token ${token} was enabled by ${actor} at ${at}.`);
        break;
      default:
        out.push(`Token ${token} was changed by ${actor} at ${at}${l.network ? `; network condition now ${v(str(l.network.connection))}` : ''}.`);
    }
  } else if (f.kind === 'digest' && f.digest) {
    const d = f.digest;
    const total = countOf(d.total);
    out.push(`The watch of token ${token} ended (${digestReasonText(d)}): ${total} event${total === 1 ? '' : 's'} caused by the token between ${v(str(d.windowStart))} and ${v(str(d.windowEnd))}, ${countOf(d.sensitiveCount)} of them sensitive.`);
    const types = digestTypes(d);
    if (types.lines.length) out.push(`Most frequent: ${types.lines.map((t) => `${v(t.eventType)} ×${t.count}`).join(', ')}${types.more ? `, and ${types.more} more types` : ''}.`);
    const sensitive = digestSensitiveLines(d, v);
    for (const line of sensitive.lines) out.push(`Sensitive: ${line}.`);
    if (sensitive.more) out.push(`…and ${sensitive.more} more sensitive actions.`);
  } else if (f.kind === 'response' && f.response) {
    const r = f.response;
    const by = responderText(r, v);
    const at = v(str(r.at));
    const reason = str(r.reason) ? `: ${v(str(r.reason))}` : '';
    if (r.action === 'revoke') {
      if (r.result === 'revoked') out.push(`${by} revoked token ${token} at ${at}.`);
      else if (r.result === 'already-gone') out.push(`${by} asked to revoke token ${token} at ${at}; Okta says it was already revoked or expired.`);
      else if (r.result === 'forbidden') out.push(`${by} asked to revoke token ${token} at ${at}, but Okta refused: the credentials lack okta.apiTokens.manage. The token is still active.`);
      else out.push(`${by} asked to revoke token ${token} at ${at}, and it failed${str(r.error) ? ` (${v(str(r.error))})` : ''}. The token may still be active.`);
    } else if (r.action === 'expected') {
      out.push(`${by} marked this alert as expected at ${at}${reason}.`);
    } else {
      out.push(`${by} acknowledged this alert at ${at}${reason}.`);
    }
  } else {
    out.push(`Something happened to token ${token}.`);
  }
  out.push(...followUpSignalLines(f));
  return out;
}
