import type { CheckLine } from '../check';
import { redact } from '../logger';
import { classifyResponse, classifyTransportError, createHttp, deadlineSignal } from '../notify/http';
import type { SlackAppConfig } from './config';
import type { Responder } from './respond-port';

const HINTS: Record<string, string> = {
  invalid_auth: 'SLACK_APP_TOKEN is wrong or was revoked: create a new app-level token',
  not_authed: 'SLACK_APP_TOKEN is missing',
  not_allowed_token_type: 'SLACK_APP_TOKEN is not an app-level token: use the xapp- token from Basic Information > App-Level Tokens, not the bot token',
  missing_scope: 'give the app-level token the connections:write scope',
  token_revoked: 'SLACK_APP_TOKEN was revoked: create a new app-level token',
};

/**
 * `check` lines for Slack app mode: whether the app-level token opens a Socket Mode connection
 * (apps.connections.open; the URL it returns is thrown away unused, it expires by itself) and
 * whether the response actions are wired. The bot token is checked on the `notifier slack` line
 * (auth.test). No token or URL appears in a line.
 */
export async function checkSlackApp(config: SlackAppConfig, responder: Responder | null, timeoutMs: number): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const what = 'Slack apps.connections.open';
  try {
    const res = await createHttp(timeoutMs)
      .post(`${config.apiUrl}/apps.connections.open`, '', { headers: { Authorization: `Bearer ${config.appToken}` }, signal: deadlineSignal(timeoutMs) })
      .catch((err: unknown) => {
        throw classifyTransportError(err, what);
      });
    const problem = classifyResponse(res, what);
    if (problem) throw problem;
    let parsed: { ok?: unknown; error?: unknown; url?: unknown } = {};
    try {
      parsed = JSON.parse(String(res.data)) as typeof parsed;
    } catch {
      throw new Error(`${what} answered something that is not JSON`);
    }
    if (parsed.ok === true && typeof parsed.url === 'string') {
      lines.push({ name: 'slack app', ok: true, detail: 'SLACK_APP_TOKEN opens a Socket Mode connection' });
    } else {
      const error = typeof parsed.error === 'string' ? redact(parsed.error).replace(/[^a-z0-9_]/gi, '').slice(0, 60) : 'unknown_error';
      lines.push({ name: 'slack app', ok: false, detail: `${what} refused SLACK_APP_TOKEN: ${error}${HINTS[error] ? ` (${HINTS[error]})` : ''}` });
    }
  } catch (err) {
    lines.push({ name: 'slack app', ok: false, detail: redact(err instanceof Error ? err.message : String(err)) });
  }
  if (!responder) {
    lines.push({ name: 'slack app', ok: false, detail: 'the response actions are not wired in this build, so the daemon does not start the Slack app' });
  } else {
    const { actions, users, groups } = responder.policy;
    const who = users.length + groups.length === 0 ? 'nobody may act (RESPONDERS is empty)' : `${users.length} user(s) and ${groups.length} user group(s) may act`;
    lines.push({ name: 'slack app', ok: true, warn: users.length + groups.length === 0, detail: `buttons on alerts: ${actions.join(', ') || 'none'}; ${who}` });
  }
  return lines;
}
