import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { tokenEvent, uuidFor } from './helpers/events';
import { FakeOkta } from './helpers/fake-okta';
import { runCli, tmpDir, waitFor } from './helpers/harness';
import { Receiver } from './helpers/receiver';

const TOKEN = 'FAKE-okta-api-token-for-e2e-tests';
const SECRET = 'FAKE-event-hook-secret-e2e-for-tests-0123456';

/** Alerts the webhook receiver got, as [uuid, rule id, severity], test messages left out. */
function alertsAt(rcv: Receiver): Array<[string, string, string]> {
  return rcv.requests
    .map((r) => r.json as { type?: string; test?: boolean; alert?: { event: { uuid: string }; rule: { id: string; severity: string } } })
    .filter((b) => b?.type === 'okta-token-watch.alert' && !b.test && b.alert)
    .map((b) => [b.alert!.event.uuid, b.alert!.rule.id, b.alert!.rule.severity]);
}

describe('event hook end to end, through the CLI', () => {
  test('when the hook is registered against the running daemon, then a new token alerts by push before any tick; switched off, the poll raises the self-watch alert and still alerts the next token, each once', async () => {
    const dir = tmpDir('otw-e2e-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    // Okta in the test trusts the receiver's self-signed certificate, for verification and deliveries.
    const fake = new FakeOkta({ token: TOKEN, hookCa: fs.readFileSync(path.join(dir, 'cert.pem')) });
    const origin = await fake.start();
    fake.pushToHooks();
    const slack = new Receiver();
    await slack.start();
    const dbPath = path.join(dir, 'otw.sqlite');
    const env: Record<string, string> = {
      OKTA_ORG_URL: origin,
      OKTA_API_TOKEN: TOKEN,
      DB_PATH: dbPath,
      // Far in the future: nothing below may wait for a scheduled tick.
      POLL_SCHEDULE: '0 0 1 1 *',
      NOTIFIERS: 'webhook',
      WEBHOOK_URL: slack.url('/webhook'),
      EVENT_HOOK_PORT: '0',
      EVENT_HOOK_SECRET: SECRET,
      EVENT_HOOK_TLS_CERT_FILE: path.join(dir, 'cert.pem'),
      EVENT_HOOK_TLS_KEY_FILE: path.join(dir, 'key.pem'),
    };
    let daemon = null as ChildProcess | null;
    let logs = '';
    const exited = runCli(['run'], env, {
      timeoutMs: 120_000,
      onSpawn: (c) => {
        daemon = c;
        c.stderr!.on('data', (b: Buffer) => (logs += b.toString()));
      },
    });
    try {
      const port = await waitFor(() => {
        const m = /"message":"event hook receiver listening".*?"port":(\d+)/.exec(logs);
        return m ? Number(m[1]) : null;
      }, 'the receiver to listen');
      // The commands below run beside the daemon, with the port it really has.
      const cliEnv = { ...env, EVENT_HOOK_PORT: String(port) };
      const url = `https://127.0.0.1:${port}/okta/event-hook`;

      // Register: Okta's challenge GET reaches the daemon's own receiver (nothing else listens there).
      const reg = await runCli(['event-hook', 'register', '--url', url], cliEnv);
      assert.equal(reg.code, 0, reg.stderr);
      const hook = [...fake.eventHooks.values()][0]!;
      assert.deepEqual([hook.status, hook.verificationStatus, hook.uri], ['ACTIVE', 'VERIFIED', url]);

      // A token is made: Okta pushes it, and the alert reaches "Slack" without any tick.
      fake.persist(tokenEvent(1, new Date().toISOString()));
      await slack.waitFor(1, 5000);
      assert.deepEqual(alertsAt(slack), [[uuidFor(1), 'okta-api-token-create', 'medium']]);
      await fake.hooksIdle();
      assert.deepEqual(fake.hookDeliveries.map((d) => d.delivered), [true]);
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        assert.equal((db.prepare('SELECT source FROM events WHERE uuid = ?').get(uuidFor(1)) as { source: string }).source, 'push');
        assert.equal((db.prepare('SELECT COUNT(*) AS n FROM ticks').get() as { n: number }).n, 1, 'only the tick at start ran');
      } finally {
        db.close();
      }

      const status = await runCli(['event-hook', 'status'], cliEnv);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /status +ACTIVE/);
      assert.match(status.stdout, /verification +VERIFIED/);

      const check = await runCli(['check'], cliEnv);
      assert.match(check.stdout, new RegExp(`push receiver.*answers Okta's verification at ${url.replace(/[.]/g, '\\.')}`));
      assert.match(check.stdout, new RegExp(`event hook.*${hook.id} is ACTIVE and VERIFIED`));

      // An attacker holding a token switches the hook off, then makes another token: no push.
      const off = await fetch(`${origin}/api/v1/eventHooks/${hook.id}/lifecycle/deactivate`, { method: 'POST', headers: { authorization: `SSWS ${TOKEN}`, accept: 'application/json' } });
      assert.equal(off.status, 200);
      assert.equal(fake.eventHooks.get(hook.id)!.status, 'INACTIVE');
      fake.persist(tokenEvent(2, new Date().toISOString()));
      await fake.hooksIdle();
      assert.equal(fake.hookDeliveries.length, 1, 'an inactive hook gets no delivery');

      // The poller is the backstop: one poll sees the switch-off and the new token.
      const poll = await runCli(['poll'], cliEnv);
      assert.equal(poll.code, 0, poll.stderr);
      await slack.waitFor(3, 10_000);
      // Let any stray second delivery (daemon and poll both deliver) arrive before counting.
      await new Promise((r) => setTimeout(r, 1000));
      const got = alertsAt(slack);
      const selfWatch = got.filter(([, rule]) => rule === 'okta-event-hook-tampered');
      assert.equal(selfWatch.length, 1, JSON.stringify(got));
      assert.equal(selfWatch[0]![2], 'high');
      assert.equal(got.filter(([u]) => u === uuidFor(2)).length, 1);
      const perUuid = new Map<string, number>();
      for (const [u] of got) perUuid.set(u, (perUuid.get(u) ?? 0) + 1);
      assert.deepEqual([...perUuid.values()], [1, 1, 1], JSON.stringify(got));
      assert.equal(got.length, 3);

      daemon!.kill('SIGTERM');
      assert.equal((await exited).code, 0);
    } finally {
      daemon?.kill('SIGKILL');
      await exited.catch(() => undefined);
      await slack.stop();
      await fake.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
