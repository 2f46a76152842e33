import { usableUuid } from '../okta/log-event';
import { apiTokensLink, systemLogLink } from './admin-links';
import { orgField, type Alert, type AlertOrg } from './alert';
import { eventColumns, type EventColumns } from './event-columns';
import { obj, pick, text } from './fields';
import { boundedJson } from './raw-event';
import { alertRule } from './rule';
import { POLL_FILTER } from './rules';

/** How much of the raw event an unreadable-event alert carries (the events table keeps more). */
export const UNREADABLE_RAW_CHARS = 2000;

const DAY_MS = 86_400_000;

/**
 * The alert for an event this program could not read: it keeps the detection's promise (every
 * token creation Okta reports is alerted) when the event itself is broken or hostile. Built from
 * nothing but the raw entry, its key and the reason, with readers that cannot throw; whatever
 * can be salvaged (time, actor, token name) is shown, the rest is null.
 */
export function buildUnreadableAlert(
  entry: unknown,
  key: string,
  reason: string,
  ctx: { source: Alert['source']; now: Date; orgUrl: string; org?: AlertOrg | null },
): Alert {
  let c: EventColumns | null = null;
  try {
    c = eventColumns(entry);
  } catch {
    // Salvage is best effort; the alert goes out without it.
  }
  const keyFromContent = !usableUuid(obj(entry)?.uuid);
  const published = c?.published ?? '';
  const at = Date.parse(published);
  const range = Number.isFinite(at) ? { from: new Date(at - DAY_MS), to: new Date(at + DAY_MS) } : undefined;
  return {
    id: `otw-${key}`,
    ...orgField(ctx.org),
    source: ctx.source,
    createdAt: ctx.now.toISOString(),
    rule: alertRule(),
    event: {
      uuid: key,
      published,
      eventType: c?.eventType ?? '',
      displayMessage: null,
      legacyEventType: null,
    },
    actor: { id: c?.actorId ?? null, type: null, login: c?.actorLogin ?? null, displayName: safeText(() => pick(entry, 'actor', 'displayName')) },
    token: c && (c.tokenId !== null || c.tokenName !== null) ? { id: c.tokenId, name: c.tokenName } : null,
    outcome: { result: c?.outcome ?? 'UNKNOWN', reason: null },
    client: {
      ip: safeText(() => pick(entry, 'client', 'ipAddress'), 100),
      city: null,
      region: null,
      country: c?.country ?? null,
      zone: null,
      asNumber: c?.asNumber ?? null,
      asOrg: null,
      isp: null,
      domain: null,
      isProxy: null,
      userAgent: { raw: null, browser: null, os: null },
    },
    via: { kind: 'unknown', requestUri: null },
    createdByTokenId: null,
    network: null,
    links: {
      // With a real uuid the console finds the event itself; otherwise every event the rules watch around then.
      event: systemLogLink(ctx.orgUrl, keyFromContent ? POLL_FILTER : key, range),
      actor: null,
      apiTokens: apiTokensLink(ctx.orgUrl),
      tokenActivity: null,
    },
    history: null,
    tokenState: { status: 'skipped', reason: 'the event could not be read' },
    unreadable: { reason: text(reason, 300) ?? 'unknown', raw: boundedJson(entry, UNREADABLE_RAW_CHARS), keyFromContent },
  };
}

function safeText(read: () => unknown, max?: number): string | null {
  try {
    return text(read(), max);
  } catch {
    return null;
  }
}

/**
 * Why an entry cannot go through detection at all, or null when it has what detection needs (the
 * same test as isLogEvent, which the reader uses to sort a page).
 */
export function unreadableReason(entry: unknown): string | null {
  const e = obj(entry);
  if (!e) return 'the entry is not a JSON object';
  if (!usableUuid(e.uuid)) return e.uuid === undefined || e.uuid === null ? 'the event has no uuid' : 'the event uuid is not a plain identifier';
  if (typeof e.published !== 'string') return 'the event has no published time as text';
  if (typeof e.eventType !== 'string') return 'the event has no eventType as text';
  return null;
}
