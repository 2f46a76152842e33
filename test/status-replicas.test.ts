import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { openDatabase } from '../src/store/db';
import { SqliteDb } from '../src/store/sqlite';
import { FakeOkta } from './helpers/fake-okta';
import { runCli, tmpDir } from './helpers/harness';

const TOKEN = 'FAKE-okta-api-token-for-tests';

test('when two processes share a single-org database (an HA pair), then status shows who holds the lease and both replicas, and --json carries them', async () => {
  const fake = new FakeOkta({ token: TOKEN });
  const origin = await fake.start();
  const dir = tmpDir();
  const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: TOKEN, DB_PATH: path.join(dir, 'db.sqlite'), NOTIFIERS: 'console' };
  try {
    assert.equal((await runCli(['poll'], env)).code, 0);
    // Alone, status is as it always was: no lease or replica lines.
    const alone = await runCli(['status'], env);
    assert.doesNotMatch(alone.stdout, /^replicas seen/m);
    const now = Date.now();
    const iso = (ms: number): string => new Date(ms).toISOString();
    const db = new SqliteDb(openDatabase(env.DB_PATH), env.DB_PATH);
    await db.run('INSERT INTO replicas (holder, host, pid, started_at, seen_at) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)', [
      'host-a:11:aaaaaaaa', 'host-a', 11, iso(now - 60_000), iso(now - 1_000),
      'host-b:22:bbbbbbbb', 'host-b', 22, iso(now - 60_000), iso(now - 2_000),
    ]);
    await db.run('INSERT INTO leases (org, holder, acquired_at, renewed_at, expires_at) VALUES (?, ?, ?, ?, ?)', ['default', 'host-a:11:aaaaaaaa', iso(now - 60_000), iso(now - 1_000), iso(now + 119_000)]);
    await db.close();
    const st = await runCli(['status'], env);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /^lease +held by host-a:11:aaaaaaaa since \S+, expires \S+$/m);
    assert.match(st.stdout, /^replicas seen \(2\):\n {2}host-a:11:aaaaaaaa {2}started .*\n {2}host-b:22:bbbbbbbb {2}started /m);
    const js = JSON.parse((await runCli(['status', '--json'], env)).stdout) as { leases: Array<{ org: string; holder: string }>; replicas: Array<{ holder: string }>; cursor: unknown };
    assert.deepEqual(js.leases.map((l) => [l.org, l.holder]), [['default', 'host-a:11:aaaaaaaa']]);
    assert.deepEqual(js.replicas.map((r) => r.holder), ['host-a:11:aaaaaaaa', 'host-b:22:bbbbbbbb']);
    assert.ok(js.cursor !== undefined, 'a single org keeps its cursor at the top');
  } finally {
    await fake.stop();
  }
});
