import type { CheckLine } from '../check';
import type { AppConfig } from '../config';
import { redact } from '../logger';
import { OktaRequestError, type OktaHttp } from '../okta/http';

const MANAGE = 'okta.apiTokens.manage';

/**
 * The `check` lines about responding to alerts: which actions are on, whether the Okta credentials
 * can revoke (OAuth: probed through the revoke connection, see probeRevokeAccess; SSWS: what the
 * token's admin needs, which cannot be tested without revoking), and who may act in Slack.
 */
export async function responseCheckLines(config: AppConfig, revokeOkta: OktaHttp | null): Promise<CheckLine[]> {
  const r = config.respond;
  const actions = [...r.actions];
  const lines: CheckLine[] = [];
  const on = actions.length ? actions.join(', ') : 'none';
  if (!r.actions.has('revoke')) {
    lines.push({ name: 'response actions', ok: true, detail: `${on}; revoking is off (add revoke to RESPONSE_ACTIONS to allow it)` });
  } else if (config.okta?.auth.mode === 'oauth') {
    lines.push({ name: 'response actions', ...(await probeRevokeAccess(revokeOkta, on)) });
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

/**
 * Whether the service app may revoke: its connection asks for okta.apiTokens.manage alone (the
 * token endpoint refuses a scope the app was not granted) and lists one API token (Okta answers
 * 403 when the app's admin role may not manage them). Nothing is changed in Okta.
 */
async function probeRevokeAccess(okta: OktaHttp | null, on: string): Promise<{ ok: boolean; detail: string }> {
  if (!okta) return { ok: false, detail: `${on}; the Okta settings are missing` };
  try {
    const res = await okta.get('/api/v1/api-tokens?limit=1', { timeoutMs: 10_000 });
    if (res.status >= 200 && res.status < 300) return { ok: true, detail: `${on}; the service app was granted ${MANAGE} and its admin role may manage API tokens` };
    if (res.status === 403) return { ok: false, detail: `${on}; the service app was granted ${MANAGE}, but Okta refused it (403): give it an admin role that may manage API tokens, or revokes will fail` };
    return { ok: false, detail: `${on}; could not tell whether the service app may revoke: Okta answered HTTP ${res.status}` };
  } catch (err) {
    if (err instanceof OktaRequestError && err.kind === 'auth-setup' && err.detail?.error === 'invalid_scope') {
      return { ok: false, detail: `${on}; RESPONSE_ACTIONS allows revoke, but the service app is not granted ${MANAGE}: grant it on the app's "Okta API Scopes" tab (it need not be in OKTA_SCOPES), or revokes will fail` };
    }
    return { ok: false, detail: `${on}; could not tell whether the service app may revoke: ${redact(err instanceof Error ? err.message : String(err))}` };
  }
}
