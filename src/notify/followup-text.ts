import type { EventPlace, FollowUp, FollowUpSignal, ResponseRecord } from '../follow/followup';

/**
 * A follow-up in sentences of fixed words, for the notifiers that show one as text (PagerDuty's
 * summary, Teams' card). Values copied from Okta events, and an analyst's reason, go through `v`,
 * which escapes and bounds them for the output format; everything else is our own wording.
 */

/** Renders one raw value (null: unknown) inside our sentences. */
export type FollowUpValue = (value: string | null) => string;

/** Why a follow-up stands out, in our words (the codes come from the follow engine, never from an event). */
export const SIGNAL_TEXT: Record<FollowUpSignal, string> = {
  'new-country': 'First use from another country than the creation.',
  'new-network': 'First use from another network than the creation.',
  'outside-range': 'Okta refused a request with the token from outside its allowed network zones.',
  'network-anywhere': "The token's network restriction was set to ANYWHERE: it now works from any IP address.",
  'sensitive-actions': 'The token did sensitive things (listed below).',
};

/** True when the follow-up should reach people as urgently as an alert. */
export function standsOut(f: FollowUp): boolean {
  return f.prominent === true || (Array.isArray(f.signals) && f.signals.length > 0);
}

/** The known signals of a follow-up, each once (unknown codes are dropped, never shown). */
export function signalTexts(f: FollowUp): string[] {
  const out: string[] = [];
  for (const s of Array.isArray(f.signals) ? f.signals : []) {
    const t = SIGNAL_TEXT[s];
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

function place(p: EventPlace | null | undefined, v: FollowUpValue): string {
  if (!p) return v(null);
  const where = [p.city, p.country].filter((x) => typeof x === 'string' && x.trim() !== '').join(', ');
  const net = p.asNumber !== null && p.asNumber !== undefined && Number.isFinite(Number(p.asNumber)) ? `AS${Math.floor(Number(p.asNumber))}` : null;
  return `${v(p.ip)}${where ? ` (${v(where)})` : ''}${net ? ` ${net}` : ''}${p.isp ? ` ISP ${v(p.isp)}` : ''}`;
}

function who(r: ResponseRecord, v: FollowUpValue): string {
  const by = r.by ?? { via: 'cli', id: null, name: null };
  const via = by.via === 'slack' ? 'Slack' : 'the CLI';
  return `${v(by.name ?? by.id ?? null)} (via ${via})`;
}

/** The headline of a follow-up, in fixed words only (safe for a title or subject). */
export function followUpHeadline(f: FollowUp): string {
  switch (f.kind) {
    case 'first-use':
      return standsOut(f) ? 'First use of the token, from somewhere new' : 'First use of the token';
    case 'lifecycle':
      switch (f.lifecycle?.change) {
        case 'revoked':
          return 'The token was revoked';
        case 'expired':
          return 'The token expired';
        case 'outside-range':
          return 'The token was used from outside its allowed networks';
        case 'enabled':
          return 'The token was enabled';
        default:
          return 'The token was changed';
      }
    case 'digest':
      return 'What the token did during its watch';
    case 'response':
      return responseHeadline(f.response);
    default:
      return 'Follow-up on the token';
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

/** The follow-up as sentences (most important first): what happened, then why it stands out. */
export function followUpLines(f: FollowUp, v: FollowUpValue): string[] {
  const token = v(f.token?.name ?? f.token?.id ?? null);
  const out: string[] = [];
  if (f.kind === 'first-use' && f.firstUse) {
    const u = f.firstUse;
    const after = typeof u.minutesAfterCreation === 'number' && Number.isFinite(u.minutesAfterCreation) ? `, ${Math.max(0, Math.round(u.minutesAfterCreation))} minute(s) after its creation` : '';
    out.push(`Token ${token} was first used at ${v(u.published)}${after}: ${v(u.eventType)} from ${place(u.place, v)}.`);
    out.push(`It was created from ${place(u.creationPlace, v)}.`);
  } else if (f.kind === 'lifecycle' && f.lifecycle) {
    const l = f.lifecycle;
    const actor = l.actor ? v(l.actor.login ?? l.actor.displayName ?? l.actor.id) : v(null);
    switch (l.change) {
      case 'revoked':
        out.push(`Token ${token} was revoked by ${actor} at ${v(l.published)}.`);
        break;
      case 'expired':
        out.push(`Token ${token} expired at ${v(l.published)} (Okta's expiry of unused tokens).`);
        break;
      case 'outside-range':
        out.push(`Okta refused a request made with token ${token} at ${v(l.published)} from ${place(l.place, v)}: outside its allowed network zones.`);
        break;
      case 'enabled':
        out.push(`Token ${token} was enabled by ${actor} at ${v(l.published)}.`);
        break;
      default:
        out.push(`Token ${token} was changed by ${actor} at ${v(l.published)}${l.network ? `; network connection now ${v(l.network.connection)}` : ''}.`);
    }
  } else if (f.kind === 'digest' && f.digest) {
    const d = f.digest;
    const n = (x: unknown): number => Math.max(0, Math.floor(Number(x) || 0));
    const why = d.reason === 'revoked' ? 'the token was revoked' : d.reason === 'expired' ? 'the token expired' : 'the watch window ended';
    out.push(`The watch of token ${token} ended (${why}): ${n(d.total)} event(s) caused by the token between ${v(d.windowStart)} and ${v(d.windowEnd)}, ${n(d.sensitiveCount)} of them sensitive.`);
    const types = (Array.isArray(d.byType) ? d.byType : []).slice(0, 10).map((t) => `${v(t.eventType)} ×${n(t.count)}`);
    if (types.length) out.push(`Most frequent: ${types.join(', ')}${n(d.typeCount) > types.length ? `, and ${n(d.typeCount) - types.length} more type(s)` : ''}.`);
    for (const s of (Array.isArray(d.sensitive) ? d.sensitive : []).slice(0, 10)) out.push(`Sensitive: ${v(s.eventType)} on ${v(s.target)} at ${v(s.published)} (${v(s.outcome)}).`);
    if (n(d.sensitiveCount) > 10) out.push(`…and ${n(d.sensitiveCount) - 10} more sensitive action(s).`);
  } else if (f.kind === 'response' && f.response) {
    const r = f.response;
    const by = who(r, v);
    const reason = r.reason ? `: ${v(r.reason)}` : '';
    if (r.action === 'revoke') {
      if (r.result === 'revoked') out.push(`${by} revoked token ${token} at ${v(r.at)}.`);
      else if (r.result === 'already-gone') out.push(`${by} asked to revoke token ${token} at ${v(r.at)}; Okta says it was already revoked or expired.`);
      else if (r.result === 'forbidden') out.push(`${by} asked to revoke token ${token} at ${v(r.at)}, but Okta refused: the credentials lack okta.apiTokens.manage. The token is still active.`);
      else out.push(`${by} asked to revoke token ${token} at ${v(r.at)}, and it failed${r.error ? ` (${v(r.error)})` : ''}. The token may still be active.`);
    } else if (r.action === 'expected') {
      out.push(`${by} marked this alert as expected at ${v(r.at)}${reason}.`);
    } else {
      out.push(`${by} acknowledged this alert at ${v(r.at)}${reason}.`);
    }
  } else {
    out.push(`Something happened to token ${token}.`);
  }
  out.push(...signalTexts(f));
  return out;
}
