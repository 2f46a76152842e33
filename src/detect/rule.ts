import { API_TOKEN_CREATE } from '../okta/log-event';
import type { AlertRule } from './alert';
import { alertRuleOf, filterFor, type Rule } from './rule-model';

/** The System Log filter of the token-creation rule (the poller sends the union of all rules', rules.ts). */
export const RULE_FILTER = filterFor([API_TOKEN_CREATE]);

/**
 * The first rule of the set (rules.ts): every attempt to create an API token. Every alert carries a
 * copy of its metadata, so a notification is self-explanatory without this program's source at
 * hand. The descriptions and the runbook are this project's own wording.
 */
export const RULE: Readonly<Rule> = Object.freeze({
  id: 'okta-api-token-create',
  name: 'Okta API token creation attempt',
  description:
    'Someone tried to create an Okta API token (an SSWS token). Such a token acts with the full rights of the ' +
    'admin who made it and keeps working after that admin signs out, changes password or loses the session, ' +
    'so a token made by an intruder is a quiet way back into the org. Every attempt alerts, whatever its outcome: ' +
    'a failed attempt still shows someone trying.',
  severity: 'medium' as const,
  riskScore: 47,
  filter: RULE_FILTER,
  eventTypes: [{ type: API_TOKEN_CREATE, hookEligible: true }],
  tunable: true,
  tokenFacts: true,
  summarizable: true,
  // Every attempt matches, whatever its outcome; ALERT_OUTCOMES and exceptions narrow it (detector.ts).
  match: () => ({ match: true as const }),
  mitre: [
    {
      tactic: { id: 'TA0003', name: 'Persistence' },
      technique: { id: 'T1136', name: 'Create Account' },
    },
    {
      tactic: { id: 'TA0003', name: 'Persistence' },
      technique: { id: 'T1098', name: 'Account Manipulation' },
      subtechnique: { id: 'T1098.001', name: 'Additional Cloud Credentials' },
    },
  ],
  tags: ['Identity and Access Audit', 'Data Source: Okta', 'Tactic: Persistence'],
  references: [
    'https://developer.okta.com/docs/reference/api/system-log/',
    'https://developer.okta.com/docs/reference/api/event-types/',
    'https://attack.mitre.org/tactics/TA0003/',
    'https://attack.mitre.org/techniques/T1136/',
    'https://attack.mitre.org/techniques/T1098/001/',
  ],
  runbook: {
    triage: [
      'Identify the actor: does creating API tokens fit this person\'s job, and have they done it before? The history facts in this alert count their recent token creations.',
      'Check the outcome first: SUCCESS means a live token may exist now; a failure or denial still shows an attempt worth explaining.',
      'Compare where the request came from (IP address, location, network zone, ASN or ISP, proxy flag, user agent) with where this actor normally works; a first-seen country or ASN deserves a closer look.',
      'Check how the token was made: the Admin Console (a signed-in admin session) or the API; when another API token made this one, investigate that token as well.',
      'Open the token activity link to see what the new token has done since: new users, role or policy changes, disabled rules or MFA changes are strong signs of abuse.',
      'Line the time up with other security events for this actor around it: new sign-in locations, MFA resets, session anomalies, password changes.',
      'Ask the actor or their manager directly, through a channel other than the account in question, whether they made this token and why; check it against your policy for API tokens.',
    ],
    benign: [
      'IT or platform staff automating Okta administration (scripts, Terraform and other infrastructure-as-code pipelines).',
      'Planned maintenance such as scheduled credential rotation.',
      'Third-party or in-house integrations that need a token to reach the Okta API.',
      'Development, test and preview orgs where tokens are made and discarded often.',
    ],
    response: [
      'If nobody can explain the token, revoke it at once (Security > API > Tokens) rather than waiting for the investigation to finish.',
      'Review everything the token did (the token activity link) and undo unauthorised changes.',
      'Reset the actor\'s credentials, clear their sessions and make sure strong MFA is enforced on every account involved.',
      'Tell the security team and record what happened.',
      'Limit who may create API tokens to the admins who need to (least privilege), and prefer OAuth service apps with narrow scopes over SSWS tokens.',
      'Escalate to incident response if the account, other admins or the org look more widely compromised.',
    ],
  },
});

/** The token-creation rule as an alert carries it (a plain copy, safe to serialise and to mutate). */
export function alertRule(): AlertRule {
  return alertRuleOf(RULE);
}
