import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { migrationsDir, openDatabase, type Db } from '../src/store/db';
import { openPostgres, postgresMigrationsDir, type PgDb } from '../src/store/pg';
import { tmpDir } from './helpers/harness';
import { startPgCluster, type PgCluster } from './helpers/pg-cluster';

/** One table as both engines can describe it, in a form that compares across them. */
interface TableShape {
  /** name -> "type" plus " not null" / " pk": types normalized to integer, text, real, blob. */
  columns: Record<string, string>;
  /** Sorted "name(col, col) [unique] [partial]" for indexes created by CREATE INDEX. */
  indexes: string[];
  /** Sorted "(col, col)" for UNIQUE constraints on columns. */
  unique: string[];
  /** Sorted "(col) -> table(col)". */
  foreignKeys: string[];
}
type Schema = Record<string, TableShape>;

function normalType(t: string): string {
  const u = t.toUpperCase();
  if (/INT/.test(u)) return 'integer';
  if (/CHAR|TEXT|CLOB/.test(u)) return 'text';
  if (/REAL|FLOA|DOUB|NUMERIC|DECIMAL/.test(u)) return 'real';
  if (/BLOB|BYTEA/.test(u) || u === '') return 'blob';
  return u.toLowerCase();
}

function sqliteSchema(db: Db): Schema {
  const out: Schema = {};
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>;
  for (const { name } of tables) {
    const cols = db.prepare(`SELECT name, type, "notnull" AS nn, pk FROM pragma_table_info(?)`).all(name) as Array<{ name: string; type: string; nn: number; pk: number }>;
    const columns: Record<string, string> = {};
    // A PRIMARY KEY column is NOT NULL on PostgreSQL; SQLite only guarantees it for INTEGER
    // PRIMARY KEY, but the program never writes a NULL key, so both count it as not null.
    for (const c of cols) columns[c.name] = `${normalType(c.type)}${c.nn || c.pk ? ' not null' : ''}${c.pk ? ' pk' : ''}`;
    const indexes: string[] = [];
    const unique: string[] = [];
    for (const ix of db.prepare('SELECT name, "unique" AS u, origin, partial FROM pragma_index_list(?)').all(name) as Array<{ name: string; u: number; origin: string; partial: number }>) {
      const keys = (db.prepare('SELECT name, coll FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno').all(ix.name) as Array<{ name: string | null; coll: string }>).map((k) =>
        // PostgreSQL has no NOCASE collation: its index is on lower(column), the same lookup.
        k.coll === 'NOCASE' ? `lower(${k.name})` : String(k.name),
      );
      if (ix.origin === 'pk') continue;
      if (ix.origin === 'u') unique.push(`(${keys.join(', ')})`);
      else indexes.push(`${ix.name}(${keys.join(', ')})${ix.u ? ' unique' : ''}${ix.partial ? ' partial' : ''}`);
    }
    const foreignKeys = (db.prepare('SELECT "from" AS f, "table" AS t, "to" AS c FROM pragma_foreign_key_list(?)').all(name) as Array<{ f: string; t: string; c: string }>).map((k) => `(${k.f}) -> ${k.t}(${k.c})`);
    out[name] = { columns, indexes: indexes.sort(), unique: unique.sort(), foreignKeys: foreignKeys.sort() };
  }
  return out;
}

async function postgresSchema(db: PgDb): Promise<Schema> {
  const out: Schema = {};
  const tables = await db.all<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name");
  for (const { name } of tables) {
    const cols = await db.all<{ name: string; type: string; nullable: string }>('SELECT column_name AS name, data_type AS type, is_nullable AS nullable FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?', [name]);
    const pk = new Set(
      (await db.all<{ col: string }>(
        `SELECT a.attname AS col FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
          WHERE i.indrelid = CAST(? AS regclass) AND i.indisprimary`,
        [name],
      )).map((r) => r.col),
    );
    const columns: Record<string, string> = {};
    for (const c of cols) columns[c.name] = `${normalType(c.type)}${c.nullable === 'NO' ? ' not null' : ''}${pk.has(c.name) ? ' pk' : ''}`;
    const ixRows = await db.all<{ name: string; u: boolean; partial: boolean; keys: string[] }>(
      `SELECT c.relname AS name, i.indisunique AS u, i.indpred IS NOT NULL AS partial,
              ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS keys
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = CAST(? AS regclass)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = i.indexrelid)`,
      [name],
    );
    const indexes = ixRows.map((r) => `${r.name}(${r.keys.join(', ')})${r.u ? ' unique' : ''}${r.partial ? ' partial' : ''}`);
    const uniqueRows = await db.all<{ cols: string[] }>(
      `SELECT ARRAY(SELECT CAST(a.attname AS TEXT) FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.n) AS cols
         FROM pg_constraint con WHERE con.conrelid = CAST(? AS regclass) AND con.contype = 'u'`,
      [name],
    );
    const fkRows = await db.all<{ f: string; t: string; c: string }>(
      `SELECT a.attname AS f, rt.relname AS t, ra.attname AS c
         FROM pg_constraint con
         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
         JOIN pg_class rt ON rt.oid = con.confrelid
         JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[1]
        WHERE con.conrelid = CAST(? AS regclass) AND con.contype = 'f'`,
      [name],
    );
    out[name] = {
      columns,
      indexes: indexes.sort(),
      unique: uniqueRows.map((r) => `(${r.cols.join(', ')})`).sort(),
      foreignKeys: fkRows.map((k) => `(${k.f}) -> ${k.t}(${k.c})`).sort(),
    };
  }
  return out;
}

function versions(dir: string): number[] {
  return fs.readdirSync(dir).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).map((f) => Number(f.slice(0, 3))).sort((a, b) => a - b);
}

describe('the SQLite and PostgreSQL schemas', () => {
  let cluster: PgCluster;
  before(async () => {
    cluster = await startPgCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('when a migration is added for one engine, then the other has the same version number', () => {
    assert.deepEqual(versions(postgresMigrationsDir()), versions(migrationsDir()));
  });

  test('when both engines are migrated, then they have the same tables, columns, keys and indexes', async () => {
    const sqlite = openDatabase(path.join(tmpDir('otw-schema-'), 'db.sqlite'));
    const pg = await openPostgres(await cluster.createDatabase());
    try {
      const lite = sqliteSchema(sqlite);
      const post = await postgresSchema(pg);
      assert.ok(Object.keys(lite).length >= 15, `SQLite has ${Object.keys(lite).length} tables`);
      assert.deepEqual(Object.keys(post).sort(), Object.keys(lite).sort(), 'the same tables');
      for (const table of Object.keys(lite)) assert.deepEqual(post[table], lite[table], `table ${table}`);
      assert.deepEqual(await pg.get('SELECT MAX(version) AS v FROM schema_migrations'), sqlite.prepare('SELECT MAX(version) AS v FROM schema_migrations').get());
    } finally {
      sqlite.close();
      await pg.close();
    }
  });
});
