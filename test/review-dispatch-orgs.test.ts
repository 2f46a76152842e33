import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../src/clock';
import { createLogger } from '../src/logger';
import { Dispatcher } from '../src/notify/dispatcher';
import type { Notifier } from '../src/notify/notifier';
import { Store } from '../src/store/store';
import { ENGINES } from './helpers/engines';
import { LineSink, until } from './helpers/harness';
import { storeOrgAlerts } from './helpers/org-alerts';

const NOW = new Date('2026-11-28T10:00:00.000Z');
const logger = createLogger({ level: 'error', format: 'json' }, { silent: true });

test('when a delivery belongs to an org this process has no destinations for, then it is left pending, never sent through another org', async () => {
  const store = new Store(await ENGINES[0]!.openDb());
  const clock = new FakeClock(NOW.getTime());
  await storeOrgAlerts(store, 'c', [1], { at: NOW, notifiers: ['console'] });
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
  await storeOrgAlerts(store, 'c', [1, 2], { at: NOW, notifiers: ['console'] });
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
