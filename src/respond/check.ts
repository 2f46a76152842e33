import type { CheckLine } from '../check';
import type { AppConfig } from '../config';

const MANAGE = 'okta.apiTokens.manage';

/**
 * The `check` lines about responding to alerts: which actions are on, whether the Okta credentials
 * can revoke (OAuth: OKTA_SCOPES asks for okta.apiTokens.manage, and Okta granted it when the
 * System Log request got its access token, since Okta refuses a token request that asks for a scope
 * the app lacks; SSWS: what the token's admin needs, which cannot be tested without revoking), and
 * who may act in Slack. `oktaOk` is whether the check's Okta request succeeded.
 */
export function responseCheckLines(config: AppConfig, oktaOk: boolean): CheckLine[] {
  const r = config.respond;
  const actions = [...r.actions];
  const lines: CheckLine[] = [];
  const on = actions.length ? actions.join(', ') : 'none';
  if (!r.actions.has('revoke')) {
    lines.push({ name: 'response actions', ok: true, detail: `${on}; revoking is off (add revoke to RESPONSE_ACTIONS to allow it)` });
  } else if (config.okta?.auth.mode === 'oauth') {
    const asked = config.okta.auth.scopes.includes(MANAGE);
    lines.push(
      !asked
        ? { name: 'response actions', ok: false, detail: `${on}; RESPONSE_ACTIONS allows revoke, but OKTA_SCOPES does not ask for ${MANAGE}: add it to OKTA_SCOPES and grant it to the service app (its "Okta API Scopes" tab), or revokes will fail with 403.` }
        : oktaOk
          ? { name: 'response actions', ok: true, detail: `${on}; the service app was granted ${MANAGE} (Okta issued its access token with it); it also needs an admin role that may manage API tokens` }
          : { name: 'response actions', ok: false, detail: `${on}; cannot tell whether the service app was granted ${MANAGE}: the Okta request above failed.` },
    );
  } else if (config.okta) {
    lines.push({
      name: 'response actions',
      ok: true,
      detail: `${on}; revoking uses OKTA_API_TOKEN, which acts with the rights of the admin who made it: a Super Administrator, or a custom admin role with the ${MANAGE} permission, may revoke (check cannot test this without revoking)`,
    });
  }
  const who = r.users.size + r.groups.size === 0
    ? 'RESPONDERS is empty: no Slack user may act (the CLI still can)'
    : `RESPONDERS: ${r.users.size} Slack user(s) and ${r.groups.size} user group(s) may act in Slack`;
  lines.push({ name: 'responders', ok: true, detail: who });
  return lines;
}
