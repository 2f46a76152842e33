import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import { describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { tokenEvent } from './helpers/events';
import path from 'node:path';
import { FakeOkta } from './helpers/fake-okta';
import { runCli, startHarness, tmpDir, type Harness } from './helpers/harness';

const MINUTE = 60_000;

function count(h: Harness): number {
  return (rawDb(h.app.store).prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
}

/** A fake Okta whose clock (Date header, persistence and published times) is `skewMs` off the local one. */
async function skewed(skewMs: number): Promise<{ h: Harness; oktaNow: () => string }> {
  const clock = new FakeClock();
  const oktaNow = (): number => clock.now().getTime() + skewMs;
  const h = await startHarness({ clock, fake: { now: oktaNow }, env: { LOOKBACK: '6m' } });
  return { h, oktaNow: () => new Date(oktaNow()).toISOString() };
}

describe('Okta\'s clock, not the local one', () => {
  for (const skewMs of [-10 * MINUTE, -30_000, 10 * MINUTE]) {
    test(`when Okta's clock is ${skewMs / 1000} s off the local one and a cursor is rejected, then every event is stored and the ticks are ok`, async () => {
      const { h, oktaNow } = await skewed(skewMs);
      try {
        h.fake.persist(tokenEvent(1, oktaNow()));
        h.clock.advance(MINUTE);
        const first = await h.tick();
        assert.equal(first.ok, true, first.error);
        assert.equal(count(h), 1, 'the first tick ever reads the event persisted before it');
        h.clock.advance(MINUTE);
        h.fake.persist(tokenEvent(2, oktaNow()));
        h.fake.expireCursors();
        h.clock.advance(MINUTE);
        const second = await h.tick();
        assert.equal(second.ok, true, second.error);
        assert.equal(second.cursorFallback, true);
        assert.equal(count(h), 2, 'the fallback reads the event persisted after the last caught-up tick');
        // The caught-up time is on Okta's clock: never later than Okta's time at the tick's start.
        const caught = Date.parse((await h.app.store.caughtUpThrough())!);
        assert.ok(caught <= Date.parse(oktaNow()), `caught up through ${new Date(caught).toISOString()} is on Okta's clock`);
      } finally {
        await h.close();
      }
    });
  }

  test('when a restarted process has no cursor and Okta\'s clock is 10 minutes behind, then the first query is redone on Okta\'s clock before anything is stored', async () => {
    const { h, oktaNow } = await skewed(-10 * MINUTE);
    try {
      // The first tick fails before any page (so no cursor, no caught-up time), then the process restarts.
      h.fake.failStatus(1, 503);
      await h.restart({ OKTA_MAX_RETRIES: '0' });
      assert.equal((await h.tick()).ok, false);
      h.fake.persist(tokenEvent(1, oktaNow()));
      h.clock.advance(MINUTE);
      await h.restart();
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(count(h), 1);
      const sinces = h.fake.logRequests().map((q) => q.query.get('since')).filter((s): s is string => s !== null);
      assert.ok(sinces.length >= 2, 'the time-based query was asked again');
      assert.match(h.logs.text, /Okta's clock is behind the local one/);
    } finally {
      await h.close();
    }
  });

  test('when Okta\'s clock is more than half of LOOKBACK away, then a warning is logged once', async () => {
    const { h } = await skewed(-10 * MINUTE);
    try {
      await h.tick();
      h.clock.advance(MINUTE);
      await h.tick();
      const warnings = h.logs.json().filter((l) => /differs from Okta's/.test(String(l.msg ?? l.message)));
      assert.equal(warnings.length, 1);
    } finally {
      await h.close();
    }
  });

  test('when Okta\'s clock is 10 minutes behind, then check prints a WARN line about the clock; in step, none', async () => {
    for (const skewMs of [-10 * MINUTE, 0]) {
      const fake = new FakeOkta({ token: 'ssws-FAKE-token-for-clock-tests-0123', now: () => Date.now() + skewMs });
      const origin = await fake.start();
      try {
        const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: fake.token, DB_PATH: path.join(tmpDir(), 'db.sqlite'), NOTIFIERS: 'console' };
        const r = await runCli(['check'], env);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        if (skewMs === 0) assert.doesNotMatch(r.stdout, /clock/);
        else assert.match(r.stdout, /^WARN +clock +the local clock is \d+ s ahead of Okta's/m);
      } finally {
        await fake.stop();
      }
    }
  });

  test('when the last caught-up tick found Okta\'s clock 10 minutes behind, then status prints a WARNING clock line and status --json the offset', async () => {
    const { h } = await skewed(-10 * MINUTE);
    let env: Record<string, string | undefined>;
    try {
      assert.equal((await h.tick()).ok, true);
      env = { ...h.env };
    } finally {
      await h.close();
    }
    const r = await runCli(['status'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^clock +WARNING: the local clock is 600 s ahead of Okta's, more than half of LOOKBACK/m);
    const json = await runCli(['status', '--json'], env);
    const offset = (JSON.parse(json.stdout) as { oktaClockOffsetMs: number }).oktaClockOffsetMs;
    assert.ok(offset <= -600_000 && offset > -601_000, `offset ${offset}`);
  });
});
