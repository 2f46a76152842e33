import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import path from 'node:path';
import { describe, test } from 'node:test';
import { systemClock } from '../src/clock';
import { nullLogger } from '../src/logger';
import { Dispatcher } from '../src/notify/dispatcher';
import { buildSampleAlert } from '../src/notify/sample-alert';
import { WebhookNotifier } from '../src/notify/webhook';
import { openDatabase } from '../src/store/db';
import { tokenEvent, uuidFor } from './helpers/events';
import { runCli, tmpDir } from './helpers/harness';
import { FakeOkta } from './helpers/fake-okta';
import { Receiver } from './helpers/receiver';

const DELIVERY = { maxAttempts: 10, maxAgeMs: 48 * 3600_000, intervalMs: 15_000 };

describe('two processes on one database', () => {
  test('when two dispatchers work the same outbox at once, then every delivery is sent exactly once', async () => {
    const receiver = new Receiver();
    await receiver.start();
    receiver.defaultAnswer = { status: 200, body: 'ok', delayMs: 150 };
    const file = path.join(tmpDir(), 'db.sqlite');
    const a = storeOn(openDatabase(file));
    const b = storeOn(openDatabase(file));
    try {
      const now = new Date();
      for (let i = 0; i < 6; i++) {
        const uuid = uuidFor(i);
        await a.insertEvent(tokenEvent(i, now.toISOString()) as never, 'poll', now, null);
        await a.insertAlert(buildSampleAlert({ uuid, now }), null, ['webhook'], { deferToSummary: false, now });
      }
      const notifier = (): WebhookNotifier => new WebhookNotifier({ url: receiver.url('/hook'), secret: null }, { timeoutMs: 5000 });
      const d1 = new Dispatcher(a, [notifier()], DELIVERY, nullLogger(), systemClock);
      const d2 = new Dispatcher(b, [notifier()], DELIVERY, nullLogger(), systemClock);
      await Promise.all([d1.runOnce(), d2.runOnce()]);
      const ids = receiver.requests.map((r) => r.headers['idempotency-key']);
      assert.equal(ids.length, 6, `received ${ids.join(', ')}`);
      assert.equal(new Set(ids).size, 6);
      assert.equal((await a.status(0)).deliveries[0]!.sent, 6);
    } finally {
      await a.close();
      await b.close();
      await receiver.stop();
    }
  });

  test('when poll runs while a daemon tick is in progress, then the daemon\'s tick is not marked abandoned', async () => {
    const store = storeOn(openDatabase(path.join(tmpDir(), 'db.sqlite')));
    const now = new Date();
    const mine = await store.startTick(now);
    // A tick started by another live process (our parent stands in for the daemon) ...
    rawDb(store).prepare(`INSERT INTO ticks (kind, started_at, result, pid) VALUES ('poll', ?, 'running', ?)`).run(now.toISOString(), process.ppid);
    // ... and one by a process that no longer exists.
    rawDb(store).prepare(`INSERT INTO ticks (kind, started_at, result, pid) VALUES ('poll', ?, 'running', ?)`).run(now.toISOString(), 2 ** 22 + 12345);
    assert.equal(await store.closeAbandonedTicks(now), 2, 'our own stale row and the dead process\'s row');
    const left = rawDb(store).prepare(`SELECT pid FROM ticks WHERE result = 'running'`).all() as Array<{ pid: number }>;
    assert.deepEqual(left.map((r) => r.pid), [process.ppid]);
    assert.ok(mine > 0);
    await store.close();
  });
});

describe('hostile text on the terminal', () => {
  test('when an event carries escape sequences and bidi overrides, then status --alerts and the console notifier print them as visible text', async () => {
    const fake = new FakeOkta();
    const origin = await fake.start();
    const dir = tmpDir();
    const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: fake.token, DB_PATH: path.join(dir, 'db.sqlite') };
    try {
      fake.persist(
        tokenEvent(1, new Date(Date.now() - 1000).toISOString(), {
          outcome: { result: 'SUCCESS\u001b[8m', reason: null },
          target: [{ id: '00Tabcdefghijk', type: 'Token', displayName: 'benign\u202Egnp.exe\u009b31m' }],
          client: { ipAddress: '1.2.3.4\u001b]0;pwned\u0007\u001b[2J' },
        }),
      );
      const poll = await runCli(['poll'], env);
      assert.equal(poll.code, 0, poll.stderr);
      const r = await runCli(['status', '--alerts'], env);
      assert.equal(r.code, 0, r.stderr);
      for (const out of [poll.stdout, r.stdout]) {
        assert.doesNotMatch(out, /[\u001b\u0007\u009b\u202E]/, 'no raw control or bidi character');
      }
      assert.match(r.stdout, /benign<U\+202E>gnp\.exe<U\+009B>31m/);
      // --limit bounds the list; a bad value is a usage error.
      fake.persist(tokenEvent(2, new Date(Date.now() - 500).toISOString()));
      assert.equal((await runCli(['poll'], env)).code, 0);
      const alertLines = (out: string): number => out.split('\n').filter((l) => / by "/.test(l)).length;
      assert.equal(alertLines((await runCli(['status', '--alerts'], env)).stdout), 2);
      assert.equal(alertLines((await runCli(['status', '--alerts', '--limit', '1'], env)).stdout), 1);
      const bad = await runCli(['status', '--alerts', '--limit', '0'], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--limit/);
      const parsed = JSON.parse(poll.stdout.split('\n').find((l) => l.includes('okta-token-watch.alert'))!) as { tokenName: string };
      assert.equal(parsed.tokenName, 'benign\u202Egnp.exe\u009b31m', 'the JSON line still carries the exact text, escaped');
    } finally {
      await fake.stop();
    }
  });
});

