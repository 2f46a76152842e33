import type { AlertOrg } from '../detect/alert';

/**
 * A follow-up: something that happened to a token this program alerted on, after the alert went
 * out (its first use, a lifecycle event such as its revocation, the digest of what it did). It is
 * plain JSON, stored as-is in `followups.payload` and sent to every notifier as a reply to its
 * alert. Strings copied from Okta events are raw attacker-controlled text, exactly as in an Alert:
 * each notifier escapes and bounds them for its own format.
 */
export interface FollowUp {
  /** Stable id, `otw-followup-<n>`: the webhook's idempotency key and the email's Message-ID. */
  id: string;
  /** The alert this follows (`otw-<event uuid>`). */
  alertId: string;
  /** The org of the alert this follows (see Alert.org); absent or null in a single-org install. */
  org?: AlertOrg | null;
  kind: FollowUpKind;
  /** When this follow-up was built (ISO 8601). */
  createdAt: string;
  /** The token the alert was about. */
  token: { id: string; name: string | null };
  /**
   * True when this follow-up should stand out more than the alert did: a first use from another
   * country or network than the creation, a request from outside the token's allowed range, a
   * network condition opened to ANYWHERE.
   */
  prominent: boolean;
  /** Why it stands out, as codes each notifier renders in its own fixed words (never event text). */
  signals: FollowUpSignal[];
  /** Set on kind `first-use`. */
  firstUse?: FirstUse;
  /** Set on kind `lifecycle`. */
  lifecycle?: LifecycleChange;
  /** Set on kind `digest`. */
  digest?: Digest;
  /** Set on kind `response`: an analyst acted on the alert (Slack button or CLI). */
  response?: ResponseRecord;
  /** The token's watch as it stands after this follow-up: the alert's status line. */
  watch: WatchSnapshot;
}

export type FollowUpKind = 'first-use' | 'lifecycle' | 'digest' | 'response';

export type FollowUpSignal =
  /** First use from another country than the creation. */
  | 'new-country'
  /** First use from another network (ASN, else ISP) than the creation. */
  | 'new-network'
  /** Okta refused a request with the token from outside its allowed network zones. */
  | 'outside-range'
  /** The token's network condition was changed to ANYWHERE. */
  | 'network-anywhere'
  /** The token did something on the sensitive list (see sensitive.ts). */
  | 'sensitive-actions';

/** Where a request came from, as an Okta event's client describes it (raw values). */
export interface EventPlace {
  ip: string | null;
  city: string | null;
  country: string | null;
  asNumber: number | null;
  asOrg: string | null;
  isp: string | null;
  userAgent: string | null;
}

/** The first event caused by a request made with the token. */
export interface FirstUse {
  uuid: string;
  published: string;
  eventType: string;
  displayMessage: string | null;
  /** Minutes between the token's creation and its first use (null when either time is unreadable). */
  minutesAfterCreation: number | null;
  place: EventPlace;
  /** Where the token was created (from the alert), for comparison. */
  creationPlace: EventPlace;
  /** True/false when both countries are known, else null. */
  newCountry: boolean | null;
  /** True/false when both networks (ASN, else ISP) are known, else null. */
  newNetwork: boolean | null;
}

/** A token lifecycle event (revoke, update, enable, request outside the allowed range). */
export interface LifecycleChange {
  uuid: string;
  published: string;
  eventType: string;
  change: 'revoked' | 'expired' | 'updated' | 'outside-range' | 'enabled';
  /** Who did it; for `expired` this is Okta's system principal. */
  actor: { id: string | null; login: string | null; displayName: string | null } | null;
  outcome: string;
  /** The token's network condition as the event gives it (update), else null. */
  network: { connection: string | null; includedZones: string[]; excludedZones: string[] } | null;
  place: EventPlace;
}

/** A category of actions that an analyst needs named one by one. */
export type SensitiveCategory =
  | 'admin-privilege'
  | 'user-created'
  | 'mfa-reset'
  | 'policy-changed'
  | 'network-zone-changed'
  | 'app-changed'
  | 'api-token-created'
  | 'event-hook-or-log-stream-changed';

/** One sensitive action the token did. */
export interface SensitiveAction {
  category: SensitiveCategory;
  uuid: string;
  published: string;
  eventType: string;
  outcome: string;
  /** The first target's display name or alternate id (raw). */
  target: string | null;
  displayMessage: string | null;
}

/** What the token did during its watch, when the watch ends. */
export interface Digest {
  /** Why now: the window ended, or the token was revoked (by a person) or expired. */
  reason: 'window-ended' | 'revoked' | 'expired';
  windowStart: string;
  windowEnd: string;
  /** Events caused by the token during the watch. */
  total: number;
  /** Counts by event type, most first, bounded; `typeCount` is how many types in all. */
  byType: Array<{ eventType: string; count: number }>;
  typeCount: number;
  /** Sensitive actions one by one, oldest first, bounded; `sensitiveCount` is how many in all. */
  sensitive: SensitiveAction[];
  sensitiveCount: number;
  firstUseAt: string | null;
  lastUseAt: string | null;
}

/** The watch of one token, as a status line shows it. */
export interface WatchSnapshot {
  /** When the watch ends (creation + FOLLOW_WINDOW). */
  until: string;
  /** Still watching (false once the digest went out). */
  watching: boolean;
  firstUseAt: string | null;
  minutesToFirstUse: number | null;
  firstUseNewCountry: boolean | null;
  firstUseNewNetwork: boolean | null;
  events: number;
  sensitive: number;
  revokedAt: string | null;
  /** Who revoked it (login or name), or null; `expired` says it was Okta's 30-day expiry. */
  revokedBy: string | null;
  closed: 'window-ended' | 'revoked' | 'expired' | null;
}

/** An analyst's response to an alert, as the audit table records it (issue 13). */
export interface ResponseRecord {
  /** The audit row's id (`response_actions.id`). */
  actionId: number;
  action: 'revoke' | 'expected' | 'acknowledge';
  /** Who: a Slack user (id and name as Slack gave them) or the OS user running the CLI. */
  by: { via: 'slack' | 'cli'; id: string | null; name: string | null };
  at: string;
  /**
   * revoked: Okta answered 204; already-gone: 404 (revoked or expired before); forbidden: 403 (the
   * credentials lack okta.apiTokens.manage); failed: anything else, nothing revoked; recorded: an
   * acknowledgement or "expected" was stored.
   */
  result: 'revoked' | 'already-gone' | 'forbidden' | 'failed' | 'recorded';
  /** The analyst's reason (Expected, Acknowledge): their text, bounded; escaped like event text. */
  reason: string | null;
  /** Why it failed, in our words (never a secret). */
  error: string | null;
}
