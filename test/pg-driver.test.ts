import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ConfigError } from '../src/errors';
import { PgDb, migratePostgres, openPostgres, toPgPlaceholders } from '../src/store/pg';
import { isStorageFailure } from '../src/store/sql';
import { PG_TEST_PASSWORD, startPgCluster, type PgCluster } from './helpers/pg-cluster';

/** Polls an async probe until it is truthy (no timing asserted: only that it happens). */
async function eventually(probe: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await probe())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('the PostgreSQL driver', () => {
  let cluster: PgCluster;
  before(async () => {
    cluster = await startPgCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  /** A fresh, migrated database for one test, closed after it. */
  async function withDb(fn: (db: PgDb) => Promise<void>): Promise<void> {
    const db = await openPostgres(await cluster.createDatabase());
    try {
      await fn(db);
    } finally {
      await db.close();
    }
  }

  test('when SQL has ? inside quotes or comments, then only the real placeholders are numbered', async () => {
    assert.equal(toPgPlaceholders(`SELECT '?', "a?b", ? -- why?\n, ? /* ? */, 'it''s ?', ?`), `SELECT '?', "a?b", $1 -- why?\n, $2 /* ? */, 'it''s ?', $3`);
    await withDb(async (db) => {
      const row = await db.get<{ q: string; a: string; r: string; b: number }>(`SELECT '?' AS q, ? AS a, 'it''s ?' AS r, CAST(? AS INTEGER) AS b`, ['first', 2]);
      assert.deepEqual(row, { q: '?', a: 'first', r: "it's ?", b: 2 });
      await db.run('INSERT INTO slack_inbox (envelope_id, payload, received_at) VALUES (?, ?, ?)', ['e?1', 'what? "quoted?"', '2026-01-01T00:00:00.000Z']);
      const got = await db.get<{ envelopeId: string; payload: string }>('SELECT envelope_id AS "envelopeId", payload FROM slack_inbox WHERE envelope_id = ?', ['e?1']);
      assert.deepEqual(got, { envelopeId: 'e?1', payload: 'what? "quoted?"' });
    });
  });

  test('when a string parameter holds NUL characters, then it is stored (as U+FFFD) instead of failing the statement', async () => {
    await withDb(async (db) => {
      const evil = 'a\u0000b\u0000';
      const r = await db.run('INSERT INTO slack_inbox (envelope_id, payload, received_at) VALUES (?, ?, ?)', ['nul', evil, '2026-01-01T00:00:00.000Z']);
      assert.equal(r.changes, 1);
      const row = await db.get<{ payload: string }>('SELECT payload FROM slack_inbox WHERE envelope_id = ?', ['nul']);
      assert.equal(row?.payload, 'a\uFFFDb\uFFFD');
      // The same text finds the row: lookups are replaced the same way.
      assert.equal((await db.all('SELECT 1 FROM slack_inbox WHERE payload = ?', [evil])).length, 1);
    });
  });

  test('when COUNT, SUM, a BIGINT column or a boolean is read, then it is a number as on SQLite, and pg\'s global parsers are left alone', async () => {
    await withDb(async (db) => {
      for (const [i, n] of [[1, 5], [2, 7]] as const) {
        await db.run('INSERT INTO source_receipts (source, last_received_at, batches, events, updated_at) VALUES (?, ?, ?, ?, ?)', [`s${i}`, 'x', n, n * 1000, 'x']);
      }
      const row = await db.get<Record<string, unknown>>('SELECT COUNT(*) AS n, SUM(batches) AS b, SUM(events) AS e, MAX(events) AS m FROM source_receipts');
      assert.deepEqual(row, { n: 2, b: 12, e: 12000, m: 7000 });
      // Booleans read as SQLite gives them: 1 and 0.
      assert.deepEqual(await db.get("SELECT EXISTS (SELECT 1 FROM source_receipts) AS yes, 1 = 2 AS no"), { yes: 1, no: 0 });
      const ids = await db.get<{ id: unknown }>("INSERT INTO ticks (kind, started_at, result) VALUES ('poll', 'x', 'running') RETURNING id");
      assert.equal(typeof ids?.id, 'number');
      // Another pg user in this process still gets int8 as a string.
      assert.equal(pg.types.getTypeParser(20, 'text')('5'), '5');
    });
  });

  test('when a savepoint fails, then only its writes roll back and the transaction goes on and commits', async () => {
    await withDb(async (db) => {
      const insert = 'INSERT INTO slack_inbox (envelope_id, payload, received_at) VALUES (?, ?, ?)';
      const err = await db
        .transaction(async (tx) => {
          await tx.run(insert, ['a', 'p', 't']);
          const failed = await tx
            .savepoint(async (sp) => {
              await sp.run(insert, ['b', 'p', 't']);
              await sp.run(insert, ['a', 'duplicate', 't']);
            })
            .then(() => null, (e: unknown) => e);
          assert.ok(failed, 'the duplicate key failed the savepoint');
          assert.equal(isStorageFailure(failed), false, 'a duplicate key is about the row');
          // Usable: PostgreSQL would refuse this if the savepoint had not been rolled back.
          await tx.run(insert, ['c', 'p', 't']);
          return null;
        })
        .then(() => null, (e: unknown) => e);
      assert.equal(err, null);
      const rows = await db.all<{ envelope_id: string }>('SELECT envelope_id FROM slack_inbox ORDER BY envelope_id');
      assert.deepEqual(rows.map((r) => r.envelope_id), ['a', 'c']);
    });
  });

  test('when two transactions check-then-write under the same lock, then they take turns and only one writes', async () => {
    await withDb(async (db) => {
      const order: string[] = [];
      let releaseFirst!: () => void;
      const firstMayGoOn = new Promise<void>((r) => (releaseFirst = r));
      let firstLocked!: () => void;
      const firstHasLock = new Promise<void>((r) => (firstLocked = r));
      const claim = (who: string, hold?: Promise<void>) =>
        db.transaction(async (tx) => {
          await tx.lock('respond:00T-FAKE');
          order.push(`${who} locked`);
          if (hold) {
            firstLocked();
            await hold;
          }
          const have = await tx.get<{ n: number }>("SELECT COUNT(*) AS n FROM slack_inbox WHERE envelope_id = 'claim'");
          if (have!.n === 0) {
            await tx.run("INSERT INTO slack_inbox (envelope_id, payload, received_at) VALUES ('claim', ?, 't')", [who]);
            order.push(`${who} wrote`);
          }
          order.push(`${who} done`);
        });
      const first = claim('first', firstMayGoOn);
      await firstHasLock;
      const second = claim('second');
      // The second transaction is waiting for the advisory lock (seen by the server), not running.
      await eventually(async () => (await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))!.n === 1, 'the second transaction to wait for the lock');
      assert.deepEqual(order, ['first locked']);
      releaseFirst();
      await Promise.all([first, second]);
      assert.deepEqual(order, ['first locked', 'first wrote', 'first done', 'second locked', 'second done']);
      assert.equal((await db.get<{ payload: string }>("SELECT payload FROM slack_inbox WHERE envelope_id = 'claim'"))?.payload, 'first');
    });
  });

  test('when the database fails (a missing table, a killed connection), then isStorageFailure says so; a bad value is about the row', async () => {
    await withDb(async (db) => {
      const bad = await db.get('SELECT CAST(? AS INTEGER) AS n', ['not a number']).catch((e: unknown) => e);
      assert.equal(isStorageFailure(bad), false, 'invalid input is about the value (22P02)');
      const missing = await db.get('SELECT * FROM no_such_table').catch((e: unknown) => e);
      assert.equal(isStorageFailure(missing), true);
      // A connection cut in the middle of a transaction (an administrator, a failover).
      const cut = await db
        .transaction(async (tx) => {
          const me = await tx.get<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await db.run('SELECT pg_terminate_backend(?)', [me!.pid]);
          await tx.get('SELECT 1');
        })
        .catch((e: unknown) => e);
      assert.ok(cut instanceof Error);
      assert.equal(isStorageFailure(cut), true, String(cut));
      // The pool recovers: the broken connection was not handed out again.
      assert.deepEqual(await db.get('SELECT 1 AS one'), { one: 1 });
    });
  });

  test('when nothing listens at DATABASE_URL, then statements fail as storage failures and no message shows the password', async () => {
    const url = `postgresql://otw_test:${PG_TEST_PASSWORD}@127.0.0.1:${await closedPort()}/otw`;
    const db = new PgDb(url);
    try {
      const err = await db.get('SELECT 1').catch((e: unknown) => e);
      assert.equal(isStorageFailure(err), true, String(err));
      const tx = await db.transaction(async () => undefined).catch((e: unknown) => e);
      assert.equal(isStorageFailure(tx), true, String(tx));
    } finally {
      await db.close();
    }
    const opened = await openPostgres(url).catch((e: unknown) => e);
    assert.ok(opened instanceof Error);
    assert.match(opened.message, /^DATABASE_URL postgresql:\/\/127\.0\.0\.1:\d+\/otw cannot be opened/);
    assert.doesNotMatch(opened.message, /FAKE-pg-password|otw_test/);
    assert.equal(isStorageFailure(opened), true, 'a server that is down: the service manager retries');
  });

  test('when the password is wrong or the database is missing, then openPostgres is a configuration error naming DATABASE_URL, never the password', async () => {
    const wrong = await openPostgres(cluster.url().replace(encodeURIComponent(PG_TEST_PASSWORD), 'FAKE-wrong-password')).catch((e: unknown) => e);
    assert.ok(wrong instanceof ConfigError, String(wrong));
    assert.match(wrong.message, /^DATABASE_URL postgresql:\/\/127\.0\.0\.1:\d+\/postgres cannot be used: the password was refused/);
    assert.doesNotMatch(wrong.message, /FAKE-wrong-password/);
    const missing = await openPostgres(cluster.url('otw_no_such_db')).catch((e: unknown) => e);
    assert.ok(missing instanceof ConfigError);
    assert.match(missing.message, /the database does not exist/);
  });

  test('when the driver connects, then it names itself to the server and its label carries no credentials', async () => {
    await withDb(async (db) => {
      assert.deepEqual(await db.get("SELECT current_setting('application_name') AS app"), { app: 'okta-token-watch' });
      assert.match(db.label, /^postgresql:\/\/127\.0\.0\.1:\d+\/otw_\d+_\d+$/);
      assert.ok((await db.now()) instanceof Date);
    });
  });

  test('when two replicas migrate one new database at once, then each migration runs once', async () => {
    const url = await cluster.createDatabase();
    const [a, b] = await Promise.all([openPostgres(url), openPostgres(url)]);
    try {
      const rows = await a.all<{ version: number; n: number }>('SELECT version, COUNT(*) AS n FROM schema_migrations GROUP BY version ORDER BY version');
      assert.ok(rows.length >= 12);
      assert.ok(rows.every((r) => r.n === 1));
      // A database from a newer program is refused, as on SQLite.
      await a.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999_future.sql', 'x')");
      await assert.rejects(migratePostgres(b), /newer than this program knows/);
      const reopened = await openPostgres(url).catch((e: unknown) => e);
      assert.match(String(reopened), /^Error: DATABASE_URL \S+ cannot be opened: the database is at schema version 999/);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
