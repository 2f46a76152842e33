import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { createApp } from '../src/app';
import { parseConfig } from '../src/config';
import { Daemon } from '../src/daemon';
import { createLogger } from '../src/logger';
import { fakeOrgsWithFile } from './helpers/fake-orgs';
import { LineSink } from './helpers/harness';

const TOKEN = 'FAKE-okta-api-token-for-tests-lease-round';

/**
 * CI's scale soak: the slot at start-up took over twenty orgs (one takeover each) while the
 * schedule's first slot came; that slot's lease round saw the second replica, handed back the
 * orgs above its share, and the start-up slot then read them anyway (their commits failed the
 * fence, but the other replica read them in the same slot).
 */
test('when a slot comes while the previous slot is still taking its leases and the share shrinks meanwhile, then no org is ticked after this replica handed it back', async () => {
  const names = ['org-a', 'org-b', 'org-c', 'org-d', 'org-e', 'org-f'];
  const { fakes, dir, file } = await fakeOrgsWithFile(names, TOKEN);
  const config = parseConfig(
    { ORGS_FILE: file, OTW_TOKEN: TOKEN, DB_PATH: path.join(dir, 'otw.sqlite'), POLL_SCHEDULE: '0 0 1 1 *', NOTIFIERS: 'console', CONSOLE_FORMAT: 'json', LOG_LEVEL: 'debug', LOG_FORMAT: 'json', LEASE_TTL: '1m' },
    { requireOkta: true },
  );
  const logs = new LineSink();
  const app = await createApp(config, { logger: createLogger(config.log, { stream: logs }) });
  const daemon = new Daemon(app);
  try {
    // Another replica (on another host) registers the moment this one takes its first lease: the
    // first lease round saw one live replica and took every org, the next one sees two.
    await app.store.sql.run(
      `CREATE TRIGGER another_replica_joins AFTER INSERT ON leases BEGIN
         INSERT OR IGNORE INTO replicas (holder, host, pid, started_at, seen_at)
         VALUES ('elsewhere:1:abcdef', 'elsewhere', 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
       END`,
    );
    const released = new Map<string, number>();
    // Two slots at once: the one at start-up and the schedule's first.
    await Promise.all([daemon.tick(), daemon.tick()]);
    await daemon.followSettled();
    for (const l of logs.json()) {
      if (l.message === 'org leases changed') for (const org of (l.released as string[]) ?? []) released.set(org, Date.parse(String(l.timestamp)));
    }
    const lost = logs.json().filter((l) => l.message === 'tick failed' || /lease on org/.test(String(l.error ?? '')));
    assert.deepEqual(lost.map((l) => `${String(l.org)}: ${String(l.error)}`), [], 'a tick ran on an org whose lease this replica had handed back');
    const reads = fakes.requestLog().filter((r) => r.systemLog);
    for (const [org, at] of released) {
      const after = reads.filter((r) => r.org === org && r.at > at);
      assert.deepEqual(after, [], `org ${org} was read after this replica handed it back`);
    }
    // Every org was read once by the first slot (the second found them busy or held, never twice at once).
    assert.deepEqual([...new Set(reads.map((r) => r.org))].sort(), names);
  } finally {
    await daemon.stop();
    await app.close();
    await fakes.stop();
  }
});
