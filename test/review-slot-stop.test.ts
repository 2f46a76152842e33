import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { createApp } from '../src/app';
import { parseConfig } from '../src/config';
import { Daemon } from '../src/daemon';
import { createLogger } from '../src/logger';
import { startPgCluster } from './helpers/pg-cluster';
import { fakeOrgsWithFile } from './helpers/fake-orgs';
import { LineSink } from './helpers/harness';

const TOKEN = 'FAKE-okta-api-token-for-tests-slot-stop';

/**
 * Found in review: a slot that came while one slot was in its lease round and another waited for
 * it was skipped, and tick() then forgot the slot in flight; stop() had nothing to wait for and
 * returned (the CLI closes the database then) while the first slot still took its leases and
 * ticked its orgs. The lease round is held up for real: another session locks the replicas table.
 */
test('when a stop comes while a slot is in its lease round, a second waits for it and a third was skipped, then stop waits for every slot in flight', async () => {
  const cluster = await startPgCluster();
  const names = ['org-a', 'org-b'];
  const { fakes, file } = await fakeOrgsWithFile(names, TOKEN);
  const url = await cluster.createDatabase();
  const config = parseConfig({ ORGS_FILE: file, OTW_TOKEN: TOKEN, DATABASE_URL: url, POLL_SCHEDULE: '0 0 1 1 *', NOTIFIERS: 'console', CONSOLE_FORMAT: 'json', LOG_FORMAT: 'json', LEASE_TTL: '1m' }, { requireOkta: true });
  const logs = new LineSink();
  const app = await createApp(config, { logger: createLogger(config.log, { stream: logs }) });
  const daemon = new Daemon(app);
  const locker = new pg.Client({ connectionString: url });
  const summaryLocker = new pg.Client({ connectionString: url });
  await locker.connect();
  await summaryLocker.connect();
  try {
    // Another session holds the replicas table: the first lease round waits at its first write.
    // A third holds org-a's summary lock: taking the org over (summarising what a predecessor left)
    // waits after the round, while a stop's own steps (handing the leases back) do not.
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE replicas IN EXCLUSIVE MODE');
    await summaryLocker.query('BEGIN');
    await summaryLocker.query("SELECT pg_advisory_xact_lock(hashtextextended('summary:org-a', 0))");
    const ended: string[] = [];
    const a = daemon.tick().then(() => ended.push('slot a'));
    await new Promise((r) => setTimeout(r, 200));
    const b = daemon.tick().then(() => ended.push('slot b'));
    await new Promise((r) => setTimeout(r, 50));
    await daemon.tick(); // skipped: the previous slot is still taking its leases
    assert.ok(logs.json().some((l) => l.message === 'the previous slot is still taking its org leases; skipping this slot' && l.level === 'warn'), 'the skipped slot says so');
    const stopping = daemon.stop().then(() => ended.push('stop'));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(ended, [], 'nothing ends while the lease round waits');
    await locker.query('COMMIT');
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(ended, [], 'the first slot still takes its orgs over: nothing has ended, the stop included');
    await summaryLocker.query('COMMIT');
    await Promise.all([a, b, stopping]);
    assert.equal(ended.at(-1), 'stop', `stop resolved before a slot in flight ended: ${ended.join(', ')}`);
  } finally {
    await locker.end().catch(() => undefined);
    await summaryLocker.end().catch(() => undefined);
    await daemon.stop();
    await app.close();
    await fakes.stop();
    await cluster.stop();
  }
});
