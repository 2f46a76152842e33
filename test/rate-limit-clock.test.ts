import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { tokenEvent } from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';

const MINUTE = 60_000;

/** A harness whose fake Okta's clock (and so its Date and X-Rate-Limit-Reset headers) is `skewMs` off the program's. */
async function skewed(skewMs: number, env: Record<string, string> = {}): Promise<Harness> {
  const clock = new FakeClock();
  return startHarness({ clock, env, fake: { now: () => clock.now().getTime() + skewMs } });
}

function persist(h: Harness, n: number): void {
  for (let i = 0; i < n; i++) h.fake.persist(tokenEvent(i, new Date(h.clock.now().getTime() - 10_000).toISOString()));
}

/** Okta's clock as the fake sends it, in whole seconds (the Date header's resolution). */
const oktaSeconds = (h: Harness, skewMs: number, plusMs: number): string => String(Math.ceil((h.clock.now().getTime() + skewMs + plusMs) / 1000));

describe('rate-limit waits use Okta\'s clock', () => {
  for (const [label, skewMs] of [['5 minutes behind', -5 * MINUTE], ['5 minutes ahead', 5 * MINUTE]] as const) {
    test(`when Okta's clock is ${label} and the bucket is empty, then the tick waits for the reset by Okta's clock once and succeeds`, async () => {
      const h = await skewed(skewMs);
      try {
        persist(h, 1);
        h.fake.exhaustRateLimit(30_000);
        const r = await h.tick();
        assert.equal(r.ok, true, r.error);
        // With Okta behind, the first page of the process's first time-based query is asked again
        // from a since on Okta's clock (see clock-skew.test.ts): one more 200.
        assert.deepEqual(h.fake.logRequests().map((q) => q.status), skewMs < 0 ? [429, 200, 200, 200] : [429, 200, 200]);
        assert.equal(h.clock.sleeps.length, 1);
        // 30 s to the reset, 1 s of margin, up to 1 s of jitter.
        assert.ok(h.clock.sleeps[0]! >= 31_000 && h.clock.sleeps[0]! <= 32_000, `waited ${h.clock.sleeps[0]} ms`);
      } finally {
        await h.close();
      }
    });

    test(`when Okta's clock is ${label} and little of the limit remains, then the headroom pause lasts until the reset by Okta's clock`, async () => {
      const h = await skewed(skewMs, { MAX_ALERTS_PER_RUN: '5000' });
      try {
        persist(h, 1500);
        h.fake.remainingOverride = 3; // of 50: other integrations used the bucket
        const r = await h.tick();
        assert.equal(r.ok, true, r.error);
        assert.equal(r.newAlerts, 1500);
        assert.ok(h.clock.sleeps.length >= 1, 'paused');
        for (const ms of h.clock.sleeps) assert.ok(ms >= 1000 && ms <= 62_000, `paused ${ms} ms`);
      } finally {
        await h.close();
      }
    });
  }

  test('when a 429 names a reset that Okta\'s own Date says has passed, then the retry still backs off (never 0 ms)', async () => {
    const skewMs = -5 * MINUTE;
    const h = await skewed(skewMs);
    try {
      persist(h, 1);
      h.fake.failStatus(2, 429, { 'x-rate-limit-reset': oktaSeconds(h, skewMs, -10_000) });
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      // The last three: the first page, asked again on Okta's clock (Okta is behind), and the empty page.
      assert.deepEqual(h.fake.logRequests().map((q) => q.status), [429, 429, 200, 200, 200]);
      assert.equal(h.clock.sleeps.length, 2);
      for (const ms of h.clock.sleeps) assert.ok(ms >= 1000 && ms <= 30_000, `backed off ${ms} ms`);
    } finally {
      await h.close();
    }
  });

  test('when a 429 names a reset beyond Okta\'s one-minute window, then the wait is bounded to the window', async () => {
    const skewMs = 5 * MINUTE;
    const h = await skewed(skewMs);
    try {
      persist(h, 1);
      h.fake.failStatus(1, 429, { 'x-rate-limit-reset': oktaSeconds(h, skewMs, 10 * MINUTE) });
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(h.clock.sleeps.length, 1);
      assert.ok(h.clock.sleeps[0]! >= 61_000 && h.clock.sleeps[0]! <= 62_000, `waited ${h.clock.sleeps[0]} ms`);
    } finally {
      await h.close();
    }
  });
});
