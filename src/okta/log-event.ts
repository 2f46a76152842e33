/**
 * The subset of an Okta System Log event (LogEvent) this project reads.
 * Every string in here is attacker-controlled text and every field may be missing or null:
 * Okta documents most of them as nullable, and a hostile or buggy producer can send anything.
 */
export interface OktaLogEvent {
  uuid: string;
  published: string;
  eventType: string;
  version?: string | null;
  severity?: string | null;
  legacyEventType?: string | null;
  displayMessage?: string | null;
  actor?: OktaActor | null;
  client?: OktaClient | null;
  outcome?: { result?: string | null; reason?: string | null } | null;
  target?: OktaTarget[] | null;
  transaction?: { id?: string | null; type?: string | null; detail?: Record<string, unknown> | null } | null;
  debugContext?: { debugData?: Record<string, unknown> | null } | null;
  authenticationContext?: Record<string, unknown> | null;
  securityContext?: {
    asNumber?: number | null;
    asOrg?: string | null;
    isp?: string | null;
    domain?: string | null;
    isProxy?: boolean | null;
  } | null;
  request?: { ipChain?: Array<Record<string, unknown>> | null } | null;
  [key: string]: unknown;
}

/** Who performed the action. */
export interface OktaActor {
  id?: string | null;
  type?: string | null;
  alternateId?: string | null;
  displayName?: string | null;
  detailEntry?: Record<string, unknown> | null;
}

/** Where the request came from. */
export interface OktaClient {
  ipAddress?: string | null;
  zone?: string | null;
  device?: string | null;
  id?: string | null;
  userAgent?: { rawUserAgent?: string | null; os?: string | null; browser?: string | null } | null;
  geographicalContext?: {
    city?: string | null;
    state?: string | null;
    country?: string | null;
    postalCode?: string | null;
    geolocation?: { lat?: number | null; lon?: number | null } | null;
  } | null;
}

/** One entry of `target[]`; look entries up by `type`, never by position. */
export interface OktaTarget {
  id?: string | null;
  type?: string | null;
  alternateId?: string | null;
  displayName?: string | null;
  detailEntry?: Record<string, unknown> | null;
}

/** The event type this project detects. */
export const API_TOKEN_CREATE = 'system.api_token.create';

/**
 * True for an Okta uuid the store can key on: printable ASCII without spaces, at most 200
 * characters. Okta's are 36; anything else (a number, an object, a 1 MB string, control
 * characters) is not used as a key, and the entry is keyed by its content instead (raw-event.ts).
 */
export function usableUuid(value: unknown): value is string {
  return typeof value === 'string' && /^[\x21-\x7e]{1,200}$/.test(value);
}

/**
 * True when the value has the fields detection cannot work without (a usable uuid, published and
 * eventType as text). Other entries are stored and alerted as unreadable events.
 */
export function isLogEvent(value: unknown): value is OktaLogEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return usableUuid(v.uuid) && typeof v.published === 'string' && typeof v.eventType === 'string';
}
