import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../src/clock';
import { createDetector } from '../src/detect/detector';
import { EMPTY_EXCEPTIONS } from '../src/detect/exceptions';
import { ingest } from '../src/ingest/ingest';
import { createLogger } from '../src/logger';
import { Dispatcher } from '../src/notify/dispatcher';
import type { Notifier } from '../src/notify/notifier';
import { Store } from '../src/store/store';
import { ENGINES } from './helpers/engines';
import { tokenEvent } from './helpers/events';
import { LineSink, until } from './helpers/harness';

const NOW = new Date('2026-11-28T10:00:00.000Z');
const logger = createLogger({ level: 'error', format: 'json' }, { silent: true });

test('when a delivery belongs to an org this process has no destinations for, then it is left pending, never sent through another org', async () => {
  const store = new Store(await ENGINES[0]!.openDb());
  const clock = new FakeClock(NOW.getTime());
  const detector = createDetector(
    { alertOutcomes: null, exceptions: EMPTY_EXCEPTIONS, exceptionsFile: null, tokenLookup: { mode: 'off', timeoutMs: 1000, maxPerPage: 20 } },
    { orgUrl: 'https://c.okta.com', okta: null, logger, clock, org: { name: 'c', url: 'https://c.okta.com' } },
  );
  await ingest({ store: store.forOrg('c'), detector, notifiers: ['console'], poll: { maxAlertsPerRun: 10, followWindowMs: 0 }, clock, logger }, { entries: [tokenEvent(1, NOW.toISOString())], tickId: null, checkpoint: { source: 'push', receivedAt: NOW }, alertsSoFar: 0 });
  const sentToA: unknown[] = [];
  const a: Notifier = { name: 'console', async send(n) { sentToA.push(n); } } as Notifier;
  const d = new Dispatcher(store, new Map([['a', [a]], ['b', [{ name: 'console', async send() {} } as Notifier]]]), { maxAttempts: 10, maxAgeMs: 48 * 3600_000, intervalMs: 15_000 }, logger, clock, { random: () => 0 });
  await d.runOnce();
  const row = await store.sql.get<{ status: string }>('SELECT status FROM deliveries');
  assert.equal(row?.status, 'pending', 'left for a replica that knows org c');
  assert.equal(sentToA.length, 0, "org c's alert must not go to org a's destination");
});

test('when the outbox holds deliveries of an org this process does not watch, then its start says so, naming the org and how many wait', async () => {
  const store = new Store(await ENGINES[0]!.openDb());
  const clock = new FakeClock(NOW.getTime());
  const detector = createDetector(
    { alertOutcomes: null, exceptions: EMPTY_EXCEPTIONS, exceptionsFile: null, tokenLookup: { mode: 'off', timeoutMs: 1000, maxPerPage: 20 } },
    { orgUrl: 'https://c.okta.com', okta: null, logger, clock, org: { name: 'c', url: 'https://c.okta.com' } },
  );
  await ingest({ store: store.forOrg('c'), detector, notifiers: ['console'], poll: { maxAlertsPerRun: 10, followWindowMs: 0 }, clock, logger }, { entries: [tokenEvent(1, NOW.toISOString()), tokenEvent(2, NOW.toISOString())], tickId: null, checkpoint: { source: 'push', receivedAt: NOW }, alertsSoFar: 0 });
  const sink = new LineSink();
  const d = new Dispatcher(store, new Map([['a', [{ name: 'console', async send() {} } as Notifier]]]), { maxAttempts: 10, maxAgeMs: 48 * 3600_000, intervalMs: 60_000 }, createLogger({ level: 'info', format: 'json' }, { stream: sink }), clock, { random: () => 0 });
  d.start();
  try {
    await until(() => sink.json().some((l) => l.org === 'c'), 5_000);
    const line = sink.json().find((l) => l.org === 'c')!;
    assert.equal(line.level, 'warn');
    assert.equal(line.pending, 2);
    assert.match(String(line.message), /does not watch/);
  } finally {
    await d.stop();
  }
});
