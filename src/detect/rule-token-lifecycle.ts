import type { LifecycleChange } from '../follow/followup';
import type { OktaLogEvent } from '../okta/log-event';
import type { AlertRule } from './alert';
import { obj, parseJsonText, pick, text } from './fields';
import { filterFor, type Rule, type RuleMatch } from './rule-model';

export const API_TOKEN_REVOKE = 'system.api_token.revoke';
export const API_TOKEN_UPDATE = 'system.api_token.update';
export const API_TOKEN_OUTSIDE_RANGE = 'system.api_token.request_outside_allowed_range';
export const API_TOKEN_ENABLE = 'system.api_token.enable';

/** The actor Okta records when it expires a token itself (the token went unused for its window). */
export const OKTA_SYSTEM_LOGIN = 'system@okta.com';

/** What happened to the token, in fixed words (the follow-up's LifecycleChange uses the same set). */
export type TokenLifecycleKind = LifecycleChange['change'];

/** What a lifecycle event did to a token, read from the event alone. */
export interface TokenLifecycle {
  change: TokenLifecycleKind;
  /** The event records the token's network condition as ANYWHERE: usable from any IP address. */
  networkAnywhere: boolean;
}

/**
 * True when Okta's own system principal is the actor: a revocation by it is the token's expiry,
 * not a person's decision. Only the actor's login counts (a display name is free text).
 */
export function isOktaSystemActor(event: OktaLogEvent): boolean {
  return text(pick(event, 'actor', 'alternateId'), 100)?.trim().toLowerCase() === OKTA_SYSTEM_LOGIN;
}

/**
 * The network condition the event records for the token, upper-cased, or null. Keys are read as
 * loosely as build-alert's networkRestriction reads them (Okta does not document them: a
 * `networkConnection` key, or a `network` object or JSON text with a `connection`), and the last one
 * wins there too, so the rule and the alert's network facts never disagree.
 */
function networkConnection(event: OktaLogEvent): string | null {
  const debugData = obj(pick(event, 'debugContext', 'debugData'));
  if (!debugData) return null;
  let connection: string | null = null;
  for (const [key, value] of Object.entries(debugData)) {
    const k = key.toLowerCase().replace(/[^a-z]/g, '');
    if (k === 'network') {
      const nested = obj(parseJsonText(value));
      if (nested) for (const [nk, nv] of Object.entries(nested)) if (nk.toLowerCase().replace(/[^a-z]/g, '').includes('connection')) connection = text(nv, 100);
    } else if ((k.includes('network') || k.includes('zone')) && k.includes('connection')) {
      connection = text(value, 100);
    }
  }
  return connection?.trim().toUpperCase() ?? null;
}


/** True when the event says the token now works from any network. */
export function opensToAnywhere(event: OktaLogEvent): boolean {
  return networkConnection(event) === 'ANYWHERE';
}

/**
 * The lifecycle change an event records, or null for an event type that is not a token lifecycle
 * event. Pure and total over attacker-controlled input.
 */
export function tokenLifecycleOf(event: OktaLogEvent): TokenLifecycle | null {
  const type: unknown = obj(event)?.eventType;
  const networkAnywhere = opensToAnywhere(event);
  switch (type) {
    case API_TOKEN_REVOKE:
      return { change: isOktaSystemActor(event) ? 'expired' : 'revoked', networkAnywhere };
    case API_TOKEN_UPDATE:
      return { change: 'updated', networkAnywhere };
    case API_TOKEN_OUTSIDE_RANGE:
      return { change: 'outside-range', networkAnywhere };
    case API_TOKEN_ENABLE:
      return { change: 'enabled', networkAnywhere };
    default:
      return null;
  }
}

const always = (): RuleMatch => ({ match: true });

/** Shared by every lifecycle rule: about a token, so its references and tags are alike. */
const TAGS = ['Identity and Access Audit', 'Data Source: Okta', 'API token lifecycle'];
const REFERENCES = [
  'https://developer.okta.com/docs/reference/api/system-log/',
  'https://developer.okta.com/docs/reference/api/event-types/',
];

/**
 * Not tuned: ALERT_OUTCOMES and the exceptions file were written for token creation (an exception
 * for "Terraform makes tokens" must not silence a token of Terraform's being opened to the world).
 * Not summarised: each is one token's story, read on its own or as a follow-up (part of issue 12).
 * No token facts: the history counts token creations (the wrong question here), and the lookup of a
 * revoked token is a 404.
 */
const COMMON = { tunable: false, tokenFacts: false, summarizable: false } as const;

/**
 * A token revoked, by a person or by Okta when its expiry window ran out (actor system@okta.com).
 * Revoking is mostly housekeeping or a defender's response, so the severity is low; it alerts so a
 * revocation nobody asked for (an intruder cleaning up after itself, or cutting an integration off)
 * is seen, and so an analyst following a token knows it is gone.
 */
export const TOKEN_REVOKED_RULE: Readonly<Rule> = Object.freeze({
  id: 'okta-api-token-revoked',
  name: 'Okta API token revoked or expired',
  description:
    'An Okta API token was revoked. When the actor is system@okta.com, Okta expired the token itself because it ' +
    'went unused for its whole window: nobody acted. When a person revoked it, the token stops working at once: ' +
    'expected after an incident or a clean-up, worth a question when nobody planned it (an intruder removing the ' +
    'token it used, or cutting off an integration).',
  severity: 'low' as const,
  riskScore: 21,
  filter: filterFor([API_TOKEN_REVOKE]),
  eventTypes: [{ type: API_TOKEN_REVOKE, hookEligible: true }],
  ...COMMON,
  match: always,
  mitre: [
    {
      tactic: { id: 'TA0040', name: 'Impact' },
      technique: { id: 'T1531', name: 'Account Access Removal' },
    },
    {
      tactic: { id: 'TA0005', name: 'Defense Evasion' },
      technique: { id: 'T1070', name: 'Indicator Removal' },
    },
  ],
  tags: [...TAGS, 'Tactic: Impact'],
  references: [...REFERENCES, 'https://attack.mitre.org/techniques/T1531/', 'https://attack.mitre.org/techniques/T1070/'],
  runbook: {
    triage: [
      'Read the actor first: system@okta.com means the token expired on its own after going unused; there is nobody to ask, only whether something still relied on it.',
      'For a person: did they mean to revoke it (a planned clean-up, an incident response, an admin leaving)? Ask them through a channel other than the account in question.',
      'Find out what the token was for and who owned it (the token name, the API tokens page, your inventory of integrations): a revoked integration token breaks that integration.',
      'Open the token activity link: what the token did before it was revoked matters more than the revocation, especially if nobody knew the token existed.',
      'A token revoked soon after it was made, by the person who made it, can be an intruder covering their tracks: look for what it did in between.',
    ],
    benign: [
      'Okta expiring a token that went unused for its window (actor system@okta.com).',
      'Routine clean-up or credential rotation by the admins who own the tokens.',
      'A defender revoking a suspicious token during an investigation.',
      'Okta deprovisioning the tokens of a deactivated admin.',
    ],
    response: [
      'If the revocation was not planned, find out who holds the actor\'s account and whether it is compromised; clear its sessions.',
      'Review what the token did before it went (the token activity link) and undo unauthorised changes.',
      'If an integration broke, issue it a new token restricted to its network zones, or better an OAuth service app with narrow scopes.',
      'Tell the owners of the token and record what happened.',
    ],
  },
});

/**
 * A token's network condition set to ANYWHERE: usable from any IP address. Tried before the generic
 * update rule (rules.ts), so an update that opens the token up alerts at this higher severity.
 */
export const TOKEN_NETWORK_ANYWHERE_RULE: Readonly<Rule> = Object.freeze({
  id: 'okta-api-token-network-anywhere',
  name: 'Okta API token opened to any network',
  description:
    'An Okta API token was changed so it works from any IP address (network condition ANYWHERE). Limiting a token to ' +
    'the network zones it is used from is what keeps a leaked token useless elsewhere; lifting that limit is what ' +
    'someone would do to use the token from their own machines. Okta\'s own guidance is that tokens should be ' +
    'restricted to network zones.',
  severity: 'high' as const,
  riskScore: 73,
  filter: filterFor([API_TOKEN_UPDATE]),
  eventTypes: [{ type: API_TOKEN_UPDATE, hookEligible: false }],
  ...COMMON,
  match: (event: OktaLogEvent): RuleMatch => (opensToAnywhere(event) ? { match: true } : { match: false, reason: 'the network condition is not ANYWHERE' }),
  mitre: [
    {
      tactic: { id: 'TA0005', name: 'Defense Evasion' },
      technique: { id: 'T1562', name: 'Impair Defenses' },
      subtechnique: { id: 'T1562.007', name: 'Disable or Modify Cloud Firewall' },
    },
    {
      tactic: { id: 'TA0003', name: 'Persistence' },
      technique: { id: 'T1098', name: 'Account Manipulation' },
    },
  ],
  tags: [...TAGS, 'Tactic: Defense Evasion'],
  references: [...REFERENCES, 'https://attack.mitre.org/techniques/T1562/007/', 'https://attack.mitre.org/techniques/T1098/'],
  runbook: {
    triage: [
      'Ask the actor, through another channel, why this token needs to work from anywhere; a good reason is rare.',
      'Check where the change came from (IP address, location, ASN, user agent) against where the actor normally works.',
      'If the change was made with an API token (the request names one), find out who holds that token: a token widening itself or another token is a strong sign of abuse.',
      'Open the token activity link and look for requests from new countries or networks since the change.',
      'Compare the time with other events for this actor: new sign-in locations, MFA resets, admin role grants.',
    ],
    benign: [
      'An integration that moved to a cloud service with changing addresses, configured in a hurry.',
      'A test or preview org where tokens are not restricted.',
    ],
    response: [
      'Put the restriction back (Security > API > Tokens: the token\'s network condition), or revoke the token if nobody owns the change.',
      'If the change is not explained, treat the actor\'s account as compromised: clear its sessions, reset its credentials and enforce strong MFA.',
      'Review what the token did since the change and undo unauthorised changes.',
      'Restrict every API token to the network zones it is used from, and limit who may manage tokens.',
      'Tell the security team and record what happened.',
    ],
  },
});

/** Any other change to a token (rate limit, concurrency, a network condition limited to zones). */
export const TOKEN_UPDATED_RULE: Readonly<Rule> = Object.freeze({
  id: 'okta-api-token-updated',
  name: 'Okta API token changed',
  description:
    'An Okta API token\'s settings were changed: its share of the rate limit or its network condition. Most such ' +
    'changes are tuning by the admins who own the token; the change that opens a token to any network has its own, ' +
    'higher-severity rule.',
  severity: 'low' as const,
  riskScore: 21,
  filter: filterFor([API_TOKEN_UPDATE]),
  eventTypes: [{ type: API_TOKEN_UPDATE, hookEligible: false }],
  ...COMMON,
  match: always,
  mitre: [
    {
      tactic: { id: 'TA0003', name: 'Persistence' },
      technique: { id: 'T1098', name: 'Account Manipulation' },
    },
  ],
  tags: [...TAGS, 'Tactic: Persistence'],
  references: [...REFERENCES, 'https://attack.mitre.org/techniques/T1098/'],
  runbook: {
    triage: [
      'Check who changed the token and whether they own it or administer API tokens as part of their job.',
      'Read the network facts: a token moved to wider zones, or out of the zones it used to be limited to, deserves a question.',
      'If the change was made with an API token, find out who holds that token.',
      'Open the token activity link to see what the token does now.',
    ],
    benign: [
      'Admins tuning a token\'s rate-limit share for a busy integration.',
      'Moving a token to new network zones after an office or cloud move.',
    ],
    response: [
      'If nobody owns the change, put the token\'s previous settings back or revoke it (Security > API > Tokens).',
      'Ask the actor about it through another channel; if it is not explained, clear their sessions and reset their credentials.',
      'Tell the owners of the token and record what happened.',
    ],
  },
});

/**
 * A request with a token from outside its allowed network zones: the token is being used from
 * somewhere it should not be, most likely because it leaked.
 */
export const TOKEN_OUTSIDE_RANGE_RULE: Readonly<Rule> = Object.freeze({
  id: 'okta-api-token-outside-allowed-range',
  name: 'Okta API token used from outside its allowed network',
  description:
    'Okta received a request made with an API token from an IP address outside the network zones the token is ' +
    'limited to. The restriction did its job, but the token is in the hands of someone, or something, working from ' +
    'the wrong place: a leaked token being tried, or an integration that moved.',
  severity: 'high' as const,
  riskScore: 73,
  filter: filterFor([API_TOKEN_OUTSIDE_RANGE]),
  eventTypes: [{ type: API_TOKEN_OUTSIDE_RANGE, hookEligible: true }],
  ...COMMON,
  match: always,
  mitre: [
    {
      tactic: { id: 'TA0001', name: 'Initial Access' },
      technique: { id: 'T1078', name: 'Valid Accounts' },
      subtechnique: { id: 'T1078.004', name: 'Cloud Accounts' },
    },
    {
      tactic: { id: 'TA0005', name: 'Defense Evasion' },
      technique: { id: 'T1550', name: 'Use Alternate Authentication Material' },
      subtechnique: { id: 'T1550.001', name: 'Application Access Token' },
    },
  ],
  tags: [...TAGS, 'Tactic: Initial Access'],
  references: [...REFERENCES, 'https://attack.mitre.org/techniques/T1078/004/', 'https://attack.mitre.org/techniques/T1550/001/'],
  runbook: {
    triage: [
      'Look at where the request came from (IP address, location, ASN or ISP, proxy flag, user agent): is it anywhere the token\'s owner or integration runs?',
      'Find out who owns the token (its name, the API tokens page) and ask whether their integration moved or changed provider.',
      'Open the token activity link: requests from inside the zones around the same time show whether the token is still used where it belongs.',
      'Check whether the token was copied somewhere it could leak (a repository, a CI log, a shared document).',
    ],
    benign: [
      'An integration moved to new addresses (a new cloud region, office or VPN egress) before the zones were updated.',
      'An admin testing the token from a laptop outside the zones.',
    ],
    response: [
      'Unless the owner explains the address at once, revoke the token (Security > API > Tokens) and issue a new one to the integration.',
      'Search for where the token could have leaked and remove it from there.',
      'Block the source address in a network zone if it keeps trying.',
      'Tell the security team and record what happened.',
    ],
  },
});

/** A disabled token switched back on. */
export const TOKEN_ENABLED_RULE: Readonly<Rule> = Object.freeze({
  id: 'okta-api-token-enabled',
  name: 'Okta API token re-enabled',
  description:
    'An Okta API token that had been disabled was enabled again, so it works once more with the rights of its owner. ' +
    'A token switched off on purpose coming back is a way back into the org that no new token creation shows.',
  severity: 'medium' as const,
  riskScore: 47,
  filter: filterFor([API_TOKEN_ENABLE]),
  eventTypes: [{ type: API_TOKEN_ENABLE, hookEligible: false }],
  ...COMMON,
  match: always,
  mitre: [
    {
      tactic: { id: 'TA0003', name: 'Persistence' },
      technique: { id: 'T1098', name: 'Account Manipulation' },
      subtechnique: { id: 'T1098.001', name: 'Additional Cloud Credentials' },
    },
  ],
  tags: [...TAGS, 'Tactic: Persistence'],
  references: [...REFERENCES, 'https://attack.mitre.org/techniques/T1098/001/'],
  runbook: {
    triage: [
      'Find out why the token was disabled and who decided to enable it again; ask the actor through another channel.',
      'Check where the change came from (IP address, location, user agent) and whether it was made with another API token.',
      'Open the token activity link to see what the token did since it came back.',
    ],
    benign: [
      'An admin restoring an integration that was switched off by mistake or for maintenance.',
    ],
    response: [
      'If nobody owns the change, revoke the token (Security > API > Tokens) rather than disabling it again.',
      'If it is not explained, treat the actor\'s account as compromised: clear its sessions and reset its credentials.',
      'Tell the owners of the token and record what happened.',
    ],
  },
});

/**
 * The lifecycle rules, in the order the detector must try them: the ANYWHERE rule before the
 * generic update rule (both watch system.api_token.update; the first match wins).
 */
export const LIFECYCLE_RULES: readonly Rule[] = Object.freeze([
  TOKEN_REVOKED_RULE,
  TOKEN_NETWORK_ANYWHERE_RULE,
  TOKEN_UPDATED_RULE,
  TOKEN_OUTSIDE_RANGE_RULE,
  TOKEN_ENABLED_RULE,
]);

/**
 * The ids of the lifecycle rules. Ingest (issue 12, the watch engine) turns an alert decided under
 * one of them into a follow-up of the creation alert when this program alerted on the token's
 * creation; otherwise the alert goes out on its own.
 */
export const LIFECYCLE_RULE_IDS: readonly string[] = Object.freeze(LIFECYCLE_RULES.map((r) => r.id));

/** True when an alert's rule is one of the lifecycle rules. */
export function isLifecycleRule(rule: Pick<AlertRule, 'id'>): boolean {
  return LIFECYCLE_RULE_IDS.includes(rule.id);
}
