import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { HookPusher } from '../src/simulator/hook-pusher';
import { tokenEvent, uuidFor } from './helpers/events';
import { FakeOkta } from './helpers/fake-okta';
import { runCli, tmpDir, waitFor } from './helpers/harness';
import { Receiver } from './helpers/receiver';

const TOKEN = 'FAKE-okta-api-token-for-tests';
const SECRET = 'FAKE-event-hook-secret-for-tests-0123456789';

/** Starts `run` as a child; resolves with the child, its stderr so far, and the receiver's port. */
async function startDaemon(env: Record<string, string>): Promise<{ child: ChildProcess; port: number; exited: ReturnType<typeof runCli>; logs: () => string }> {
  let child: ChildProcess | null = null;
  let logs = '';
  const exited = runCli(['run'], env, {
    onSpawn: (c) => {
      child = c;
      c.stderr!.on('data', (b: Buffer) => (logs += b.toString()));
    },
  });
  const port = await waitFor(() => {
    const m = /"message":"event hook receiver listening".*?"port":(\d+)/.exec(logs);
    return m ? Number(m[1]) : null;
  }, 'the receiver to listen');
  return { child: child!, port, exited, logs: () => logs };
}

describe('event hook: crash between commit and answer', () => {
  test('when the daemon is SIGKILLed after committing a push but before answering, then Okta\'s retry to the restarted daemon raises no second alert', async () => {
    const fake = new FakeOkta({ token: TOKEN });
    const origin = await fake.start();
    const rcv = new Receiver();
    await rcv.start();
    const dir = tmpDir();
    const dbPath = path.join(dir, 'otw.sqlite');
    const env = {
      OKTA_ORG_URL: origin,
      OKTA_API_TOKEN: TOKEN,
      DB_PATH: dbPath,
      POLL_SCHEDULE: '0 0 1 1 *',
      NOTIFIERS: 'webhook',
      WEBHOOK_URL: rcv.url('/webhook'),
      EVENT_HOOK_PORT: '0',
      EVENT_HOOK_SECRET: SECRET,
    };
    const event = tokenEvent(41, new Date().toISOString());
    try {
      // First daemon: holds its answer after the commit, so the kill lands in between.
      const first = await startDaemon({ ...env, OTW_TEST_HOLD_PUSH_ANSWER: String(process.pid) });
      const pusher = new HookPusher({ url: `http://127.0.0.1:${first.port}/okta/event-hook`, secret: SECRET });
      const attempt = pusher.deliver([event]);
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        // Killed from outside as soon as the commit is visible in the database.
        await waitFor(() => db.prepare('SELECT 1 FROM events WHERE uuid = ?').get(uuidFor(41)) !== undefined, 'the push to be committed');
      } finally {
        db.close();
      }
      first.child.kill('SIGKILL');
      const lost = await attempt;
      assert.equal(lost.delivered, false, 'Okta never got an answer');
      assert.equal((await first.exited).signal, 'SIGKILL');
      assert.equal(rcv.requests.length, 0, 'the alert was not sent before the crash');

      // Okta's retry reaches the restarted daemon.
      const second = await startDaemon(env);
      try {
        const retry = new HookPusher({ url: `http://127.0.0.1:${second.port}/okta/event-hook`, secret: SECRET });
        const out = await retry.deliver([event]);
        assert.deepEqual(out.attempts.map((a) => a.status), [200]);
        await rcv.waitFor(1, 30_000);
        // Give a second alert every chance to show up before counting.
        await waitFor(() => /"newEvents":0/.test(second.logs()), 'the retry to be seen as a duplicate');
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(rcv.requests.length, 1);
        assert.match(rcv.requests[0]!.body, new RegExp(uuidFor(41)));
      } finally {
        second.child.kill('SIGTERM');
        const r = await second.exited;
        assert.equal(r.code, 0, r.stderr.slice(-2000));
      }
    } finally {
      await rcv.stop();
      await fake.stop();
    }
  });
});
