import type { OktaLogEvent } from '../okta/log-event';
import { apiTokensLink, systemLogLink, userLink } from './admin-links';
import { orgField, type Alert, type AlertHistory, type AlertOrg, type AlertPrincipal, type TokenState } from './alert';
import { bool, integer, obj, parseJsonText, pick, text, tokenTarget } from './fields';
import { RULE } from './rule';
import { eventHookChange, eventHookTarget } from './rule-event-hook';
import { alertRuleOf, type Rule } from './rule-model';
import { tokenLifecycleOf } from './rule-token-lifecycle';

/** What buildAlert needs besides the event. */
export interface BuildAlertContext {
  source: Alert['source'];
  now: Date;
  /** The org URL (links go to its Admin Console). */
  orgUrl: string;
  history: AlertHistory | null;
  tokenState?: TokenState;
  /** The rule the event matched (default: the token-creation rule); the alert carries a copy. */
  rule?: Rule;
  /** The registered event hook's id when known: an event-hook alert says whether the hook is ours. */
  eventHookId?: string | null;
  /** The org the event came from when there are several (ORGS_FILE); default none (a single-org install). */
  org?: AlertOrg | null;
}

/** debugData.requestUri of a token made in the Admin Console. */
export const ADMIN_CONSOLE_TOKEN_URI = '/api/internal/tokens';

const DAY_MS = 86_400_000;
/** How long Okta keeps System Log events. */
const RETENTION_DAYS = 90;
const MAX_ZONES = 50;
const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Okta object ids (`00u...` users, `00T...` tokens): a principal's id is kept only in this shape. */
const OKTA_ID = /^00[A-Za-z0-9]{3,40}$/;

/**
 * Builds the full alert for one event. Pure: the history facts and token state come in, nothing
 * goes out. Never throws on an odd event: missing parts become null, and every string copied from
 * the event is bounded (it is attacker-controlled text; notifiers escape it for their format).
 */
export function buildAlert(event: OktaLogEvent, ctx: BuildAlertContext): Alert {
  const e: Record<string, unknown> = obj(event) ?? {};
  const uuid = typeof e.uuid === 'string' ? e.uuid : String(e.uuid ?? '');
  const published = text(e.published, 100) ?? '';
  const publishedAt = new Date(Date.parse(published));
  const actor = obj(e.actor);
  const client = obj(e.client);
  const geo = obj(client?.geographicalContext);
  const ua = obj(client?.userAgent);
  const sc = obj(e.securityContext);
  const debugData = obj(pick(e, 'debugContext', 'debugData'));
  const token = tokenTarget(event);

  const requestUri = text(debugData?.requestUri);
  const path = requestUri?.split('?')[0] ?? null;
  const viaKind: Alert['via']['kind'] = path === ADMIN_CONSOLE_TOKEN_URI ? 'admin-console' : requestUri !== null ? 'api' : 'unknown';

  const actorId = text(actor?.id, 200);
  const actorType = text(actor?.type, 100);
  const isUser = actorType === 'User' || (actorType === null && actorId?.startsWith('00u') === true);
  const tokenId = token?.id ?? null;
  const rule = ctx.rule ?? RULE;
  const change = eventHookChange(e.eventType);
  const hook = change !== null ? eventHookTarget(event) : null;
  const eventHookId = ctx.eventHookId ?? null;
  const lifecycle = tokenLifecycleOf(e as OktaLogEvent);

  return {
    id: `otw-${uuid}`,
    ...orgField(ctx.org),
    source: ctx.source,
    createdAt: ctx.now.toISOString(),
    rule: alertRuleOf(rule),
    event: {
      uuid,
      published,
      eventType: text(e.eventType, 200) ?? '',
      displayMessage: text(e.displayMessage),
      legacyEventType: text(e.legacyEventType, 200),
    },
    actor: {
      id: actorId,
      type: actorType,
      login: text(actor?.alternateId),
      displayName: text(actor?.displayName),
    },
    token,
    outcome: {
      result: text(pick(e, 'outcome', 'result'), 100) ?? 'UNKNOWN',
      reason: text(pick(e, 'outcome', 'reason')),
    },
    client: {
      ip: text(client?.ipAddress, 100),
      city: text(geo?.city),
      region: text(geo?.state),
      country: text(geo?.country),
      zone: text(client?.zone),
      asNumber: integer(sc?.asNumber),
      asOrg: text(sc?.asOrg),
      isp: text(sc?.isp),
      domain: text(sc?.domain),
      isProxy: bool(sc?.isProxy),
      userAgent: { raw: text(ua?.rawUserAgent), browser: text(ua?.browser), os: text(ua?.os) },
    },
    via: { kind: viaKind, requestUri },
    createdByTokenId: text(pick(e, 'transaction', 'detail', 'requestApiTokenId'), 200),
    originalPrincipal: originalPrincipal(debugData?.originalPrincipal, { id: actorId, login: text(actor?.alternateId) }),
    network: networkRestriction(debugData),
    links: {
      event: systemLogLink(ctx.orgUrl, uuid, { from: new Date(publishedAt.getTime() - DAY_MS), to: new Date(publishedAt.getTime() + DAY_MS) }),
      actor: actorId !== null && isUser && SAFE_ID.test(actorId) ? userLink(ctx.orgUrl, actorId) : null,
      apiTokens: apiTokensLink(ctx.orgUrl),
      // The id goes into a filter expression: only a plain id, so the link cannot carry other syntax.
      tokenActivity:
        tokenId !== null && SAFE_ID.test(tokenId)
          ? systemLogLink(ctx.orgUrl, `transaction.detail.requestApiTokenId eq "${tokenId}"`, {
              // After a creation only the future matters; a change to an older token is judged by
              // what the token did before it, as far back as the System Log keeps events.
              from: lifecycle !== null ? new Date(publishedAt.getTime() - RETENTION_DAYS * DAY_MS) : publishedAt,
            })
          : null,
    },
    history: ctx.history,
    tokenState: ctx.tokenState ?? { status: 'skipped', reason: 'the token lookup did not run for this event' },
    ...(change !== null
      ? { eventHook: { id: hook?.id ?? null, name: hook?.name ?? null, change, ours: eventHookId !== null && hook?.id === eventHookId } }
      : {}),
    ...(lifecycle !== null ? { lifecycle } : {}),
  };
}

/**
 * The real person behind the actor, from debugData.originalPrincipal. Okta writes it as an object
 * ({id, type, alternateId, displayName}) or as JSON text; a bare string is taken as an id when it has
 * an id's shape, else as a login. It is event text like any other: the id is kept only when it looks
 * like an id, the rest is bounded. Null when absent, unreadable, or naming the actor itself (then
 * nobody else was behind the actor, and calling it an impersonation would mislead).
 */
export function originalPrincipal(value: unknown, actor: { id: string | null; login: string | null }): AlertPrincipal | null {
  const v = parseJsonText(value);
  const o = obj(v);
  let p: AlertPrincipal;
  if (o) {
    const id = text(o.id, 200);
    p = { id: id !== null && OKTA_ID.test(id) ? id : null, type: text(o.type, 100), login: text(o.alternateId ?? o.login, 300), displayName: text(o.displayName, 300) };
  } else {
    const s = text(v, 300)?.trim() ?? '';
    if (s === '') return null;
    p = OKTA_ID.test(s) ? { id: s, type: null, login: null, displayName: null } : { id: null, type: null, login: s, displayName: null };
  }
  if (p.id === null && p.login === null && p.displayName === null) return null;
  const sameId = p.id !== null && p.id === actor.id;
  const sameLogin = p.id === null && p.login !== null && actor.login !== null && p.login.toLowerCase() === actor.login.toLowerCase();
  return sameId || sameLogin ? null : p;
}

/**
 * The network restriction chosen for the token, from debugData. Okta does not document these keys
 * and they have changed over time, so keys are matched loosely (`networkConnection`,
 * `network.include`, `includedZones`, ...) and values may be strings, lists, comma lists or JSON
 * text. Null when nothing about the network is present.
 */
export function networkRestriction(debugData: Record<string, unknown> | null): Alert['network'] {
  if (!debugData) return null;
  let connection: string | null = null;
  const included: string[] = [];
  const excluded: string[] = [];
  let found = false;

  const visit = (key: string, value: unknown, depth: number): void => {
    const k = key.toLowerCase().replace(/[^a-z]/g, '');
    if (depth === 0 && k === 'network') {
      const nested = obj(parseJsonText(value));
      if (nested) for (const [nk, nv] of Object.entries(nested)) visit(`network${nk}`, nv, depth + 1);
      return;
    }
    if (!k.includes('network') && !k.includes('zone')) return;
    if (k.includes('connection')) {
      connection = text(value, 100);
      found = true;
    } else if (k.includes('exclude')) {
      addZones(excluded, value);
      found = true;
    } else if (k.includes('include')) {
      addZones(included, value);
      found = true;
    }
  };
  for (const [key, value] of Object.entries(debugData)) visit(key, value, 0);
  return found ? { connection, includedZones: included, excludedZones: excluded } : null;
}

function addZones(into: string[], value: unknown): void {
  const v = parseJsonText(value);
  const items: unknown[] = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : [v];
  for (const item of items) {
    if (into.length >= MAX_ZONES) return;
    const o = obj(item);
    const t = text(o ? (o.name ?? o.id) : item, 200)?.trim();
    if (t) into.push(t);
  }
}
