import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tokenEvent } from './helpers/events';
import { FakeOkta } from './helpers/fake-okta';
import { countRows, runCli, tmpDir, until } from './helpers/harness';

const SECRET = 'ssws-secret-value-0123456789';

function alertUuids(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; uuid: string })
    .filter((l) => l.type === 'okta-token-watch.alert')
    .map((l) => l.uuid);
}

describe('command line', () => {
  test('when settings are bad, then it exits 78 with one line per variable, naming it and never its value', async () => {
    const r = await runCli(['poll'], {
      OKTA_ORG_URL: 'http://evil.example.com',
      OKTA_API_TOKEN: SECRET,
      LOOKBACK: 'soon',
      POLL_SCHEDULE: 'every five minutes',
      LOG_LEVEL: 'chatty',
    });
    assert.equal(r.code, 78);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 4, r.stderr);
    assert.match(r.stderr, /OKTA_ORG_URL must be an https:\/\/ URL/);
    assert.match(r.stderr, /LOOKBACK is not a duration/);
    assert.match(r.stderr, /POLL_SCHEDULE must have five fields/);
    assert.match(r.stderr, /LOG_LEVEL must be one of/);
    assert.doesNotMatch(r.stderr, /evil\.example|ssws-secret|soon|chatty|every five/);
  });

  test('when no credentials are set, then it exits 78 and says which variables to set', async () => {
    const r = await runCli(['poll'], { OKTA_ORG_URL: 'https://example.okta.com' });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /OKTA_API_TOKEN is not set: set it, or set OKTA_CLIENT_ID/);
  });

  test('when the command is unknown or an option is wrong, then it exits 2 with the usage', async () => {
    const a = await runCli(['frobnicate'], {});
    assert.equal(a.code, 2);
    assert.match(a.stderr, /unknown command "frobnicate"[\s\S]*Usage:/);
    const b = await runCli(['poll', '--bogus'], {});
    assert.equal(b.code, 2);
  });

  test('when settings come from --env-file, then they are used, and status never prints the token', async () => {
    const fake = new FakeOkta({ token: SECRET });
    const origin = await fake.start();
    const dir = tmpDir();
    const envFile = path.join(dir, 'otw.env');
    const dbPath = path.join(dir, 'data', 'otw.sqlite');
    fs.writeFileSync(envFile, `OKTA_ORG_URL=${origin}\nOKTA_API_TOKEN=${SECRET}\nDB_PATH=${dbPath}\n`);
    try {
      fake.persist(tokenEvent(1, new Date(Date.now() - 1000).toISOString()));
      const poll = await runCli(['poll', '--env-file', envFile], {});
      assert.equal(poll.code, 0, poll.stderr);
      assert.equal(alertUuids(poll.stdout).length, 1);
      assert.equal(fs.statSync(dbPath).mode & 0o777, 0o600);
      assert.doesNotMatch(poll.stderr, new RegExp(SECRET));
      const tickLine = poll.stderr.split('\n').find((l) => l.includes('tick finished'))!;
      const tick = JSON.parse(tickLine) as Record<string, unknown>;
      assert.equal(tick.pages, 2);
      assert.equal(tick.newAlerts, 1);
      assert.equal(typeof tick.rateLimitRemaining, 'number');

      const human = await runCli(['status', '--env-file', envFile], {});
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /events seen\s+1/);
      assert.match(human.stdout, /console\s+0 pending, 1 sent, 0 failed/);
      const json = await runCli(['status', '--json', '--env-file', envFile], {});
      const s = JSON.parse(json.stdout) as { eventsSeen: number; alertsRaised: number; lastTick: { result: string } };
      assert.equal(s.eventsSeen, 1);
      assert.equal(s.alertsRaised, 1);
      assert.equal(s.lastTick.result, 'ok');
      assert.doesNotMatch(human.stdout + json.stdout + human.stderr + json.stderr, new RegExp(SECRET));
    } finally {
      await fake.stop();
    }
  });

  test('when Okta fails, then poll exits 1 with the error in one log line and no secret', async () => {
    const fake = new FakeOkta({ token: SECRET });
    const origin = await fake.start();
    const dir = tmpDir();
    try {
      fake.failStatus(10, 500);
      const r = await runCli(['poll'], { OKTA_ORG_URL: origin, OKTA_API_TOKEN: SECRET, DB_PATH: path.join(dir, 'db.sqlite'), OKTA_MAX_RETRIES: '1' });
      assert.equal(r.code, 1);
      const failed = r.stderr.split('\n').filter((l) => l.includes('tick failed'));
      assert.equal(failed.length, 1);
      assert.match(failed[0]!, /HTTP 500/);
      assert.doesNotMatch(r.stderr, new RegExp(SECRET));
    } finally {
      await fake.stop();
    }
  });

  for (const when of [
    { name: 'between pages', hangOn: 3, committedEvents: 2000 },
    { name: 'after the last page', hangOn: 4, committedEvents: 2500 },
  ]) {
    test(`when the process is killed ${when.name}, then a restart loses nothing and alerts nothing twice`, async () => {
      const fake = new FakeOkta({ token: SECRET, rateLimit: 1000 });
      const origin = await fake.start();
      const dir = tmpDir();
      const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: SECRET, DB_PATH: path.join(dir, 'db.sqlite'), MAX_ALERTS_PER_RUN: '10000' };
      try {
        for (let i = 0; i < 2500; i++) fake.persist(tokenEvent(i, new Date(Date.now() - 60_000 + i).toISOString()));
        fake.failAt(when.hangOn, { kind: 'hang', ms: 60_000 });
        const first = await runCli(['poll'], env, {
          onSpawn: (child) => {
            void until(() => fake.logRequests().length >= when.hangOn).then(() => setTimeout(() => child.kill('SIGKILL'), 200));
          },
        });
        assert.equal(first.signal, 'SIGKILL');
        assert.equal(countRows(env.DB_PATH, 'SELECT COUNT(*) AS n FROM events'), when.committedEvents);
        assert.equal(countRows(env.DB_PATH, 'SELECT COUNT(*) AS n FROM alerts'), when.committedEvents);
        const second = await runCli(['poll'], env);
        assert.equal(second.code, 0, second.stderr);
        const all = [...alertUuids(first.stdout), ...alertUuids(second.stdout)];
        assert.equal(all.length, 2500, 'every event alerted');
        assert.equal(new Set(all).size, 2500, 'no event alerted twice');
        // It resumed from the cursor: the second run did not start over with `since`.
        const resumed = fake.logRequests()[when.hangOn]!;
        assert.ok(resumed.query.get('after'), 'resumed from the stored cursor');
        assert.match(second.stderr, /previous process stopped during a tick/);
      } finally {
        await fake.stop();
      }
    });
  }

  test('when the daemon gets SIGTERM mid-page, then it finishes and commits that page and exits 0', async () => {
    const fake = new FakeOkta({ token: SECRET, rateLimit: 1000 });
    const origin = await fake.start();
    const dir = tmpDir();
    const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: SECRET, DB_PATH: path.join(dir, 'db.sqlite'), MAX_ALERTS_PER_RUN: '10000', POLL_SCHEDULE: '0 0 1 1 *' };
    try {
      for (let i = 0; i < 2500; i++) fake.persist(tokenEvent(i, new Date(Date.now() - 60_000 + i).toISOString()));
      fake.failAt(2, { kind: 'hang', ms: 1500 });
      const r = await runCli(['run'], env, {
        onSpawn: (child) => {
          void until(() => fake.logRequests().length >= 2).then(() => child.kill('SIGTERM'));
        },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /stopping: finishing the page in hand/);
      assert.equal(fake.logRequests().length, 2, 'no page after the signal');
      assert.equal(countRows(env.DB_PATH, 'SELECT COUNT(*) AS n FROM events'), 2000, 'the page in hand was committed');
      assert.equal(countRows(env.DB_PATH, `SELECT COUNT(*) AS n FROM ticks WHERE result = 'interrupted'`), 1, 'the stopped catch-up is recorded as interrupted');
      assert.equal(countRows(env.DB_PATH, `SELECT COUNT(*) AS n FROM ticks WHERE result = 'ok'`), 0);
    } finally {
      await fake.stop();
    }
  });
});
