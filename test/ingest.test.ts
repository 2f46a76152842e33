import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import { describe, test } from 'node:test';
import { ingest } from '../src/ingest/ingest';
import { tokenEvent, uuidFor } from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';
import { Receiver } from './helpers/receiver';

/** What Okta's event hook would hand the receiver: the same LogEvent the System Log serves. */
async function push(h: Harness, events: Array<Record<string, unknown>>): Promise<void> {
  const app = h.app;
  await ingest(
    { store: app.store, detector: app.detector, notifiers: app.notifiers.map((n) => n.name), poll: app.config.poll, clock: h.clock, logger: app.logger },
    { entries: events, tickId: null, checkpoint: { source: 'push', receivedAt: h.clock.now() }, alertsSoFar: 0 },
  );
  await app.dispatcher.runOnce();
}

const count = (h: Harness, sql: string, ...args: unknown[]): number => (rawDb(h.app.store).prepare(sql).get(...args) as { n: number }).n;

async function withHarness(fn: (h: Harness, hook: Receiver) => Promise<void>): Promise<void> {
  const hook = new Receiver();
  await hook.start();
  const h = await startHarness({ env: { NOTIFIERS: 'console,webhook', WEBHOOK_URL: hook.url('/hook'), WEBHOOK_SECRET: 'w'.repeat(32) } });
  try {
    await fn(h, hook);
  } finally {
    await h.close();
    await hook.stop();
  }
}

describe('one ingest path for every source', () => {
  test('when an event arrives by push and then the poller reads it, then it alerts once and each notifier gets one delivery', async () => {
    await withHarness(async (h, hook) => {
      const event = tokenEvent(1, new Date(h.clock.now().getTime() - 5_000).toISOString());
      h.fake.persist(event);
      await push(h, [event]);
      assert.equal(hook.requests.length, 1, 'the push delivered at once');
      const tick = await h.tick();
      assert.equal(tick.ok, true, tick.error);
      assert.equal(tick.events, 1, 'the poller did read the event');
      assert.equal(tick.newAlerts, 0);
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM alerts WHERE event_uuid = ?', uuidFor(1)), 1);
      assert.deepEqual(rawDb(h.app.store).prepare('SELECT notifier, COUNT(*) AS n FROM deliveries GROUP BY notifier ORDER BY notifier').all(), [
        { notifier: 'console', n: 1 },
        { notifier: 'webhook', n: 1 },
      ]);
      assert.equal(hook.requests.length, 1, 'no second webhook call');
      assert.equal((rawDb(h.app.store).prepare('SELECT source FROM events WHERE uuid = ?').get(uuidFor(1)) as { source: string }).source, 'push');
      assert.equal((await h.app.store.getAlert(`otw-${uuidFor(1)}`))!.source, 'push');
      const receipt = (await h.app.store.lastReceipt('push'))!;
      assert.deepEqual([receipt.batches, receipt.events], [1, 1]);
    });
  });

  test('when the poller reads an event and then a push (and its retry) brings it again, then it alerts once and each notifier gets one delivery', async () => {
    await withHarness(async (h, hook) => {
      const event = tokenEvent(2, new Date(h.clock.now().getTime() - 5_000).toISOString());
      h.fake.persist(event);
      const tick = await h.tick();
      assert.equal(tick.newAlerts, 1);
      const cursor = await h.app.store.getCursor();
      await push(h, [event]);
      await push(h, [event, event]);
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM alerts WHERE event_uuid = ?', uuidFor(2)), 1);
      assert.deepEqual(rawDb(h.app.store).prepare('SELECT notifier, COUNT(*) AS n FROM deliveries GROUP BY notifier ORDER BY notifier').all(), [
        { notifier: 'console', n: 1 },
        { notifier: 'webhook', n: 1 },
      ]);
      assert.equal(hook.requests.length, 1);
      assert.deepEqual(await h.app.store.getCursor(), cursor, 'a push never moves the poller\'s cursor');
      assert.equal((await h.app.store.lastReceipt('push'))!.batches, 2, 'each delivery records its receipt, even when nothing in it is new');
    });
  });
});
