import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tokenEvent } from './helpers/events';
import { FakeOkta } from './helpers/fake-okta';
import { countRows, runCli, tmpDir, until } from './helpers/harness';
import { Receiver } from './helpers/receiver';

const TOKEN = 'fake-ssws-token-for-poll-exit-codes';

describe('poll exit codes', () => {
  test('when poll gets SIGTERM during a catch-up, then it records the tick as interrupted and exits 1', async () => {
    const fake = new FakeOkta({ token: TOKEN, rateLimit: 1000 });
    const origin = await fake.start();
    const dir = tmpDir();
    const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: TOKEN, DB_PATH: path.join(dir, 'db.sqlite'), MAX_ALERTS_PER_RUN: '10000' };
    try {
      for (let i = 0; i < 2501; i++) fake.persist(tokenEvent(i, new Date(Date.now() - 60_000 + i).toISOString()));
      fake.failAt(2, { kind: 'hang', ms: 1500 });
      const r = await runCli(['poll'], env, {
        onSpawn: (child) => {
          void until(() => fake.logRequests().length >= 2).then(() => child.kill('SIGTERM'));
        },
      });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(countRows(env.DB_PATH, `SELECT COUNT(*) AS n FROM ticks WHERE result = 'interrupted'`), 1);
      assert.equal(countRows(env.DB_PATH, 'SELECT COUNT(*) AS n FROM events'), 2000, 'the page in hand was committed');
      assert.match(r.stderr, /tick interrupted/);
    } finally {
      await fake.stop();
    }
  });

  test('when the tick succeeds but a delivery of this run fails for good, then poll exits 3', async () => {
    const fake = new FakeOkta({ token: TOKEN });
    const origin = await fake.start();
    const hook = new Receiver();
    await hook.start();
    hook.defaultAnswer = { status: 400, body: 'bad request' };
    const dir = tmpDir();
    const env = {
      OKTA_ORG_URL: origin,
      OKTA_API_TOKEN: TOKEN,
      DB_PATH: path.join(dir, 'db.sqlite'),
      NOTIFIERS: 'webhook',
      WEBHOOK_URL: hook.url('/hook'),
      WEBHOOK_SECRET: 'w'.repeat(32),
    };
    try {
      fake.persist(tokenEvent(1, new Date(Date.now() - 60_000).toISOString()));
      const r = await runCli(['poll'], env);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(hook.requests.length, 1);
      assert.equal(countRows(env.DB_PATH, `SELECT COUNT(*) AS n FROM deliveries WHERE status = 'failed'`), 1);
      assert.equal(countRows(env.DB_PATH, `SELECT COUNT(*) AS n FROM ticks WHERE kind = 'poll' AND result = 'ok'`), 1);
      // The next run has nothing new to deliver: the failure was reported once, by the run that had it.
      const again = await runCli(['poll'], env);
      assert.equal(again.code, 0, again.stderr);
    } finally {
      await hook.stop();
      await fake.stop();
    }
  });
});
