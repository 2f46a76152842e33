import type { SensitiveCategory } from './followup';

/**
 * Event types an analyst needs named one by one when a new token did them, by category. Exact
 * types where Okta's catalog names the few that matter; prefixes where every type of a family is a
 * change (a zone, a log stream), so a type Okta adds to the family later is still caught.
 */
const EXACT: ReadonlyMap<string, SensitiveCategory> = new Map<string, SensitiveCategory>([
  ['user.account.privilege.grant', 'admin-privilege'],
  ['group.privilege.grant', 'admin-privilege'],
  ['app.oauth2.client.privilege.grant', 'admin-privilege'],
  ['user.lifecycle.create', 'user-created'],
  ['user.lifecycle.activate', 'user-created'],
  ['user.lifecycle.reactivate', 'user-created'],
  ['user.mfa.factor.reset_all', 'mfa-reset'],
  ['user.mfa.factor.deactivate', 'mfa-reset'],
  ['user.mfa.factor.suspend', 'mfa-reset'],
  ['system.mfa.factor.deactivate', 'mfa-reset'],
  ['system.api_token.create', 'api-token-created'],
]);

/** Families, tried in order after the exact types. */
const PREFIXES: ReadonlyArray<readonly [string, SensitiveCategory]> = [
  // Custom admin roles and resource sets: what a role grant can later widen.
  ['iam.role.', 'admin-privilege'],
  ['iam.resourceset.', 'admin-privilege'],
  // Sign-on, password and MFA enrollment policies and their rules: made, changed, switched off or deleted.
  ['policy.lifecycle.', 'policy-changed'],
  ['policy.rule.', 'policy-changed'],
  ['zone.', 'network-zone-changed'],
  ['application.lifecycle.', 'app-changed'],
  ['application.policy.', 'app-changed'],
  ['app.oauth2.client.lifecycle.', 'app-changed'],
  ['event_hook.', 'event-hook-or-log-stream-changed'],
  ['log_stream.', 'event-hook-or-log-stream-changed'],
];

/**
 * Okta's own reports about a hook or stream (a failed delivery) are not a change anyone made with
 * the token; naming them as "sensitive" would cry wolf.
 */
const NOT_A_CHANGE: ReadonlySet<string> = new Set(['event_hook.delivery', 'log_stream.delivery']);

/**
 * The sensitive category of an event type, or null when it is not on the list. The type is
 * attacker-controlled and of any JSON type: anything but a string is not sensitive (and is still
 * counted as activity by the caller).
 */
export function sensitiveCategory(eventType: unknown): SensitiveCategory | null {
  if (typeof eventType !== 'string' || eventType.length > 200) return null;
  const exact = EXACT.get(eventType);
  if (exact) return exact;
  if (NOT_A_CHANGE.has(eventType)) return null;
  for (const [prefix, category] of PREFIXES) if (eventType.startsWith(prefix)) return category;
  return null;
}
