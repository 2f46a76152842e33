import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseConfig } from '../src/config';
import { ConfigError } from '../src/errors';
import { findLink } from '../src/okta/links';
import { migrate, migrationsDir, openDatabase, schemaVersion } from '../src/store/db';
import { tokenEvent } from './helpers/events';
import { tmpDir } from './helpers/harness';

describe('the SQLite store', () => {
  test('when a new database is opened, then every migration runs once, in order, and the version is recorded', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'nested', 'otw.sqlite');
    const db = openDatabase(file);
    const files = fs.readdirSync(migrationsDir()).filter((f) => f.endsWith('.sql'));
    assert.equal(schemaVersion(db), Math.max(...files.map((f) => Number(f.slice(0, 3)))));
    const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as Array<{ version: number; name: string }>;
    assert.deepEqual(rows.map((r) => r.name), files.sort());
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    // Reopening applies nothing again.
    const again = openDatabase(file);
    assert.equal((again.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n, files.length);
    again.close();
  });

  test('when the database is newer than the program, then opening it fails with a clear sentence', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'otw.sqlite');
    const db = openDatabase(file);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, ?)').run('999_future.sql', new Date().toISOString());
    assert.throws(() => migrate(db, migrationsDir()), /newer than this program knows/);
    db.close();
  });

  test('when the same uuid is inserted twice, then the second insert is ignored', async () => {
    const store = storeOn(openDatabase(path.join(tmpDir(), 'db.sqlite')));
    const e = tokenEvent(1, '2026-11-28T10:00:00.000Z') as never;
    assert.equal(await store.insertEvent(e, 'poll', new Date(), null), true);
    assert.equal(await store.insertEvent(e, 'poll', new Date(), null), false);
    assert.deepEqual([...(await store.unseenUuids([(e as { uuid: string }).uuid, 'other']))], ['other']);
    await store.close();
  });

  test('when a transaction throws, then none of its writes land (the cursor included)', async () => {
    const store = storeOn(openDatabase(path.join(tmpDir(), 'db.sqlite')));
    await store.setCursor('https://example.okta.com/api/v1/logs?after=1', new Date());
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.insertEvent(tokenEvent(1, '2026-11-28T10:00:00.000Z') as never, 'poll', new Date(), null);
        await tx.setCursor('https://example.okta.com/api/v1/logs?after=2', new Date());
        throw new Error('crash');
      }),
    );
    assert.equal((await store.getCursor())!.url, 'https://example.okta.com/api/v1/logs?after=1');
    assert.equal((rawDb(store).prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n, 0);
    await store.close();
  });

  test('when several transactions and statements start at once on one SQLite connection, then they take turns and every one commits', async () => {
    const store = storeOn(openDatabase(path.join(tmpDir(), 'turns.sqlite')));
    const now = new Date('2026-11-28T12:00:00.000Z');
    // Started together, as a Slack app replaying clicks or a delivery pass beside a tick do: none may
    // begin while another holds the connection ("cannot start a transaction within a transaction").
    const results = await Promise.allSettled([
      ...[1, 2, 3, 4].map((n) => store.transaction(async (tx) => tx.insertEvent(tokenEvent(900 + n, now.toISOString()), 'poll', now, null))),
      store.sql.get('SELECT COUNT(*) AS n FROM events'),
    ]);
    assert.deepEqual(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), []);
    assert.equal((await store.sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM events'))?.n, 4);
    await store.db.close();
  });

  test('when one savepoint of a transaction throws, then only its writes are rolled back and the transaction commits the rest', async () => {
    const store = storeOn(openDatabase(path.join(tmpDir(), 'db.sqlite')));
    await store.transaction(async (tx) => {
      await tx.insertEvent(tokenEvent(1, '2026-11-28T10:00:00.000Z') as never, 'poll', new Date(), null);
      await assert.rejects(
        tx.savepoint(async (sp) => {
          await sp.insertEvent(tokenEvent(2, '2026-11-28T10:00:00.000Z') as never, 'poll', new Date(), null);
          throw new Error('this entry fails');
        }),
      );
      await tx.setCursor('https://example.okta.com/api/v1/logs?after=3', new Date());
    });
    assert.equal((await store.getCursor())!.url, 'https://example.okta.com/api/v1/logs?after=3');
    assert.deepEqual(rawDb(store).prepare('SELECT uuid FROM events').all(), [{ uuid: (tokenEvent(1, 'x') as { uuid: string }).uuid }]);
    await store.close();
  });
});

describe('settings', () => {
  const base = { OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: 'FAKE-okta-api-token-for-tests' };

  test('when only the required settings are given, then every default applies', () => {
    const c = parseConfig(base, { requireOkta: true });
    assert.equal(c.poll.schedule, '*/5 * * * *');
    assert.equal(c.poll.lookbackMs, 6 * 60_000);
    assert.equal(c.poll.maxAlertsPerRun, 100);
    assert.equal(c.store.dbPath, './data/okta-token-watch.sqlite');
    assert.equal(c.log.format, 'json');
    assert.equal(c.okta!.orgUrl, 'https://example.okta.com');
    assert.equal(c.okta!.pageLimit, 1000);
    assert.deepEqual(c.notify.enabled, ['console']);
    assert.ok(c.secrets.includes('FAKE-okta-api-token-for-tests'));
  });

  for (const [value, ok] of [
    ['https://example.okta.com/', true],
    ['http://127.0.0.1:8080', true],
    ['http://localhost:8080', true],
    ['http://example.okta.com', false],
    ['https://example-admin.okta.com', false],
    ['https://example.okta.com/api/v1', false],
    ['ftp://example.okta.com', false],
    ['not a url', false],
  ] as const) {
    test(`when OKTA_ORG_URL is ${value}, then it is ${ok ? 'accepted' : 'refused by name'}`, () => {
      const run = (): unknown => parseConfig({ ...base, OKTA_ORG_URL: value }, { requireOkta: true });
      if (ok) assert.doesNotThrow(run);
      else assert.throws(run, (e: unknown) => e instanceof ConfigError && e.problems.length === 1 && /^OKTA_ORG_URL /.test(e.problems[0]!) && !e.message.includes(value));
    });
  }

  test('when both an API token and a service app are set, then start-up refuses the ambiguity', () => {
    assert.throws(() => parseConfig({ ...base, OKTA_CLIENT_ID: '0oa1' }, { requireOkta: true }), /both set/);
  });

  test('when the token carries the SSWS prefix, then the error says to drop it without echoing the token', () => {
    assert.throws(
      () => parseConfig({ ...base, OKTA_API_TOKEN: 'SSWS FAKE-okta-api-token-for-tests' }, { requireOkta: true }),
      (e: unknown) => e instanceof ConfigError && /without the "SSWS " prefix/.test(e.message) && !e.message.includes('abcdefgh'),
    );
  });

  test('when durations are written with units, then they parse; without a unit they are refused', () => {
    assert.equal(parseConfig({ ...base, LOOKBACK: '90s' }, { requireOkta: true }).poll.lookbackMs, 90_000);
    assert.equal(parseConfig({ ...base, LOOKBACK: '2h' }, { requireOkta: true }).poll.lookbackMs, 7_200_000);
    assert.equal(parseConfig({ ...base, LOOKBACK: '7d' }, { requireOkta: true }).poll.lookbackMs, 7 * 86_400_000);
    assert.throws(() => parseConfig({ ...base, LOOKBACK: '360' }, { requireOkta: true }), /LOOKBACK is not a duration/);
  });
});

describe('Link headers', () => {
  test('when links come as separate headers or joined by commas, then next is found either way', () => {
    const self = '<https://o.okta.com/api/v1/logs?since=x>; rel="self"';
    const next = '<https://o.okta.com/api/v1/logs?after=abc&limit=1000>; rel="next"';
    assert.equal(findLink([self, next], 'next'), 'https://o.okta.com/api/v1/logs?after=abc&limit=1000');
    assert.equal(findLink([`${self}, ${next}`], 'next'), 'https://o.okta.com/api/v1/logs?after=abc&limit=1000');
    assert.equal(findLink([self], 'next'), null);
  });
});
