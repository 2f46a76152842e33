import axios from 'axios';
import type { Store } from '../../src/store/store';
import type { RespondRequest, Responder, ResponseOutcome, ResponsePolicy } from '../../src/slack-app/respond-port';

/** One row of the stand-in audit table. */
export interface TestResponseRow {
  id: number;
  alert_id: string;
  token_id: string | null;
  action: string;
  via: string;
  by_id: string | null;
  by_name: string | null;
  result: string;
  reason: string | null;
  error: string | null;
  requested_at: string;
  finished_at: string | null;
}

/**
 * A small real `respond()` for the Slack app's tests, until part G's lands: it revokes through the
 * fake Okta's DELETE /api/v1/api-tokens/{id} over HTTP and keeps an audit in a table of the same
 * SQLite file. A revoke is claimed by a row inside a transaction, so a second one does not call
 * Okta and says who did it first.
 */
export async function testResponder(opts: { store: Store; oktaOrigin: string; oktaToken: string; policy: ResponsePolicy; now: () => Date }): Promise<Responder & { rows(): Promise<TestResponseRow[]> }> {
  const { store } = opts;
  await store.sql.run(`CREATE TABLE IF NOT EXISTS test_response_actions (
    id INTEGER PRIMARY KEY, alert_id TEXT NOT NULL, token_id TEXT, action TEXT NOT NULL, via TEXT NOT NULL,
    by_id TEXT, by_name TEXT, result TEXT NOT NULL, reason TEXT, error TEXT, requested_at TEXT NOT NULL, finished_at TEXT)`);

  const row = async (on: Store, req: RespondRequest, tokenId: string | null, result: string, error: string | null = null): Promise<number> =>
    (await on.sql.get<{ id: number }>(
      `INSERT INTO test_response_actions (alert_id, token_id, action, via, by_id, by_name, result, reason, error, requested_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [req.alertId, tokenId, req.action, req.by.via, req.by.id, req.by.name, result, req.refused ?? req.reason, error, opts.now().toISOString(), result === 'pending' ? null : opts.now().toISOString()],
    ))!.id;

  async function respond(req: RespondRequest): Promise<ResponseOutcome> {
    const alert = await store.getAlert(req.alertId);
    if (!alert) return { result: 'failed', message: 'no such alert in this database' };
    const tokenId = alert.token?.id ?? null;
    if (req.refused) {
      await row(store, req, tokenId, 'refused');
      return { result: 'refused', message: `not allowed: ${req.refused}` };
    }
    if (req.action !== 'revoke') {
      await row(store, req, tokenId, 'recorded');
      const exceptionEntry = req.action === 'expected' ? `sources:\n  - actor: ${JSON.stringify(alert.actor.login)}\n    reason: ${JSON.stringify(req.reason)}\n` : null;
      return { result: 'recorded', message: `${req.action === 'expected' ? 'marked expected' : 'acknowledged'} by ${req.by.name}`, exceptionEntry };
    }
    if (!tokenId) return { result: 'failed', message: 'the alert names no token' };
    const claim = await store.transaction(async (tx): Promise<TestResponseRow | number> => {
      const first = await tx.sql.get<TestResponseRow>(
        `SELECT * FROM test_response_actions WHERE alert_id = ? AND action = 'revoke' AND result IN ('pending', 'revoked', 'already-gone') ORDER BY id LIMIT 1`,
        [req.alertId],
      );
      return first ?? row(tx, req, tokenId, 'pending');
    });
    if (typeof claim !== 'number') {
      return { result: claim.result === 'already-gone' ? 'already-gone' : 'revoked', message: `already revoked by ${claim.by_name} at ${claim.requested_at}`, alreadyDone: true };
    }
    const res = await axios.delete(`${opts.oktaOrigin}/api/v1/api-tokens/${encodeURIComponent(tokenId)}`, {
      headers: { Authorization: `SSWS ${opts.oktaToken}`, Accept: 'application/json' },
      validateStatus: () => true,
      timeout: 10_000,
    });
    const owner = alert.actor.login ?? 'unknown';
    const [result, message, error]: [ResponseOutcome['result'], string, string | null] =
      res.status === 204
        ? ['revoked', `revoked token ${alert.token?.name ?? tokenId} (owner ${owner})`, null]
        : res.status === 404
          ? ['already-gone', `token ${tokenId} was already gone (revoked or expired before)`, null]
          : res.status === 403
            ? ['forbidden', 'Okta refused: the credentials lack okta.apiTokens.manage', 'HTTP 403']
            : ['failed', `Okta answered HTTP ${res.status}; nothing was revoked`, `HTTP ${res.status}`];
    await store.sql.run('UPDATE test_response_actions SET result = ?, error = ?, finished_at = ? WHERE id = ?', [result, error, opts.now().toISOString(), claim]);
    return { result, message };
  }

  return {
    respond,
    policy: opts.policy,
    rows: () => store.sql.all<TestResponseRow>('SELECT * FROM test_response_actions ORDER BY id'),
  };
}
