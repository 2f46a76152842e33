import type { FollowUp } from '../follow/followup';

/**
 * The one Alert type shared by detection (which builds it) and every notifier (which renders it).
 * It is plain JSON: it is stored as-is in the `alerts.payload` column and sent as-is by the webhook.
 * Strings copied from the Okta event are raw (unescaped) attacker-controlled text; each notifier
 * escapes and bounds them for its own format.
 */
export interface Alert {
  /** Stable id: `otw-<event uuid>`; the webhook's idempotency key. */
  id: string;
  /**
   * The Okta org the event came from when this install watches several (ORGS_FILE). Absent (or
   * null) in a single-org install, and in alerts stored before orgs existed: the alert's JSON, and
   * so every notifier's output, is then exactly what it was without orgs.
   */
  org?: AlertOrg | null;
  /** Where the event came from: the live poller, an event hook delivery, a backfill, the follow query of a watched token, a test notification or the demo. */
  source: 'poll' | 'push' | 'backfill' | 'follow' | 'test' | 'demo';
  /** When this alert was built (ISO 8601). */
  createdAt: string;
  rule: AlertRule;
  event: {
    uuid: string;
    published: string;
    eventType: string;
    displayMessage: string | null;
    /** The event's legacy type; informational only, never used for matching. */
    legacyEventType: string | null;
  };
  actor: {
    id: string | null;
    type: string | null;
    login: string | null;
    displayName: string | null;
  };
  /** The target whose type is `Token`; null when the event has none (the alert says so). */
  token: { id: string | null; name: string | null } | null;
  outcome: { result: string; reason: string | null };
  client: {
    ip: string | null;
    city: string | null;
    region: string | null;
    country: string | null;
    zone: string | null;
    asNumber: number | null;
    asOrg: string | null;
    isp: string | null;
    domain: string | null;
    isProxy: boolean | null;
    userAgent: { raw: string | null; browser: string | null; os: string | null };
  };
  /** How the token was made: `admin-console` when debugData.requestUri is /api/internal/tokens. */
  via: { kind: 'admin-console' | 'api' | 'unknown'; requestUri: string | null };
  /** transaction.detail.requestApiTokenId: set when another API token created this one. */
  createdByTokenId: string | null;
  /**
   * The real person behind the actor when Okta records an impersonation (an Okta support user or an
   * admin acting as this actor): debugData.originalPrincipal. Null when the event has none; absent in
   * alerts stored before this field existed.
   */
  originalPrincipal?: AlertPrincipal | null;
  /**
   * Set on an alert about an Okta event hook (the self-watch rule): which hook, what happened to it,
   * and whether it is the hook this program registered (false: no hook id was known, or another).
   */
  eventHook?: { id: string | null; name: string | null; change: 'deactivated' | 'deleted' | 'updated' | 'delivery failed'; ours: boolean };
  /**
   * Set on an alert of a token lifecycle rule (rule-token-lifecycle.ts): what happened to the token,
   * in fixed words (`expired` is a revocation by Okta itself, system@okta.com, not by a person), and
   * whether the event records the token's network condition as ANYWHERE. The token is `token`, the
   * network condition `network`.
   */
  lifecycle?: { change: 'revoked' | 'expired' | 'updated' | 'outside-range' | 'enabled'; networkAnywhere: boolean };
  /** Network restriction from debugData when present (networkConnection, zones). */
  network: { connection: string | null; includedZones: string[]; excludedZones: string[] } | null;
  links: { event: string; actor: string | null; apiTokens: string; tokenActivity: string | null };
  /** Facts from this project's own store. They raise prominence; they never suppress. */
  history: AlertHistory | null;
  /** Optional GET /api/v1/api-tokens/{id} result. */
  tokenState: TokenState;
  /**
   * Set when this program could not read the event (a field it needs is missing or of the wrong
   * type, or processing it failed): the alert then says so, and other fields hold only what could
   * be salvaged. The event is stored either way (raw JSON in the events table).
   */
  unreadable?: {
    /** Why, in our words. */
    reason: string;
    /** The start of the event's raw JSON (attacker-controlled text; bounded). */
    raw: string;
    /** True when the event had no usable uuid and `event.uuid` is a key derived from its content. */
    keyFromContent: boolean;
  };
}

/**
 * An Okta org as alerts name it: its `name` from ORGS_FILE (validated there, but notifiers escape it
 * like any text: it comes back from stored JSON) and its URL.
 */
export interface AlertOrg {
  name: string;
  url: string;
}

/**
 * The `org` field of something built for this org: `{ org }` when there is one, nothing otherwise,
 * so a single-org install stores and sends the same JSON as before orgs existed.
 */
export function orgField(org: AlertOrg | null | undefined): { org?: AlertOrg } {
  return org ? { org: { name: org.name, url: org.url } } : {};
}

/** A person as Okta names them in an event; every part may be unknown. */
export interface AlertPrincipal {
  /** Okta id, kept only when it has the shape of an id. */
  id: string | null;
  type: string | null;
  login: string | null;
  displayName: string | null;
}

/** The rule metadata every alert carries (see src/detect/rule.ts). */
export interface AlertRule {
  id: string;
  name: string;
  description: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  riskScore: number;
  mitre: Array<{ tactic: { id: string; name: string }; technique: { id: string; name: string }; subtechnique?: { id: string; name: string } }>;
  tags: string[];
  references: string[];
  /** The Okta System Log filter expression the rule polls with. */
  filter?: string;
  runbook: { triage: string[]; benign: string[]; response: string[] };
}

/** "First seen" facts computed from the local store at the moment the alert is created. */
export interface AlertHistory {
  /** Token creations by this actor in the 90 days before this event, this one excluded; stops at 100 (HISTORY_COUNT_CAP): 100 means "100 or more". */
  actorTokensLast90d: number;
  /** First token creation seen from this country for this actor (null when the country is unknown). */
  firstFromCountry: boolean | null;
  /** First token creation seen from this ASN for this actor (null when the ASN is unknown). */
  firstFromAsn: boolean | null;
  /** Other token creations (any actor) within one hour either side of this one; 100 means "100 or more". */
  burstSameHour: number;
  /** When the local history began: facts only cover what this database has seen. */
  since: string | null;
}

/** The token's current state as Okta reports it, or why it is not known. */
export type TokenState =
  | { status: 'found'; active: boolean; name: string | null; userId: string | null; clientName: string | null; created: string | null; expiresAt: string | null; network: { connection: string | null; include: string[]; exclude: string[] } | null; checkedAt: string }
  | { status: 'not-found'; checkedAt: string }
  | { status: 'failed'; reason: string; checkedAt: string }
  | { status: 'skipped'; reason: string };

/**
 * What one notifier is asked to deliver: one alert, or one summary of the alerts of a tick
 * beyond MAX_ALERTS_PER_RUN.
 */
export type Notification =
  | { kind: 'alert'; alert: Alert; test?: boolean }
  | { kind: 'summary'; summary: AlertSummary; test?: boolean }
  /**
   * Something that happened to an alerted token later, sent as a reply to its alert. `parent` is
   * what this notifier's destination answered when it accepted the alert (Slack: the message's
   * channel and ts, to thread under and to update), or null when there is none (an incoming
   * webhook, or the alert went out in a summary).
   */
  | {
      kind: 'followup';
      followup: FollowUp;
      alert: Alert;
      parent: DeliveryReceipt | null;
      /**
       * The id of the notification this one replies to on this notifier: the alert's, or when the
       * alert went out only in a summary, the summary's (`otw-summary-N`). Absent: the alert's.
       */
      repliesTo?: string;
      test?: boolean;
    };

/**
 * What a destination answered when it accepted a notification, kept with the delivery so a later
 * follow-up can reply to it: Slack's `chat.postMessage` gives the message's channel and ts.
 */
export interface DeliveryReceipt {
  channel?: string;
  ts?: string;
}

/** The excess alerts of one tick, sent as ONE notification per notifier. */
export interface AlertSummary {
  /** Stable id, `otw-summary-<n>`. */
  id: string;
  /** The org of the summarised alerts (see Alert.org); absent or null in a single-org install. */
  org?: AlertOrg | null;
  createdAt: string;
  rule: Pick<AlertRule, 'id' | 'name' | 'severity' | 'riskScore'>;
  count: number;
  /** Distinct actors (login or id) with how many tokens each, most first, bounded (20). */
  actors: Array<{ actor: string; count: number }>;
  /** How many distinct actors in all (`actors` may list fewer). */
  actorCount: number;
  /** Distinct token names, in alert order, bounded (50). */
  tokenNames: string[];
  /** How many distinct token names in all (`tokenNames` may list fewer). */
  tokenNameCount: number;
  firstPublished: string;
  lastPublished: string;
  /** The first alert ids (at most 1000, MAX_SUMMARY_ALERT_IDS); `count` is the full number. */
  alertIds: string[];
  /** How many alert ids `alertIds` leaves out (count - alertIds.length); `status --alerts --limit N` lists the newest N alerts. */
  alertIdsOmitted: number;
  /** The command that lists these alerts. */
  howToList: string;
  links: { apiTokens: string; systemLog: string };
}
