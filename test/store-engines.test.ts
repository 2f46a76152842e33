import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { buildAlert } from '../src/detect/build-alert';
import { createDetector } from '../src/detect/detector';
import { EMPTY_EXCEPTIONS } from '../src/detect/exceptions';
import { ingest } from '../src/ingest/ingest';
import { createLogger } from '../src/logger';
import { Store } from '../src/store/store';
import { forEachEngine, type EngineUnderTest } from './helpers/engines';
import { tokenEvent, uuidFor } from './helpers/events';

const NOW = new Date('2026-11-28T10:00:00.000Z');
const logger = createLogger({ level: 'error', format: 'json' }, { silent: true });

/** What each engine answered, step by step, for the comparison at the end. */
const transcripts: Partial<Record<EngineUnderTest['name'], Array<[string, unknown]>>> = {};

/** Runs a store through the life of a few events: every answer is recorded, errors included. */
async function storeTranscript(store: Store): Promise<Array<[string, unknown]>> {
  const out: Array<[string, unknown]> = [];
  const step = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      out.push([name, await fn()]);
    } catch (err) {
      out.push([name, `error: ${(err as Error).message}`]);
    }
  };
  await step('setCursor', () => store.setCursor('https://example.okta.com/api/v1/logs?after=1', NOW));
  await step('getCursor', () => store.getCursor());
  await step('setCaughtUpThrough', () => store.setCaughtUpThrough(NOW, NOW));
  await step('caughtUpThrough', () => store.caughtUpThrough());
  await step('setOktaClockOffset', () => store.setOktaClockOffset(-1234));
  await step('oktaClockOffset', () => store.oktaClockOffset());
  await step('recordReceipt', () => store.recordReceipt('push', NOW, 3));
  await step('recordReceipt again', () => store.recordReceipt('push', NOW, 4));
  await step('lastReceipt', () => store.lastReceipt('push'));
  await step('setRegisteredEventHook', () => store.setRegisteredEventHook({ hookId: 'who-FAKE', uri: 'https://127.0.0.1/hook' }, NOW));
  await step('registeredEventHook', () => store.registeredEventHook());
  const tick = await store.startTick(NOW);
  out.push(['startTick', tick]);
  await step('addToTick', () => store.addToTick(tick, { pages: 1, events: 2, rateLimitRemaining: null }));
  const ev = tokenEvent(1, NOW.toISOString()) as never;
  await step('insertEvent in a transaction', () => store.transaction((tx) => tx.insertEvent(ev, 'poll', NOW, null)));
  await step('insertEvent again', () => store.insertEvent(ev, 'poll', NOW, null));
  await step('unseenUuids', async () => [...(await store.unseenUuids([uuidFor(1), 'other']))]);
  await step('hasEvent', () => store.hasEvent(uuidFor(1)));
  const alert = buildAlert(ev, { source: 'poll', now: NOW, orgUrl: 'https://example.okta.com', history: null });
  await step('insertAlert', () => store.insertAlert(alert, tick, ['console', 'slack'], { deferToSummary: false, now: NOW }));
  await step('getAlert', async () => (await store.getAlert(alert.id))?.id);
  await step('listAlerts', async () => (await store.listAlerts(10)).map((a) => [a.alert.id, a.summarized]));
  await step('dueDeliveries', async () => (await store.dueDeliveries(new Date(NOW.getTime() + 1000), 10)).map((d) => [d.id, d.notifier, d.attempts]));
  await step('nextDueAt', () => store.nextDueAt());
  await step('claimDelivery', () => store.claimDelivery(1, NOW, 60_000));
  await step('claimDelivery again', () => store.claimDelivery(1, NOW, 60_000));
  await step('markSent', () => store.markSent(1, NOW, null));
  await step('markRetry', () => store.markRetry(2, NOW, NOW, 'boom'));
  await step('markFailed', () => store.markFailed(2, NOW, 'gone'));
  await step('failedDeliveries', () => store.failedDeliveries(10));
  await step('retryFailed', () => store.retryFailed(NOW, 'slack'));
  await step('excessAwaitingSummary', () => store.excessAwaitingSummary({ actors: 3, tokenNames: 3, alertIds: 3 }));
  await step('finishTick', () => store.finishTick(tick, NOW, 'ok', { requests: 2, error: null }));
  await step('closeAbandonedTicks', () => store.closeAbandonedTicks(NOW));
  await step('firstTickStartedAt', () => store.firstTickStartedAt());
  await step('recentEventHookAlert', () => store.recentEventHookAlert('who-FAKE', 'delivery failed', NOW));
  await step('pushAlertsSince', () => store.pushAlertsSince(NOW.toISOString()));
  await step('lastTick', () => store.lastTick());
  await step('lastSuccessfulTick', () => store.lastSuccessfulTick());
  await step('suppressedByReason', () => store.suppressedByReason());
  await step('eventsBySource', () => store.eventsBySource());
  await step('lastPushReceivedAt', () => store.lastPushReceivedAt());
  await step('status', () => store.status(13));
  await step('followUpsOf', () => store.followUpsOf(alert.id));
  await step('clearCursor', () => store.clearCursor());
  await step('clearRegisteredEventHook', () => store.clearRegisteredEventHook());
  return out;
}

forEachEngine((engine) =>
  describe(`the store on ${engine.name}`, () => {
    const open = async (): Promise<Store> => new Store(await engine.openDb());

    test('when the same uuid is inserted twice, then the second insert is ignored', async () => {
      const store = await open();
      const e = tokenEvent(1, NOW.toISOString()) as never;
      assert.equal(await store.insertEvent(e, 'poll', NOW, null), true);
      assert.equal(await store.insertEvent(e, 'poll', NOW, null), false);
      assert.deepEqual([...(await store.unseenUuids([uuidFor(1), 'other']))], ['other']);
    });

    test('when a transaction throws, then none of its writes land (the cursor included)', async () => {
      const store = await open();
      await store.setCursor('https://example.okta.com/api/v1/logs?after=1', NOW);
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.insertEvent(tokenEvent(1, NOW.toISOString()) as never, 'poll', NOW, null);
          await tx.setCursor('https://example.okta.com/api/v1/logs?after=2', NOW);
          throw new Error('crash');
        }),
      );
      assert.equal((await store.getCursor())!.url, 'https://example.okta.com/api/v1/logs?after=1');
      assert.equal(await store.hasEvent(uuidFor(1)), false);
    });

    test('when a batch holds badly typed, unreadable and NUL-laden entries between good ones, then ingest stores and alerts every one once', async () => {
      const store = await open();
      const clock = new FakeClock(NOW.getTime());
      const detector = createDetector(
        { alertOutcomes: null, exceptions: EMPTY_EXCEPTIONS, exceptionsFile: null, tokenLookup: { mode: 'off', timeoutMs: 1000, maxPerPage: 20 } },
        { orgUrl: 'https://acme.okta.com', okta: null, logger, clock },
      );
      const deps = { store, detector, notifiers: ['console'], poll: { maxAlertsPerRun: 100, followWindowMs: 0 }, clock, logger };
      const entries = [
        tokenEvent(1, NOW.toISOString()),
        tokenEvent(2, NOW.toISOString(), { actor: { id: ['00u', 1], alternateId: true }, target: [{ id: 12345, type: 'Token', displayName: 'nul\u0000name' }] }),
        { ...tokenEvent(3, NOW.toISOString()), uuid: { $oid: 'not a uuid' } },
        'not an event at all',
        tokenEvent(4, NOW.toISOString(), { displayMessage: 'a\u0000b' }),
      ];
      const first = await ingest(deps, { entries, tickId: null, checkpoint: { source: 'push', receivedAt: NOW }, alertsSoFar: 0 });
      assert.equal(first.newAlerts, 5);
      const again = await ingest(deps, { entries, tickId: null, checkpoint: { source: 'push', receivedAt: NOW }, alertsSoFar: 0 });
      assert.equal(again.newAlerts, 0, 'a uuid alerts once');
      assert.deepEqual(await store.sql.get('SELECT COUNT(*) AS n FROM events'), { n: 5 });
      assert.deepEqual(await store.sql.get('SELECT COUNT(*) AS n FROM deliveries'), { n: 5 });
      assert.equal((await store.lastReceipt('push'))!.batches, 2);
    });

    test('when two replicas claim the same due deliveries at once, then each delivery is claimed by exactly one', async () => {
      const [dbA, dbB] = await engine.openPair();
      const a = new Store(dbA);
      const b = new Store(dbB);
      for (let i = 0; i < 10; i++) {
        const ev = tokenEvent(i, NOW.toISOString()) as never;
        await a.insertEvent(ev, 'poll', NOW, null);
        await a.insertAlert(buildAlert(ev, { source: 'poll', now: NOW, orgUrl: 'https://example.okta.com', history: null }), null, ['console', 'webhook'], { deferToSummary: false, now: NOW });
      }
      const due = (await b.dueDeliveries(NOW, 100)).map((d) => d.id);
      assert.equal(due.length, 20);
      const race = (store: Store, holder: string) => Promise.all(due.map(async (id) => ((await store.claimDelivery(id, NOW, 60_000, holder)) ? id : null)));
      const [wonA, wonB] = await Promise.all([race(a, 'replica-a.example:101:aaaaaaaa'), race(b, 'replica-b.example:202:bbbbbbbb')]);
      const winners = [...wonA, ...wonB].filter((id) => id !== null).sort((x, y) => x! - y!);
      assert.deepEqual(winners, [...due].sort((x, y) => x - y), 'every row claimed, none twice');
      assert.deepEqual(await a.dueDeliveries(NOW, 100), [], 'claimed rows are not due');
    });

    test('when a store runs through the life of an event, then every answer is recorded for the comparison', async () => {
      transcripts[engine.name] = await storeTranscript(await open());
    });
  }),
);

describe('both engines', () => {
  test('when the same calls are made on SQLite and on PostgreSQL, then every answer is the same', () => {
    const lite = transcripts.sqlite!;
    const post = transcripts.postgres!;
    assert.ok(lite && post, 'both transcripts were made');
    assert.ok(lite.every(([, v]) => !String(v).startsWith('error:')), JSON.stringify(lite.filter(([, v]) => String(v).startsWith('error:'))));
    for (let i = 0; i < lite.length; i++) assert.deepEqual(post[i], lite[i], `step ${lite[i]![0]}`);
    assert.equal(post.length, lite.length);
  });
});
