import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import { describe, test } from 'node:test';
import { tokenEvent, otherEvent, uuidFor } from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';

const iso = (h: Harness, offsetMs = 0): string => new Date(h.clock.now().getTime() + offsetMs).toISOString();

function alertLines(h: Harness): Array<Record<string, unknown>> {
  return h.stdout.json().filter((l) => l.type === 'okta-token-watch.alert');
}

describe('polling the System Log', () => {
  test('when events are waiting, then each alerts once and a second tick alerts nothing', async () => {
    const h = await startHarness();
    try {
      h.fake.persist(tokenEvent(1, iso(h, -60_000)), otherEvent(2, iso(h, -50_000)), tokenEvent(3, iso(h, -40_000)));
      const r1 = await h.tick();
      assert.equal(r1.ok, true, r1.error);
      assert.equal(r1.newAlerts, 2);
      assert.deepEqual(alertLines(h).map((l) => l.uuid), [uuidFor(1), uuidFor(3)]);
      h.clock.advance(300_000);
      const r2 = await h.tick();
      assert.equal(r2.ok, true);
      assert.equal(r2.newAlerts, 0);
      assert.equal(alertLines(h).length, 2);
    } finally {
      await h.close();
    }
  });

  test('when nothing happened, then an idle tick costs exactly one request', async () => {
    const h = await startHarness();
    try {
      h.fake.persist(tokenEvent(1, iso(h, -10_000)));
      await h.tick();
      const before = h.fake.logRequests().length;
      h.clock.advance(300_000);
      const r = await h.tick();
      assert.equal(r.ok, true);
      assert.equal(h.fake.logRequests().length - before, 1);
      assert.equal(r.requests, 1);
    } finally {
      await h.close();
    }
  });

  test('when the first tick runs, then it asks with since = now - LOOKBACK (less the unmeasured-skew margin), the filter, ASCENDING and limit 1000, and no until', async () => {
    const h = await startHarness({ env: { LOOKBACK: '10m' } });
    try {
      await h.tick();
      const q = h.fake.logRequests()[0]!.query;
      // Okta's clock is not measured before the first response: the since errs 5 s early.
      assert.equal(q.get('since'), iso(h, -600_000 - 5000));
      // The union of the rule set's event types, in set order.
      assert.equal(
        q.get('filter'),
        'eventType eq "system.api_token.create" or eventType eq "event_hook.deactivated" or eventType eq "event_hook.deleted" or eventType eq "event_hook.updated" or eventType eq "event_hook.delivery" or ' +
          'eventType eq "system.api_token.revoke" or eventType eq "system.api_token.update" or eventType eq "system.api_token.request_outside_allowed_range" or eventType eq "system.api_token.enable"',
      );
      assert.equal(q.get('sortOrder'), 'ASCENDING');
      assert.equal(q.get('limit'), '1000');
      assert.equal(q.get('until'), null);
      assert.equal(h.fake.logRequests()[0]!.headers.authorization, `SSWS ${h.fake.token}`);
    } finally {
      await h.close();
    }
  });

  test('when a tick resumes, then it follows the stored next link and picks up only new events', async () => {
    const h = await startHarness();
    try {
      h.fake.persist(tokenEvent(1, iso(h, -10_000)));
      await h.tick();
      h.clock.advance(300_000);
      h.fake.persist(tokenEvent(2, iso(h, -5_000)), tokenEvent(3, iso(h, -4_000)));
      const r = await h.tick();
      assert.equal(r.newAlerts, 2);
      const resumed = h.fake.logRequests().at(-2)!;
      assert.ok(resumed.query.get('after'), 'the resumed request carries the cursor');
      assert.equal(resumed.query.get('since'), null);
      assert.deepEqual(alertLines(h).map((l) => l.uuid), [uuidFor(1), uuidFor(2), uuidFor(3)]);
    } finally {
      await h.close();
    }
  });

  test('when 2500 events wait, then the tick pages through them, stops at the first empty page and stores each once', async () => {
    const h = await startHarness({ env: { MAX_ALERTS_PER_RUN: '5000' } });
    try {
      for (let i = 0; i < 2500; i++) h.fake.persist(tokenEvent(i, iso(h, -100_000 + i)));
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(r.pages, 4);
      assert.equal(h.fake.logRequests().length, 4);
      assert.equal(r.newAlerts, 2500);
      assert.equal(new Set(alertLines(h).map((l) => l.uuid)).size, 2500);
      const counts = rawDb(h.app.store).prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number };
      assert.equal(counts.n, 2500);
    } finally {
      await h.close();
    }
  });

  test('when an event is persisted late with an old published time, then it still alerts, once', async () => {
    const h = await startHarness();
    try {
      h.fake.persist(tokenEvent(1, iso(h, -10_000)));
      await h.tick();
      h.clock.advance(300_000);
      // Published two hours ago, persisted only now: a published-window poller would miss it.
      h.fake.persist(tokenEvent(2, iso(h, -2 * 3600_000)));
      const r = await h.tick();
      assert.equal(r.newAlerts, 1);
      h.clock.advance(300_000);
      assert.equal((await h.tick()).newAlerts, 0);
      assert.equal(alertLines(h).filter((l) => l.uuid === uuidFor(2)).length, 1);
    } finally {
      await h.close();
    }
  });

  test('when the program restarts without its cursor, then the overlapping look-back alerts nothing twice', async () => {
    const h = await startHarness({ env: { LOOKBACK: '1h' } });
    try {
      h.fake.persist(tokenEvent(1, iso(h, -60_000)), tokenEvent(2, iso(h, -30_000)));
      await h.tick();
      await h.app.store.clearCursor();
      await h.restart();
      h.clock.advance(60_000);
      h.fake.persist(tokenEvent(3, iso(h, -1000)));
      const r = await h.tick();
      assert.equal(r.ok, true);
      assert.equal(r.events, 3, 'the look-back re-read the old events');
      assert.equal(r.newAlerts, 1);
      assert.deepEqual(alertLines(h).map((l) => l.uuid), [uuidFor(1), uuidFor(2), uuidFor(3)]);
    } finally {
      await h.close();
    }
  });

  test('when Okta rejects the stored cursor, then the tick warns and restarts from the caught-up time minus the look-back', async () => {
    const h = await startHarness({ env: { LOOKBACK: '6m' } });
    try {
      h.fake.persist(tokenEvent(1, iso(h, -10_000)));
      await h.tick();
      const lastOk = (await h.app.store.lastSuccessfulTick())!;
      h.clock.advance(300_000);
      h.fake.expireCursors();
      h.fake.persist(tokenEvent(2, iso(h, -1000)));
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(r.cursorFallback, true);
      const reqs = h.fake.logRequests();
      const fallback = reqs.find((q, i) => i > 0 && q.query.get('since'))!;
      // The caught-up time is the start on Okta's clock, 1 s early for the Date header's resolution.
      assert.equal(fallback.query.get('since'), new Date(Date.parse(lastOk.startedAt) - 1000 - 360_000).toISOString());
      assert.equal(r.newAlerts, 1);
      assert.deepEqual(alertLines(h).map((l) => l.uuid), [uuidFor(1), uuidFor(2)]);
      assert.match(h.logs.text, /rejected the stored cursor/);
    } finally {
      await h.close();
    }
  });

  test('when Okta returns an entry without a uuid, then it is stored and alerted as unreadable, with an error log, and the rest is stored', async () => {
    const h = await startHarness();
    try {
      h.fake.persist({ ...tokenEvent(1, iso(h, -1000)), uuid: undefined }, tokenEvent(2, iso(h, -900)));
      const r = await h.tick();
      assert.equal(r.ok, true);
      assert.equal(r.newAlerts, 2);
      assert.deepEqual(alertLines(h).map((l) => typeof l.unreadable), ['undefined', 'string']);
      assert.match(h.logs.text, /without a usable uuid/);
    } finally {
      await h.close();
    }
  });

  test('when Okta fails for longer than LOOKBACK after the very first start, then events created meanwhile still alert', async () => {
    const h = await startHarness({ env: { LOOKBACK: '6m', OKTA_MAX_RETRIES: '0' } });
    try {
      h.fake.failStatus(9, 503);
      assert.equal((await h.tick()).ok, false);
      h.clock.advance(2 * 60_000);
      h.fake.persist(tokenEvent(1, iso(h)));
      for (let i = 0; i < 8; i++) {
        h.clock.advance(60_000);
        assert.equal((await h.tick()).ok, false);
      }
      h.clock.advance(60_000);
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(r.newAlerts, 1, 'the window did not slide past the event');
    } finally {
      await h.close();
    }
  });
});
