import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runBackfill } from '../src/ingest/backfill';
import { runCheck } from '../src/check';
import { tokenEvent, uuidFor } from './helpers/events';
import { runCli, startHarness, tmpDir, type Harness } from './helpers/harness';
import { FakeOkta } from './helpers/fake-okta';

const ago = (h: Harness, ms: number): string => new Date(h.clock.now().getTime() - ms).toISOString();
const DAY = 86_400_000;

describe('backfill', () => {
  test('when a past range holds alerted and unseen events, then only the unseen ones alert, marked as backfill, and the live cursor stays put', async () => {
    const h = await startHarness({ env: { MAX_ALERTS_PER_RUN: '10000' } });
    try {
      // Three days of history, published in the past, persisted now.
      for (let i = 0; i < 1200; i++) h.fake.persist(tokenEvent(i, ago(h, 3 * DAY - i * 60_000)));
      h.fake.persist(tokenEvent(5000, ago(h, 1000)));
      await h.tick(); // the live poller sees everything persisted in the last 6 minutes: all of it
      const alertedLive = (await h.app.store.status(1)).alertsRaised;
      assert.equal(alertedLive, 1201);
      const cursor = (await h.app.store.getCursor())!.url;
      // New history appears only via backfill: events published 5 days ago, never seen.
      await h.app.store.sql.run('DELETE FROM deliveries');
      const unseen = [9001, 9002, 9003].map((n) => tokenEvent(n, ago(h, 5 * DAY + n)));
      h.fake.persist(...unseen);
      const progress: number[] = [];
      const r = await runBackfill(h.app, { since: new Date(h.clock.now().getTime() - 7 * DAY), until: h.clock.now(), dryRun: false, onProgress: (p) => progress.push(p.pages) });
      assert.equal(r.ok, true, r.error);
      assert.equal(r.newAlerts, 3);
      assert.equal(r.alreadySeen, 1201);
      assert.equal(r.pages, 2, 'two pages: 1000 + 204 events');
      assert.deepEqual(progress, [1, 2]);
      assert.equal((await h.app.store.getCursor())!.url, cursor, 'the live cursor did not move');
      const alert = (await h.app.store.getAlert(`otw-${uuidFor(9001)}`))!;
      assert.equal(alert.source, 'backfill');
      // The bounded query was used: since and until, no cursor.
      const q = h.fake.logRequests().at(-2)!.query;
      assert.ok(q.get('until'));
      const again = await runBackfill(h.app, { since: new Date(h.clock.now().getTime() - 7 * DAY), until: h.clock.now(), dryRun: false });
      assert.equal(again.newAlerts, 0, 'a second backfill alerts nothing');
    } finally {
      await h.close();
    }
  });

  test('when the range starts before the 90-day retention, then it is clamped with a warning', async () => {
    const h = await startHarness();
    try {
      const r = await runBackfill(h.app, { since: new Date(h.clock.now().getTime() - 120 * DAY), until: h.clock.now(), dryRun: true });
      assert.equal(r.ok, true, r.error);
      assert.equal(r.clamped, true);
      assert.equal(h.fake.logRequests()[0]!.query.get('since'), new Date(h.clock.now().getTime() - 90 * DAY).toISOString());
      assert.match(h.logs.text, /older than Okta keeps the System Log/);
    } finally {
      await h.close();
    }
  });

  test('when run with --dry-run from the command line, then it lists matches and stores nothing', async () => {
    const fake = new FakeOkta();
    const origin = await fake.start();
    const dir = tmpDir();
    const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: fake.token, DB_PATH: path.join(dir, 'db.sqlite') };
    try {
      fake.persist(tokenEvent(1, new Date(Date.now() - 2 * DAY).toISOString()), tokenEvent(2, new Date(Date.now() - DAY).toISOString()));
      const r = await runCli(['backfill', '--since', '3d', '--dry-run'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`${uuidFor(1)} "token-1" by "admin1@example.com" new \\(alert\\)`));
      assert.match(r.stdout, /2 event\(s\), 0 already stored, 2 new \(dry run: nothing stored\)/);
      const status = await runCli(['status', '--json'], env);
      assert.equal((JSON.parse(status.stdout) as { eventsSeen: number }).eventsSeen, 0);
      const bad = await runCli(['backfill', '--since', 'yesterday'], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--since must be a duration/);
    } finally {
      await fake.stop();
    }
  });
});

describe('check', () => {
  const cases: Array<{ name: string; setup: (h: Harness) => void; env?: Record<string, string>; expect: RegExp }> = [
    { name: 'the API token is invalid', setup: () => undefined, env: { OKTA_API_TOKEN: 'not-the-right-token-123' }, expect: /Okta rejected OKTA_API_TOKEN \(401 E0000011\)/ },
    { name: 'the admin lacks permission', setup: (h) => h.fake.failStatus(1, 403), expect: /may not read the System Log \(403 E0000006\).*Read-Only Administrator/ },
    { name: 'the URL is not an Okta org', setup: (h) => h.fake.fail(1, { kind: 'not-json' }), expect: /answered, but not like Okta/ },
    { name: 'Okta is rate limiting', setup: (h) => h.fake.exhaustRateLimit(30_000), expect: /rate limiting this org right now \(429 E0000047\)/ },
  ];
  for (const c of cases) {
    test(`when ${c.name}, then check fails with one sentence saying so`, async () => {
      const h = await startHarness({ env: c.env });
      try {
        c.setup(h);
        const lines = await runCheck(h.app);
        const okta = lines.find((l) => l.name === 'okta')!;
        assert.equal(okta.ok, false);
        assert.match(okta.detail, c.expect);
        assert.equal(lines.find((l) => l.name === 'database')!.ok, true);
      } finally {
        await h.close();
      }
    });
  }

  test('when the org cannot be reached, then check says so and exits 1; when all is well it exits 0', async () => {
    const fake = new FakeOkta();
    const origin = await fake.start();
    const dir = tmpDir();
    try {
      // Console on purpose: a defaulted console is a WARN line (test/config-cli.test.ts).
      const good = await runCli(['check'], { OKTA_ORG_URL: origin, OKTA_API_TOKEN: fake.token, DB_PATH: path.join(dir, 'db.sqlite'), NOTIFIERS: 'console' });
      assert.equal(good.code, 0, good.stdout + good.stderr);
      assert.match(good.stdout, /ok\s+okta\s+System Log readable/);
      assert.match(good.stdout, /all checks passed/);
      await fake.stop();
      const down = await runCli(['check'], { OKTA_ORG_URL: origin, OKTA_API_TOKEN: fake.token, DB_PATH: path.join(dir, 'db.sqlite') });
      assert.equal(down.code, 1);
      assert.match(down.stdout, /FAIL\s+okta\s+cannot reach OKTA_ORG_URL \(ECONNREFUSED\)/);
      assert.doesNotMatch(down.stdout + down.stderr, new RegExp(fake.token));
    } finally {
      await fake.stop().catch(() => undefined);
    }
  });
});

describe('status', () => {
  test('when events were suppressed and an exception has expired, then status counts them by reason and says the exception no longer matches', async () => {
    const fake = new FakeOkta();
    const origin = await fake.start();
    const dir = tmpDir();
    const exceptions = path.join(dir, 'exceptions.yaml');
    (await import('node:fs')).writeFileSync(
      exceptions,
      'exceptions:\n  - reason: Terraform rotates its token\n    actor: admin1@example.com\n  - reason: old migration\n    actor: admin2@example.com\n    expires: 2020-01-01\n',
    );
    const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: fake.token, DB_PATH: path.join(dir, 'db.sqlite'), EXCEPTIONS_FILE: exceptions };
    try {
      const now = Date.now();
      fake.persist(tokenEvent(1, new Date(now - 3000).toISOString()), tokenEvent(8, new Date(now - 2000).toISOString()), tokenEvent(2, new Date(now - 1000).toISOString()));
      const poll = await runCli(['poll'], env);
      assert.equal(poll.code, 0, poll.stderr);
      const r = await runCli(['status'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /suppressed\s+2/);
      assert.match(r.stdout, /\s2\s+Terraform rotates its token \(exception #1: actor\)/);
      assert.match(r.stdout, /exceptions\s+1 in force, 1 expired/);
      assert.match(r.stdout, /exception #2 \(line 4\): old migration; .*EXPIRED 2020-01-01.*no longer matches/);
      assert.match(r.stdout, /alerts raised\s+1/, 'the event matching only the expired exception alerted');
    } finally {
      await fake.stop();
    }
  });
});
