import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { FakeClock } from '../src/clock';
import type { DeliveryConfig } from '../src/config';
import { createLogger, type Logger } from '../src/logger';
import { Dispatcher } from '../src/notify/dispatcher';
import { buildSampleAlert } from '../src/notify/sample-alert';
import { WebhookNotifier } from '../src/notify/webhook';
import type { OktaLogEvent } from '../src/okta/log-event';
import { openDatabase } from '../src/store/db';
import { rawDb, storeOn } from './helpers/raw-db';
import { tokenEvent, uuidFor } from './helpers/events';
import { LineSink, ROOT, tmpDir } from './helpers/harness';

const DELIVERY: DeliveryConfig = { maxAttempts: 10, maxAgeMs: 48 * 3600_000, intervalMs: 15_000 };

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function logSink(): { logger: Logger; logs: LineSink } {
  const logs = new LineSink();
  return { logger: createLogger({ level: 'debug', format: 'json' }, { stream: logs }), logs };
}

/** A fake clock that runs a hook on each sleep (the dispatcher sleeps between tries to record). */
class HookClock extends FakeClock {
  onSleep: ((ms: number) => Promise<void>) | null = null;
  override async sleep(ms: number): Promise<void> {
    await super.sleep(ms);
    if (this.onSleep) await this.onSleep(ms);
  }
}

/** A loopback webhook receiver that counts deliveries per Idempotency-Key and runs a hook on each. */
async function countingReceiver(onRequest: (n: number) => void): Promise<{ url: string; counts: Map<string, number>; total: () => number }> {
  const counts = new Map<string, number>();
  let total = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const key = String(req.headers['idempotency-key']);
      counts.set(key, (counts.get(key) ?? 0) + 1);
      total++;
      onRequest(total);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, counts, total: () => total };
}

/** Another process on the same database delivering the outbox once (as a `poll` next to the daemon would). */
function otherProcessDelivers(file: string, url: string): Promise<{ sent: number; retried: number; failed: number }> {
  const tsx = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const script = `
    const { openDatabase } = require(${JSON.stringify(path.join(ROOT, 'src/store/db.ts'))});
    const { Store } = require(${JSON.stringify(path.join(ROOT, 'src/store/store.ts'))});
    const { SqliteDb } = require(${JSON.stringify(path.join(ROOT, 'src/store/sqlite.ts'))});
    const { Dispatcher } = require(${JSON.stringify(path.join(ROOT, 'src/notify/dispatcher.ts'))});
    const { WebhookNotifier } = require(${JSON.stringify(path.join(ROOT, 'src/notify/webhook.ts'))});
    const { systemClock } = require(${JSON.stringify(path.join(ROOT, 'src/clock.ts'))});
    const { nullLogger } = require(${JSON.stringify(path.join(ROOT, 'src/logger.ts'))});
    const store = new Store(new SqliteDb(openDatabase(${JSON.stringify(file)}), ${JSON.stringify(file)}));
    const d = new Dispatcher(store, [new WebhookNotifier({ url: ${JSON.stringify(url)}, secret: null }, { timeoutMs: 5000 })],
      { maxAttempts: 10, maxAgeMs: 48 * 3600000, intervalMs: 15000 }, nullLogger(), systemClock);
    d.runOnce().then(async (r) => { process.stdout.write(JSON.stringify(r)); await store.close(); });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as { sent: number; retried: number; failed: number }) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

describe('recording a send while the database is write-locked', () => {
  test('when markSent fails because another connection holds the write lock, then the record is retried, neither this process nor another one sends the row again, and the receiver gets it exactly once', async () => {
    // The row's claim ends well before the real time the other process sees (so, without the
    // claimer check, it would take the row), yet less than CLAIM_HOLD_MAX_MS ago.
    const clock = new HookClock(Date.now() - 10 * 60_000);
    const file = path.join(tmpDir(), 'otw.sqlite');
    const store = storeOn(openDatabase(file));
    cleanups.push(() => store.close());
    // Short busy waits keep the test quick; the lock itself is real.
    rawDb(store).pragma('busy_timeout = 50');
    const locker = new Database(file);
    cleanups.push(() => {
      if (locker.inTransaction) locker.exec('ROLLBACK');
      locker.close();
    });
    // The receiver takes the write lock when the message arrives: after the claim, before the record.
    const receiver = await countingReceiver((n) => {
      if (n === 1) locker.exec('BEGIN IMMEDIATE');
    });
    const now = clock.now();
    await store.insertEvent(tokenEvent(1, new Date(now.getTime() - 60_000).toISOString()) as unknown as OktaLogEvent, 'poll', now, null);
    await store.insertAlert(buildSampleAlert({ now, uuid: uuidFor(1), tokenName: 'token-1', source: 'poll' }), null, ['webhook'], { deferToSummary: false, now });

    const { logger, logs } = logSink();
    const notifier = (): WebhookNotifier => new WebhookNotifier({ url: receiver.url, secret: null }, { timeoutMs: 5000 });
    const daemon = new Dispatcher(store, [notifier()], DELIVERY, logger, clock);
    // A second dispatcher of the same process on its own connection (the same pid as the daemon).
    const second = storeOn(openDatabase(file));
    cleanups.push(() => second.close());
    const sibling = new Dispatcher(second, [notifier()], DELIVERY, logger, clock);

    let othersTried = false;
    const othersTry = async (): Promise<void> => {
      othersTried = true;
      // The lock goes away and the claim's lease is long over: everyone else now tries the row.
      locker.exec('COMMIT');
      clock.advance(10 * 60_000);
      assert.deepEqual(await sibling.runOnce(), { sent: 0, retried: 0, failed: 0 }, 'the same process does not attempt the unrecorded row');
      assert.deepEqual(await otherProcessDelivers(file, receiver.url), { sent: 0, retried: 0, failed: 0 }, 'another process does not take it while its claimer lives');
    };
    let sleeps = 0;
    clock.onSleep = async () => {
      sleeps++;
      // Let a few tries fail against the held lock first.
      if (sleeps === 3 && !othersTried) await othersTry();
    };

    const result = await daemon.runOnce();
    if (!othersTried) await othersTry();
    assert.deepEqual(result, { sent: 1, retried: 0, failed: 0 });
    assert.ok(sleeps >= 3, `the record was retried (${sleeps} waits)`);
    assert.equal(receiver.total(), 1, `deliveries per key: ${JSON.stringify([...receiver.counts])}`);
    const row = rawDb(store).prepare(`SELECT status, attempts, claimed_by AS claimedBy FROM deliveries`).get() as { status: string; attempts: number; claimedBy: number | null };
    assert.deepEqual(row, { status: 'sent', attempts: 1, claimedBy: null });
    assert.match(logs.text, /recording it failed; retrying the record/);
    assert.match(logs.text, /recorded a delivery after retrying the record/);
    // Later passes find nothing to do.
    assert.deepEqual(await daemon.runOnce(), { sent: 0, retried: 0, failed: 0 });
    assert.equal(receiver.total(), 1);
  });

  test('when the record keeps failing and the dispatcher is stopped, then stop() gives up after the grace with an error line and this process never sends the row again', async () => {
    const clock = new HookClock(Date.now() - 10 * 60_000);
    const file = path.join(tmpDir(), 'otw.sqlite');
    const store = storeOn(openDatabase(file));
    cleanups.push(() => store.close());
    rawDb(store).pragma('busy_timeout = 20');
    const locker = new Database(file);
    cleanups.push(() => {
      if (locker.inTransaction) locker.exec('ROLLBACK');
      locker.close();
    });
    // This time the lock is never released while the daemon lives.
    const receiver = await countingReceiver((n) => {
      if (n === 1) locker.exec('BEGIN IMMEDIATE');
    });
    const now = clock.now();
    await store.insertEvent(tokenEvent(2, new Date(now.getTime() - 60_000).toISOString()) as unknown as OktaLogEvent, 'poll', now, null);
    await store.insertAlert(buildSampleAlert({ now, uuid: uuidFor(2), tokenName: 'token-2', source: 'poll' }), null, ['webhook'], { deferToSummary: false, now });
    const { logger, logs } = logSink();
    const d = new Dispatcher(store, [new WebhookNotifier({ url: receiver.url, secret: null }, { timeoutMs: 5000 })], DELIVERY, logger, clock);
    let stopped: Promise<void> | null = null;
    clock.onSleep = async () => {
      stopped ??= d.stop();
    };
    const pass = d.runOnce();
    await pass;
    await stopped;
    assert.match(logs.text, /stopping with a delivery that was sent but could not be recorded: it will be sent again after the restart/);
    // The lock goes away and the claim has long ended: still, this process does not send it again.
    locker.exec('COMMIT');
    clock.advance(3600_000);
    const again = new Dispatcher(store, [new WebhookNotifier({ url: receiver.url, secret: null }, { timeoutMs: 5000 })], DELIVERY, logger, clock);
    assert.deepEqual(await again.runOnce(), { sent: 0, retried: 0, failed: 0 });
    assert.equal(receiver.total(), 1);
    assert.equal((rawDb(store).prepare(`SELECT status FROM deliveries`).get() as { status: string }).status, 'pending', 'left for the next start, which is the documented duplicate');
  });
});
