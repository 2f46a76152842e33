import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { FakeOktaOrgs } from '../src/simulator/okta-orgs';
import { openDatabase } from '../src/store/db';
import { SqliteDb } from '../src/store/sqlite';
import { tokenEvent } from './helpers/events';
import { runCli, tmpDir } from './helpers/harness';

const TOKEN = 'FAKE-okta-api-token-for-tests-retry-orgs';

// Found in review: retry-failed without --org reset a notifier's failed rows of every org when any
// org enabled it, so a row of an org whose routing leaves that notifier out went back to pending
// and waited forever.
test('retry-failed without --org leaves failed rows of an org whose routing does not enable that notifier as failed (else they are pending forever)', async () => {
  const names = ['alpha', 'beta'];
  const fakes = new FakeOktaOrgs(names);
  await fakes.start();
  fakes.addToken(TOKEN, 'cli');
  try {
    const dir = tmpDir();
    const file = path.join(dir, 'orgs.yaml');
    // alpha: console + webhook (the env file's NOTIFIERS); beta: console only.
    fs.writeFileSync(
      file,
      `orgs:\n  - name: alpha\n    url: ${fakes.org('alpha').origin}\n    apiToken: { env: OTW_TOKEN_ALPHA }\n  - name: beta\n    url: ${fakes.org('beta').origin}\n    apiToken: { env: OTW_TOKEN_BETA }\n    notify:\n      notifiers: [console]\n`,
    );
    const env = { ORGS_FILE: file, DB_PATH: path.join(dir, 'otw.sqlite'), NOTIFIERS: 'console,webhook', WEBHOOK_URL: 'http://127.0.0.1:9/FAKE-webhook-path-for-tests', OKTA_MAX_RETRIES: '0', OTW_TOKEN_ALPHA: TOKEN, OTW_TOKEN_BETA: TOKEN };
    const published = new Date(Date.now() - 2000).toISOString();
    fakes.org('beta').persist(tokenEvent(2, published));
    const p = await runCli(['poll'], env);
    assert.ok(p.code === 0 || p.code === 3, p.stderr);
    const db = new SqliteDb(openDatabase(env.DB_PATH), env.DB_PATH);
    await db.run(`INSERT INTO deliveries (alert_id, notifier, status, attempts, created_at, next_attempt_at) SELECT id, 'webhook', 'failed', 3, ?, ? FROM alerts WHERE org = 'beta'`, [new Date().toISOString(), new Date().toISOString()]);
    await db.close();
    const r = await runCli(['retry-failed'], env);
    assert.equal(r.code, 0, r.stderr);
    const db2 = new SqliteDb(openDatabase(env.DB_PATH), env.DB_PATH);
    const rows = await db2.all<{ status: string }>(`SELECT d.status FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.org = 'beta' AND d.notifier = 'webhook'`);
    await db2.close();
    assert.deepEqual(
      rows.map((x) => x.status),
      ['failed'],
      `beta's webhook row was put back to pending although beta does not enable webhook (nothing will ever send it); stdout: ${r.stdout}`,
    );
  } finally {
    await fakes.stop();
  }
});
