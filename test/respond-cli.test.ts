import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { parseExceptions, matchExceptions } from '../src/detect/exceptions';
import type { OktaLogEvent } from '../src/okta/log-event';
import { AuditLog } from '../src/respond/audit';
import { respond, respondDepsFor } from '../src/respond/respond';
import { tokenEvent, uuidFor } from './helpers/events';
import { PassThrough } from 'node:stream';
import { main } from '../src/cli';
import { countRows, LineSink, runCli, startHarness, waitFor, type Harness } from './helpers/harness';
import { Receiver } from './helpers/receiver';

const tokenIdOf = (n: number): string => `00T${String(n).padStart(17, '0')}`;
const alertIdOf = (n: number): string => `otw-${uuidFor(n)}`;

describe('responding to an alert from the CLI', () => {
  let h: Harness;
  let hook: Receiver;
  let env: Record<string, string | undefined>;
  const deletes = (id: string): number => h.fake.requests.filter((r) => r.method === 'DELETE' && r.path === `/api/v1/api-tokens/${id}`).length;
  const audit = (sql: string): number => countRows(env.DB_PATH!, sql);

  before(async () => {
    hook = new Receiver();
    const hookUrl = await hook.start();
    // The fake clock starts at the real time: the CLI processes stamp their rows with the real clock.
    h = await startHarness({ clock: new FakeClock(Date.now()), env: { NOTIFIERS: 'console,webhook', WEBHOOK_URL: `${hookUrl}/hook`, RESPONSE_ACTIONS: 'revoke,expected,acknowledge' } });
    const published = new Date(Date.now() - 60_000).toISOString();
    h.fake.persist(
      ...[1, 2, 3, 4, 5, 6].map((n) => tokenEvent(n, published)),
      // A hostile token name: a line break, a YAML comment and key, quotes, a wildcard.
      tokenEvent(7, published, { target: [{ id: tokenIdOf(7), type: 'Token', alternateId: 'unknown', displayName: 'ci "token"\n# x\nactor: "*" evil?\u202e ' }] }),
    );
    for (const n of [1, 2, 3, 4, 5]) h.fake.apiTokens.set(tokenIdOf(n), { id: tokenIdOf(n), name: `token-${n}` });
    await h.tick();
    env = { ...h.env };
  });
  after(async () => {
    await h.close();
    await hook.stop();
  });

  test('when a token is revoked twice, then Okta gets one DELETE, the second run names who revoked it, and one follow-up per notifier is queued', async () => {
    const first = await runCli(['revoke', alertIdOf(1), '--yes'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^revoked token "token-1" \(00T00000000000000001\) of admin1@example\.com\n$/);
    const second = await runCli(['revoke', tokenIdOf(1), '--yes'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /was already revoked by \S+ via cli at \d{4}-/);
    assert.equal(deletes(tokenIdOf(1)), 1);
    assert.equal(h.fake.apiTokens.has(tokenIdOf(1)), false);
    assert.equal(audit(`SELECT count(*) AS n FROM response_actions WHERE token_id = '${tokenIdOf(1)}' AND result = 'revoked' AND by_via = 'cli' AND finished_at IS NOT NULL`), 1);
    assert.equal(audit(`SELECT count(*) AS n FROM response_actions WHERE token_id = '${tokenIdOf(1)}' AND result = 'duplicate'`), 1);
    // One follow-up (the revoke; the repeat queues none), one delivery per enabled notifier.
    assert.equal(audit(`SELECT count(*) AS n FROM followups WHERE kind = 'response'`), 1);
    assert.equal(audit(`SELECT count(*) AS n FROM deliveries d JOIN followups f ON f.id = d.followup_id WHERE f.kind = 'response' AND d.notifier = 'webhook'`), 1);
    assert.equal(audit(`SELECT count(*) AS n FROM deliveries d JOIN followups f ON f.id = d.followup_id WHERE f.kind = 'response' AND d.notifier = 'console'`), 1);
    // The daemon's dispatcher sends it: the webhook receives the response with the alert's id.
    h.clock.set(new Date());
    await h.app.dispatcher.runOnce();
    const sent = hook.requests.map((r) => r.json as { type?: string; alertId?: string; followup?: { kind?: string; response?: { result?: string; action?: string } } }).filter((j) => j?.followup?.kind === 'response');
    assert.equal(sent.length, 1, hook.requests.map((r) => (r.json as { type?: string })?.type).join(', '));
    assert.equal(sent[0]!.alertId, alertIdOf(1));
    assert.deepEqual([sent[0]!.followup!.response!.action, sent[0]!.followup!.response!.result], ['revoke', 'revoked']);
  });

  test('when Okta logs the revoke this program made, then the token\'s watch says who asked for it and through what, and the revoke is a follow-up, not an alert', async () => {
    // The first test revoked token 1 through the CLI; the fake Okta logged it as the API token's admin.
    h.clock.set(new Date());
    const r = await h.tick();
    assert.equal(r.ok, true);
    const rows = await h.app.store.sql.all<{ by: string | null }>('SELECT revoked_by AS by, closed_at AS closed FROM token_watches WHERE token_id = ?', [tokenIdOf(1)]);
    assert.equal(rows.length, 1);
    assert.match(rows[0]!.by ?? '', / \(CLI\) via okta-token-watch$/);
    const lifecycle = (await h.app.store.followUpsOf(alertIdOf(1))).filter((f) => f.kind === 'lifecycle');
    assert.equal(lifecycle.length, 1);
    assert.equal(lifecycle[0]!.lifecycle!.change, 'revoked');
    assert.match(lifecycle[0]!.watch.revokedBy ?? '', /via okta-token-watch$/);
    assert.equal((await h.app.store.listAlerts(100)).filter((a) => a.alert.rule.id === 'okta-api-token-revoked').length, 0);
  });

  test('when status --alerts runs after a revoke, then the alert shows its watch and the action, in text and JSON', async () => {
    const text = await runCli(['status', '--alerts'], env);
    assert.equal(text.code, 0, text.stderr);
    const block = text.stdout.slice(text.stdout.indexOf(alertIdOf(1)));
    assert.match(block, /revoked at \S+ by .* \(CLI\) via okta-token-watch/);
    assert.match(block, /\n {6}revoke by \S+ via cli at \d{4}-[^\n]*: revoked\n/);
    const json = await runCli(['status', '--alerts', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const alerts = (JSON.parse(json.stdout) as { alerts: Array<{ id: string; actions: Array<{ action: string; result: string }> }> }).alerts;
    const one = alerts.find((a) => a.id === alertIdOf(1))!;
    assert.deepEqual(one.actions.map((x) => [x.action, x.result]), [['revoke', 'revoked'], ['revoke', 'duplicate']]);
  });

  test('when two processes revoke the same token at once, then Okta gets one DELETE and both report it revoked', async () => {
    // Okta takes 2 s to answer the first DELETE: the second process arrives while the claim is pending.
    h.fake.fail(1, { kind: 'hang', ms: 2000 }, (p) => p === `/api/v1/api-tokens/${tokenIdOf(2)}`);
    const [a, b] = await Promise.all([runCli(['revoke', alertIdOf(2), '--yes'], env), runCli(['revoke', alertIdOf(2), '--yes'], env)]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(deletes(tokenIdOf(2)), 1);
    assert.deepEqual([a.stdout, b.stdout].map((s) => /^revoked token/.test(s) ? 'revoked' : /already revoked by/.test(s) ? 'already' : s).sort(), ['already', 'revoked']);
    // The second one came while the first was waiting for Okta (its claim pending), not after.
    assert.equal(
      audit(`SELECT count(*) AS n FROM response_actions d JOIN response_actions r ON r.token_id = d.token_id AND r.result = 'revoked'
             WHERE d.token_id = '${tokenIdOf(2)}' AND d.result = 'duplicate' AND d.requested_at < r.finished_at`),
      1,
    );
    assert.equal(audit(`SELECT count(*) AS n FROM followups f JOIN alerts a ON a.id = f.alert_id WHERE f.kind = 'response' AND a.alert_id = '${alertIdOf(2)}'`), 1);
  });

  test('when Okta answers 404, then the token is reported already gone and the command succeeds', async () => {
    const r = await runCli(['revoke', alertIdOf(6), '--yes'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /was already gone in Okta \(revoked or expired before\)/);
    assert.equal(audit(`SELECT count(*) AS n FROM response_actions WHERE token_id = '${tokenIdOf(6)}' AND result = 'already-gone'`), 1);
  });

  test('when Okta answers 403, then the command fails naming the permission, nothing is marked revoked, and a later revoke calls Okta again', async () => {
    h.fake.apiTokensForbidden = true;
    try {
      const r = await runCli(['revoke', alertIdOf(3), '--yes'], env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /could not revoke token "token-3".*403 E0000006.*may not manage API tokens.*okta\.apiTokens\.manage/);
      assert.equal(audit(`SELECT count(*) AS n FROM response_actions WHERE token_id = '${tokenIdOf(3)}' AND result = 'forbidden'`), 1);
      assert.equal(h.fake.apiTokens.has(tokenIdOf(3)), true);
    } finally {
      h.fake.apiTokensForbidden = false;
    }
    const again = await runCli(['revoke', alertIdOf(3), '--yes'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(deletes(tokenIdOf(3)), 2);
  });

  test('when RESPONSE_ACTIONS does not list revoke, then revoke is refused, stored as refused, and Okta is not called', async () => {
    const r = await runCli(['revoke', alertIdOf(4), '--yes'], { ...env, RESPONSE_ACTIONS: undefined });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not allowed: revoking is off: RESPONSE_ACTIONS does not list revoke/);
    assert.equal(deletes(tokenIdOf(4)), 0);
    assert.equal(audit(`SELECT count(*) AS n FROM response_actions WHERE token_id = '${tokenIdOf(4)}' AND result = 'refused' AND error LIKE 'revoking is off%'`), 1);
  });

  test('when revoke runs without --yes and stdin is not a terminal, then it refuses with a usage error and calls nothing', async () => {
    const r = await runCli(['revoke', alertIdOf(4)], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /stdin is not a terminal: add --yes/);
    assert.match(r.stderr, /Usage: okta-token-watch revoke/);
    assert.equal(deletes(tokenIdOf(4)), 0);
    const none = await runCli(['revoke', '--yes'], env);
    assert.equal(none.code, 2);
  });

  test('when revoke runs on a terminal without --yes, then it asks naming the token and its creator, and only "yes" revokes', async () => {
    const ask = async (answer: string): Promise<{ code: number; out: string; err: string }> => {
      const stdin = Object.assign(new PassThrough(), { isTTY: true });
      const stdout = new LineSink();
      const stderr = new LineSink();
      const code = main(['revoke', alertIdOf(4)], { stdout, stderr, env: env as NodeJS.ProcessEnv, stdin });
      await waitFor(() => stderr.text.includes('Type yes to revoke'), 'the question');
      stdin.end(`${answer}\n`);
      return { code: await code, out: stdout.text, err: stderr.text };
    };
    const no = await ask('n');
    assert.match(no.err, /^Revoke token "token-4" \(00T00000000000000004\) created by admin4@example\.com \(alert otw-\S+\)\? Type yes to revoke: not revoked\.$/);
    assert.equal(no.code, 1);
    assert.equal(deletes(tokenIdOf(4)), 0);
    const yes = await ask('yes');
    assert.equal(yes.code, 0, yes.err);
    assert.match(yes.out, /^revoked token "token-4"/);
    assert.equal(deletes(tokenIdOf(4)), 1);
  });

  test('when a Slack user not in RESPONDERS clicks Revoke, then the attempt is stored as refused and Okta is not called', async () => {
    const deps = { ...respondDepsFor(h.app), config: { ...h.app.config.respond, users: new Set(['U0ALLOWED1']), groups: new Set(['S0TEAM0001']) } };
    const o = await respond(deps, { target: alertIdOf(5), action: 'revoke', by: { via: 'slack', id: 'U0INTRUDER', name: 'mallory' } });
    assert.equal(o.status, 'refused');
    assert.equal(o.text, 'not allowed: mallory is not in RESPONDERS');
    assert.equal(deletes(tokenIdOf(5)), 0);
    const row = await new AuditLog(h.app.store).get(o.actionId!);
    assert.deepEqual([row?.result, row?.by, row?.alertId], ['refused', { via: 'slack', id: 'U0INTRUDER', name: 'mallory' }, alertIdOf(5)]);
    // A forged action name from a payload is refused before anything is stored or called.
    const forged = await respond(deps, { target: alertIdOf(5), action: 'delete-org' as 'revoke', by: { via: 'slack', id: 'U0ALLOWED1', name: 'alice' } });
    assert.deepEqual([forged.status, forged.actionId], ['refused', null]);
    // A member of a listed user group may act.
    const ok = await respond(deps, { target: alertIdOf(5), action: 'revoke', by: { via: 'slack', id: 'U0MEMBER01', name: 'alice', groupIds: ['S0TEAM0001'] } });
    assert.equal(ok.status, 'done', ok.text);
    assert.equal(deletes(tokenIdOf(5)), 1);
  });

  test('when an alert with a hostile token name is marked expected, then the printed entry loads and suppresses exactly that source', async () => {
    const usage = await runCli(['ack', alertIdOf(7), '--expected'], env);
    assert.equal(usage.code, 2);
    const r = await runCli(['ack', alertIdOf(7), '--expected', '--reason', 'CI pipeline # rotates weekly'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^marked alert otw-\S+ expected: CI pipeline # rotates weekly; add the exceptions-file entry/);
    const yaml = r.stdout.slice(r.stdout.indexOf('\n  - ') + 1);
    const parsed = parseExceptions(`exceptions:\n${yaml}`, 'yaml');
    assert.ok(parsed.set, JSON.stringify(parsed.problems));
    assert.equal(parsed.set.exceptions.length, 1);
    const e = parsed.set.exceptions[0]!;
    assert.equal(e.actor, 'admin0@example.com');
    assert.equal(e.tokenName, 'ci "token"\n# x\nactor: "*" evil?\u202e*');
    assert.match(e.reason, /^CI pipeline # rotates weekly \(marked expected by \S+ on \d{4}-\d\d-\d\d, alert otw-/);
    const now = new Date();
    assert.ok(matchExceptions(parsed.set, tokenEvent(7, now.toISOString(), { target: [{ id: 'x', type: 'Token', displayName: 'ci "token"\n# x\nactor: "*" evil?\u202e ' }] }) as unknown as OktaLogEvent, now));
    assert.equal(matchExceptions(parsed.set, tokenEvent(7, now.toISOString()) as unknown as OktaLogEvent, now), null, 'another token name of the same actor still alerts');
    assert.equal(audit(`SELECT count(*) AS n FROM response_actions WHERE action = 'expected' AND result = 'recorded' AND reason = 'CI pipeline # rotates weekly'`), 1);
    const ack = await runCli(['ack', alertIdOf(7)], env);
    assert.equal(ack.code, 0, ack.stderr);
    assert.match(ack.stdout, /^acknowledged alert otw-/);
    assert.equal(audit(`SELECT count(*) AS n FROM followups f JOIN alerts a ON a.id = f.alert_id WHERE f.kind = 'response' AND a.alert_id = '${alertIdOf(7)}'`), 2);
  });
});

describe('a revoke claim left by a process that stopped', () => {
  test('when a pending revoke is fresh, then a second request waits for it and does not call Okta; when it is older than 5 minutes, then it is tried again once', async () => {
    const clock = new FakeClock(Date.parse('2026-12-01T10:00:00Z'));
    const h = await startHarness({ clock, env: { NOTIFIERS: 'console', RESPONSE_ACTIONS: 'revoke' } });
    try {
      h.fake.persist(tokenEvent(8, '2026-12-01T09:59:00Z'));
      h.fake.apiTokens.set(tokenIdOf(8), { id: tokenIdOf(8), name: 'token-8' });
      await h.tick();
      const log = new AuditLog(h.app.store);
      // What a process killed while waiting for Okta leaves behind.
      const crashed = await log.insert({ alertRowId: 1, target: alertIdOf(8), tokenId: tokenIdOf(8), action: 'revoke', by: { via: 'slack', id: 'U0ALICE001', name: 'alice' }, at: clock.now(), result: 'pending', reason: null, error: null, finished: false });
      const deletes = (): number => h.fake.requests.filter((r) => r.method === 'DELETE').length;
      clock.advance(60_000);
      const deps = { ...respondDepsFor(h.app), waitForPendingMs: 10_000 };
      const waiting = await respond(deps, { target: alertIdOf(8), action: 'revoke', by: { via: 'cli', id: '1000', name: 'ops' } });
      assert.equal(waiting.status, 'in-progress');
      assert.match(waiting.text, /by alice via slack has been waiting for Okta since 2026-12-01T10:00:00\.000Z/);
      assert.equal(deletes(), 0);
      clock.advance(5 * 60_000);
      const retried = await respond(deps, { target: alertIdOf(8), action: 'revoke', by: { via: 'cli', id: '1000', name: 'ops' } });
      assert.equal(retried.status, 'done', retried.text);
      assert.equal(deletes(), 1);
      assert.equal((await log.get(crashed))!.result, 'failed');
      assert.match((await log.get(crashed))!.error!, /stopped before recording Okta's answer/);
      const again = await respond(deps, { target: alertIdOf(8), action: 'revoke', by: { via: 'cli', id: '1000', name: 'ops' } });
      assert.equal(again.status, 'already');
      assert.equal(deletes(), 1);
    } finally {
      await h.close();
    }
  });
});

describe('responding within one org', () => {
  test('when a Store of another org is asked to act on an alert, then it refuses as unknown, calls no Okta, and records the refusal under its own org', async () => {
    const clock = new FakeClock(Date.parse('2026-12-01T10:00:00Z'));
    const h = await startHarness({ clock, env: { NOTIFIERS: 'console', RESPONSE_ACTIONS: 'revoke,acknowledge' } });
    try {
      h.fake.persist(tokenEvent(9, '2026-12-01T09:59:00Z'));
      h.fake.apiTokens.set(tokenIdOf(9), { id: tokenIdOf(9), name: 'token-9' });
      await h.tick();
      const deletes = (): number => h.fake.requests.filter((r) => r.method === 'DELETE').length;
      const other = { ...respondDepsFor(h.app), store: h.app.store.forOrg('other') };
      for (const target of [alertIdOf(9), tokenIdOf(9)]) {
        const o = await respond(other, { target, action: 'revoke', by: { via: 'cli', id: '1000', name: 'ops' } });
        assert.equal(o.status, 'refused', o.text);
        assert.match(o.text, /^no alert (with the id|about the token) /);
      }
      assert.equal(deletes(), 0);
      const mine = await respond(respondDepsFor(h.app), { target: alertIdOf(9), action: 'revoke', by: { via: 'cli', id: '1000', name: 'ops' } });
      assert.equal(mine.status, 'done', mine.text);
      assert.equal(deletes(), 1);
      const rows = await h.app.store.sql.all<{ org: string; result: string }>('SELECT org, result FROM response_actions ORDER BY id');
      assert.deepEqual(rows, [
        { org: 'other', result: 'refused' },
        { org: 'other', result: 'refused' },
        { org: 'default', result: 'revoked' },
      ]);
      // The other org's view has no revoke of this token standing; the default org's has.
      assert.equal(await new AuditLog(h.app.store.forOrg('other')).standingRevoke(tokenIdOf(9)), null);
      assert.equal((await new AuditLog(h.app.store).standingRevoke(tokenIdOf(9)))?.result, 'revoked');
    } finally {
      await h.close();
    }
  });
});
