import type { Clock } from '../clock';
import type { Alert } from '../detect/alert';
import { networkRestriction } from '../detect/build-alert';
import { integer, obj, pick, text, tokenTarget } from '../detect/fields';
import { RULE } from '../detect/rule';
import type { Logger } from '../logger';
import type { OktaLogEvent } from '../okta/log-event';
import {
  activityByType,
  closeWatch,
  creationAlertOf,
  hasWatch,
  insertActivity,
  insertWatch,
  openWatches,
  sensitiveActivity,
  setRevoked,
  watchOf,
  type WatchRow,
} from '../store/watch-store';
import { AuditLog, viaUsText } from '../respond/audit';
import type { Store } from '../store/store';
import type { Digest, EventPlace, FirstUse, FollowUp, FollowUpSignal, LifecycleChange, SensitiveAction, SensitiveCategory, WatchSnapshot } from './followup';
import { sensitiveCategory } from './sensitive';

/** FOLLOW_WINDOW's default: how long after its creation a new token is followed. */
export const DEFAULT_FOLLOW_WINDOW_MS = 24 * 3_600_000;

/**
 * The lifecycle rules (part of the rule set, src/detect/rule-token-lifecycle.ts) by id, with the
 * change each one reports. Matched on the ids so that this module needs nothing from the rules but
 * their names; a revoke by Okta's system principal is reported as `expired` (see isExpiry).
 */
export const LIFECYCLE_CHANGE_BY_RULE: Readonly<Record<string, LifecycleChange['change']>> = Object.freeze({
  'okta-api-token-revoked': 'revoked',
  'okta-api-token-updated': 'updated',
  'okta-api-token-network-anywhere': 'updated',
  'okta-api-token-outside-allowed-range': 'outside-range',
  'okta-api-token-enabled': 'enabled',
});

/** What stands out about each lifecycle rule, beyond the change itself. */
const LIFECYCLE_SIGNALS: Readonly<Record<string, FollowUpSignal>> = Object.freeze({
  'okta-api-token-network-anywhere': 'network-anywhere',
  'okta-api-token-outside-allowed-range': 'outside-range',
});

/** Okta's own principal: a revoke by it is the 30-day expiry, not a person. */
const OKTA_SYSTEM_LOGIN = 'system@okta.com';

/** Digest bounds: event types listed, sensitive actions named one by one. */
export const DIGEST_BOUNDS = Object.freeze({ types: 15, sensitive: 20 });

/** Longest token id this program follows (Okta's are 20 characters; anything longer is not one). */
const MAX_TOKEN_ID = 64;

/** What the watch engine needs inside ingest's transaction. */
export interface WatchContext {
  store: Store;
  /** The enabled notifiers: each follow-up gets one delivery per notifier. */
  notifiers: string[];
  now: Date;
  /** FOLLOW_WINDOW in ms; 0 starts no watch. */
  windowMs: number;
}

/**
 * Starts the watch of the token an alert is about, when the alert is of the token-creation rule,
 * its outcome is SUCCESS and the token's id is known, and FOLLOW_WINDOW is on. The window runs from
 * the creation's published time (Okta's clock), so a backfilled creation whose window already
 * ended still gets a watch: the follow query reads its whole window once and the digest goes out.
 * Call in the transaction that stored the alert. True when a watch started.
 */
/**
 * The token ids the follow query may put between quotes in its filter (Okta's are 20 letters and
 * digits): anything else in an event could break out of the filter expression.
 */
/** The largest time a Date holds (ECMAScript: 100 million days either side of 1970). */
const MAX_DATE_MS = 8.64e15;

export const FOLLOWABLE_TOKEN_ID = /^[A-Za-z0-9_-]{1,64}$/;

export async function startWatch(ctx: WatchContext, alert: Alert, alertRowId: number): Promise<boolean> {
  if (ctx.windowMs <= 0 || alert.unreadable || alert.rule.id !== RULE.id) return false;
  if (alert.outcome.result.toUpperCase() !== 'SUCCESS') return false;
  const tokenId = alert.token?.id ?? null;
  // Only an id the follow query can name in its filter: a watch it could never read would never close.
  if (tokenId === null || !FOLLOWABLE_TOKEN_ID.test(tokenId)) return false;
  const publishedMs = Date.parse(alert.event.published);
  // An unreadable creation time still deserves a watch: it then runs from when we saw it.
  const createdMs = Number.isFinite(publishedMs) ? publishedMs : ctx.now.getTime();
  // A creation time at the edge of what a Date can hold leaves no room for a window: no watch,
  // and the alert goes out as it is (a thrown RangeError would turn it into an unreadable event).
  if (!(Math.abs(createdMs + ctx.windowMs) <= MAX_DATE_MS)) return false;
  return insertWatch(ctx.store, {
    tokenId,
    alertRowId,
    tokenName: alert.token?.name ?? null,
    createdPublished: new Date(createdMs).toISOString(),
    watchUntil: new Date(createdMs + ctx.windowMs).toISOString(),
    now: ctx.now,
  });
}

/**
 * The token that made the request behind this event (`transaction.detail.requestApiTokenId`), or
 * null. Attacker-controlled like every field: only a string of a plausible length is an id.
 */
export function requestTokenId(event: unknown): string | null {
  const v = pick(event, 'transaction', 'detail', 'requestApiTokenId');
  return typeof v === 'string' && v !== '' && v.length <= MAX_TOKEN_ID ? v : null;
}

/** True when the event was caused by a token this program watches or watched: it is followed activity, not noise. */
export async function isWatchedTokenEvent(store: Store, event: unknown): Promise<boolean> {
  const id = requestTokenId(event);
  return id !== null && (await hasWatch(store, id));
}

/**
 * Attributes one NEW event (any source, any type, alerting or not) to the open watch of the token
 * that caused it: records the activity, bumps the counters, and when it is the token's first use,
 * queues the first-use follow-up. Events published after the window are not the watch's. Returns
 * the follow-up queued, or null. Call in the transaction that stored the event.
 */
export async function attributeEvent(ctx: WatchContext, event: OktaLogEvent, uuid: string): Promise<FollowUp | null> {
  const tokenId = requestTokenId(event);
  if (tokenId === null) return null;
  const watch = await watchOf(ctx.store, tokenId);
  if (!watch || watch.closedAt !== null) return null;
  const published = normalizedTime(event.published, ctx.now);
  const timed = typeof event.published === 'string' && Number.isFinite(Date.parse(event.published));
  const publishedMs = Date.parse(published);
  if (Number.isFinite(publishedMs) && publishedMs > Date.parse(watch.watchUntil)) return null;
  const eventType = text(event.eventType, 200) ?? '';
  const recorded = await insertActivity(ctx.store, { eventUuid: uuid, tokenId, published, eventType, sensitive: sensitiveCategory(event.eventType), timed });
  if (!recorded || !timed || watch.firstUseUuid !== null) return null;

  const alert = await ctx.store.getAlert(watch.alertId);
  if (!alert) return null;
  const place = placeOf(event);
  const creationPlace = placeOfAlert(alert);
  const newCountry = differs(place.country, creationPlace.country);
  const newNetwork = place.asNumber !== null && creationPlace.asNumber !== null ? place.asNumber !== creationPlace.asNumber : differs(place.isp, creationPlace.isp);
  const firstUse: FirstUse = {
    uuid,
    published,
    eventType,
    displayMessage: text(event.displayMessage),
    minutesAfterCreation: minutesBetween(watch.createdPublished, published),
    place,
    creationPlace,
    newCountry,
    newNetwork,
  };
  const signals: FollowUpSignal[] = [];
  if (newCountry === true) signals.push('new-country');
  if (newNetwork === true) signals.push('new-network');
  return ctx.store.insertFollowUp(
    {
      alertId: watch.alertId,
      kind: 'first-use',
      createdAt: ctx.now.toISOString(),
      token: { id: tokenId, name: watch.tokenName },
      prominent: signals.length > 0,
      signals,
      firstUse,
      watch: snapshotOf((await watchOf(ctx.store, tokenId))!, { newCountry, newNetwork }),
    },
    `first-use:${tokenId}`,
    ctx.notifiers,
    ctx.now,
  );
}

/** What became of a lifecycle decision. */
export type LifecycleOutcome =
  /** Not a lifecycle rule, or a token this program never alerted on: the decision stays an alert. */
  | { kind: 'alert' }
  /** A follow-up of the creation's alert (null when its key was known: nothing new to say). */
  | { kind: 'followup'; followup: FollowUp | null; digest: FollowUp | null };

/**
 * A decision to alert under a lifecycle rule, for a token whose creation this program alerted on,
 * becomes a follow-up of that alert (key `lifecycle:<event uuid>`) instead of an alert of its own.
 * A revoke (or the expiry) records who and when; it closes the watch and queues the digest at once
 * when every event of the token up to the revoke has been read (followed_through), else the next
 * closeEndedWatches does, after the follow query read them: the token's last actions before it was
 * revoked belong in the digest. Call in the transaction that stored the event.
 */
export async function lifecycleFollowUp(ctx: WatchContext, event: OktaLogEvent, uuid: string, ruleId: string): Promise<LifecycleOutcome> {
  const change0 = LIFECYCLE_CHANGE_BY_RULE[ruleId];
  if (change0 === undefined) return { kind: 'alert' };
  const tokenId = tokenTarget(event)?.id ?? null;
  if (tokenId === null || tokenId === '') return { kind: 'alert' };
  const creation = await creationAlertOf(ctx.store, tokenId);
  if (!creation) return { kind: 'alert' };

  const actorObj = obj(event.actor);
  const actor = actorObj ? { id: text(actorObj.id, 200), login: text(actorObj.alternateId, 300), displayName: text(actorObj.displayName, 300) } : null;
  const expired = change0 === 'revoked' && actor?.login?.toLowerCase() === OKTA_SYSTEM_LOGIN;
  const change: LifecycleChange['change'] = expired ? 'expired' : change0;
  const published = normalizedTime(event.published, ctx.now);
  const lifecycle: LifecycleChange = {
    uuid,
    published,
    eventType: text(event.eventType, 200) ?? '',
    change,
    actor,
    outcome: text(pick(event, 'outcome', 'result'), 100) ?? 'UNKNOWN',
    network: networkRestriction(obj(pick(event, 'debugContext', 'debugData'))),
    place: placeOf(event),
  };

  let closeReason: 'revoked' | 'expired' | null = null;
  // A revoke that Okta refused leaves a live token: it is told, but the watch goes on.
  if ((change === 'revoked' || change === 'expired') && lifecycle.outcome.toUpperCase() === 'SUCCESS') {
    await setRevoked(ctx.store, tokenId, published, expired ? OKTA_SYSTEM_LOGIN : ((await revokedThroughUs(ctx.store, tokenId)) ?? actor?.login ?? actor?.displayName ?? actor?.id ?? null));
    // The watch closes (and its digest goes out) in closeEndedWatches, after the follow query has
    // read every event Okta could still store for the time before the revoke.
  }

  const watch = await watchOf(ctx.store, tokenId);
  const alert = await ctx.store.getAlert(creation.alertId);
  const signal = LIFECYCLE_SIGNALS[ruleId];
  const followup = await ctx.store.insertFollowUp(
    {
      alertId: creation.alertId,
      kind: 'lifecycle',
      createdAt: ctx.now.toISOString(),
      token: { id: tokenId, name: watch?.tokenName ?? alert?.token?.name ?? null },
      prominent: signal !== undefined,
      signals: signal !== undefined ? [signal] : [],
      lifecycle,
      watch: watch ? await watchSnapshot(ctx.store, watch) : unwatchedSnapshot(alert, lifecycle),
    },
    `lifecycle:${uuid}`,
    ctx.notifiers,
    ctx.now,
  );
  const digest = closeReason && watch ? await queueDigest(ctx, watch, closeReason) : null;
  return { kind: 'followup', followup, digest };
}

/** What closeEndedWatches needs. */
export interface CloseWatchesDeps {
  store: Store;
  /** Names of the enabled notifiers (or the notifiers themselves). */
  notifiers: ReadonlyArray<string | { name: string }>;
  clock: Clock;
  logger: Logger;
  /**
   * FOLLOW_WINDOW now. When it is 0 (following turned off after watches started), every open watch
   * is closed as `off`, without a digest, so the follow query stops asking for them. Default: on.
   */
  followWindowMs?: number;
  /** How long after an event Okta may still store it: LOOKBACK, the same allowance the poller makes. */
  lateMs?: number;
}

/**
 * Closes every open watch whose events have all been read, and queues its digest, in one
 * transaction: a watch whose window ended (followed_through >= watch_until: the follow query has
 * read every event of the window), and a revoked one once the events up to its revoke were read.
 * Call after each follow tick. Returns how many watches it closed.
 */
export async function closeEndedWatches(deps: CloseWatchesDeps): Promise<number> {
  const notifiers = deps.notifiers.map((n) => (typeof n === 'string' ? n : n.name));
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const ctx: WatchContext = { store: tx, notifiers, now, windowMs: 0 };
    let closed = 0;
    for (const w of await openWatches(tx)) {
      if (deps.followWindowMs === 0) {
        if (await closeWatch(tx, w.tokenId, 'off', now)) closed++;
        continue;
      }
      if (!readThrough(w, deps.lateMs ?? DEFAULT_LATE_MS)) continue;
      const reason = w.revokedAt === null ? 'window-ended' : isExpiry(w.revokedBy) ? 'expired' : 'revoked';
      if (!(await closeWatch(tx, w.tokenId, reason, now))) continue;
      await queueDigest(ctx, (await watchOf(tx, w.tokenId))!, reason);
      closed++;
      deps.logger.info('token watch ended; its digest is queued', { token: w.tokenId, reason, events: w.events, sensitive: w.sensitive });
    }
    if (deps.followWindowMs === 0 && closed > 0) deps.logger.info('FOLLOW_WINDOW is 0: open token watches closed without a digest', { count: closed });
    return closed;
  });
}

/**
 * True when every event of the watch's window (up to its revoke, if revoked) has been read: the
 * follow query has read everything Okta stored until `lateMs` after the window's end. followed_through
 * is on Okta's storage timeline and the window on the events' own times, and Okta can store an event
 * minutes after it happened: closing at the window's end would miss such an event for good.
 */
function readThrough(w: WatchRow, lateMs: number): boolean {
  if (w.followedThrough === null) return false;
  const end = Math.min(Date.parse(w.watchUntil), w.revokedAt !== null && Number.isFinite(Date.parse(w.revokedAt)) ? Date.parse(w.revokedAt) : Infinity);
  return Date.parse(w.followedThrough) >= end + lateMs;
}

/** How long after an event Okta may still store it, when the caller does not say (LOOKBACK's default). */
const DEFAULT_LATE_MS = 6 * 60_000;

function isExpiry(revokedBy: string | null): boolean {
  return revokedBy?.toLowerCase() === OKTA_SYSTEM_LOGIN;
}

/** Queues the digest of a closed watch (key `digest:<token>`: once, whichever path closed it). */
async function queueDigest(ctx: WatchContext, watch: WatchRow, reason: Digest['reason']): Promise<FollowUp | null> {
  const digest = await buildDigest(ctx.store, watch, reason);
  const signals: FollowUpSignal[] = digest.sensitiveCount > 0 ? ['sensitive-actions'] : [];
  return ctx.store.insertFollowUp(
    {
      alertId: watch.alertId,
      kind: 'digest',
      createdAt: ctx.now.toISOString(),
      token: { id: watch.tokenId, name: watch.tokenName },
      prominent: signals.length > 0,
      signals,
      digest,
      watch: await watchSnapshot(ctx.store, watch),
    },
    `digest:${watch.tokenId}`,
    ctx.notifiers,
    ctx.now,
  );
}

/** What the token did during its watch, from token_activity (bounded lists, full counts). */
export async function buildDigest(store: Store, watch: WatchRow, reason: Digest['reason']): Promise<Digest> {
  const { byType, typeCount } = await activityByType(store, watch.tokenId, DIGEST_BOUNDS.types);
  const sensitive = await sensitiveActivity(store, watch.tokenId, DIGEST_BOUNDS.sensitive);
  const end = watch.revokedAt !== null && watch.revokedAt < watch.watchUntil ? watch.revokedAt : watch.watchUntil;
  return {
    reason,
    windowStart: watch.createdPublished,
    windowEnd: end,
    total: watch.events,
    byType,
    typeCount,
    sensitive: sensitive.rows.map((r): SensitiveAction => {
      const raw = parseRaw(r.raw);
      // Every target, bounded: a privilege grant names the user first and the role second.
      const names = (Array.isArray(raw?.target) ? raw.target.slice(0, 4) : [])
        .map((t) => obj(t))
        .map((t) => text(t?.displayName, 120) ?? text(t?.alternateId, 120))
        .filter((n): n is string => n !== null);
      return {
        category: r.category as SensitiveCategory,
        uuid: r.uuid,
        published: r.published,
        eventType: r.eventType,
        outcome: r.outcome ?? 'UNKNOWN',
        target: names.length ? names.join(', ') : null,
        displayMessage: text(raw?.displayMessage),
      };
    }),
    sensitiveCount: sensitive.count,
    firstUseAt: watch.firstUseAt,
    lastUseAt: watch.lastUseAt,
  };
}

/** The watch as a status line shows it, with what its first-use follow-up found (when there is one). */
export async function watchSnapshot(store: Store, w: WatchRow): Promise<WatchSnapshot> {
  const row = await store.sql.get<{ payload: string }>('SELECT payload FROM followups WHERE key = ?', [`first-use:${w.tokenId}`]);
  const firstUse = row ? (parseRaw(row.payload)?.firstUse as FirstUse | undefined) : undefined;
  return snapshotOf(w, { newCountry: firstUse?.newCountry ?? null, newNetwork: firstUse?.newNetwork ?? null });
}

/** The watch as a status line shows it (every follow-up carries the row as it stands after its change). */
export function snapshotOf(w: WatchRow, firstUse: { newCountry: boolean | null; newNetwork: boolean | null } = { newCountry: null, newNetwork: null }): WatchSnapshot {
  return {
    until: w.watchUntil,
    watching: w.closedAt === null,
    firstUseAt: w.firstUseAt,
    minutesToFirstUse: w.firstUseAt !== null ? minutesBetween(w.createdPublished, w.firstUseAt) : null,
    firstUseNewCountry: firstUse.newCountry,
    firstUseNewNetwork: firstUse.newNetwork,
    events: w.events,
    sensitive: w.sensitive,
    revokedAt: w.revokedAt,
    revokedBy: w.revokedAt === null ? null : isExpiry(w.revokedBy) ? 'expired' : w.revokedBy,
    closed: w.closeReason === 'off' ? null : w.closeReason,
  };
}

/**
 * "<who> (Slack|CLI) via okta-token-watch" when an analyst revoked this token through this program
 * (see AuditLog.revokedByUs), else null: Okta's event then names only the credentials this program
 * used, not the person who asked.
 */
async function revokedThroughUs(store: Store, tokenId: string): Promise<string | null> {
  const row = await new AuditLog(store).revokedByUs(tokenId);
  return row ? viaUsText(row.by) : null;
}

/** The snapshot of a token this program alerted on but never watched (FOLLOW_WINDOW 0, or a creation that did not succeed). */
function unwatchedSnapshot(alert: Alert | null, lc: LifecycleChange): WatchSnapshot {
  const revoked = lc.change === 'revoked' || lc.change === 'expired';
  return {
    until: alert?.event.published ?? lc.published,
    watching: false,
    firstUseAt: null,
    minutesToFirstUse: null,
    firstUseNewCountry: null,
    firstUseNewNetwork: null,
    events: 0,
    sensitive: 0,
    revokedAt: revoked ? lc.published : null,
    revokedBy: !revoked ? null : lc.change === 'expired' ? 'expired' : (lc.actor?.login ?? lc.actor?.displayName ?? lc.actor?.id ?? null),
    closed: null,
  };
}

/** Where a request came from, read from any event (every field bounded, of any type). */
export function placeOf(event: unknown): EventPlace {
  const client = obj(pick(event, 'client'));
  const geo = obj(client?.geographicalContext);
  const sc = obj(pick(event, 'securityContext'));
  return {
    ip: text(client?.ipAddress, 100),
    city: text(geo?.city, 200),
    country: text(geo?.country, 200),
    asNumber: integer(sc?.asNumber),
    asOrg: text(sc?.asOrg, 200),
    isp: text(sc?.isp, 200),
    userAgent: text(pick(client, 'userAgent', 'rawUserAgent'), 500),
  };
}

/** Where the token was created, from its alert. */
function placeOfAlert(alert: Alert): EventPlace {
  const c = alert.client;
  return { ip: c.ip, city: c.city, country: c.country, asNumber: c.asNumber, asOrg: c.asOrg, isp: c.isp, userAgent: c.userAgent.raw };
}

/** True/false when both are known (compared without regard to case), else null. */
function differs(a: string | null, b: string | null): boolean | null {
  if (a === null || b === null || a.trim() === '' || b.trim() === '') return null;
  return a.trim().toLowerCase() !== b.trim().toLowerCase();
}

/** Whole minutes from a to b, or null when either is unreadable. */
function minutesBetween(a: string, b: string): number | null {
  const ms = Date.parse(b) - Date.parse(a);
  return Number.isFinite(ms) ? Math.round(ms / 60_000) : null;
}

/** An event's published time as ISO 8601 when it reads as a time, else the bounded text (or ''). */
/**
 * An event's time as ISO 8601, or `fallback` (when this program saw it) when the event's own is not
 * a time: stored times are compared and sorted, so text such as "zzzz" must never be kept (it would
 * sort after every real time and pin the last use).
 */
function normalizedTime(value: unknown, fallback: Date): string {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : fallback.toISOString();
}

/** The stored raw JSON of an event as an object, or null (it may be cut short: raw-event.ts bounds it). */
function parseRaw(raw: string | null): Record<string, unknown> | null {
  if (raw === null) return null;
  try {
    return obj(JSON.parse(raw) as unknown);
  } catch {
    return null;
  }
}
