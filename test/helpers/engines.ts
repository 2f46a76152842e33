import path from 'node:path';
import { after } from 'node:test';
import { openDatabase } from '../../src/store/db';
import { openPostgres } from '../../src/store/pg';
import type { Engine, SqlDb } from '../../src/store/sql';
import { SqliteDb } from '../../src/store/sqlite';
import { tmpDir } from './harness';
import { startPgCluster, type PgCluster } from './pg-cluster';

/** One engine a suite runs on. */
export interface EngineUnderTest {
  readonly name: Engine;
  /**
   * A fresh, migrated, empty database: a new SQLite file, or a new database in this test file's
   * PostgreSQL cluster. Closed when the test file's tests are done.
   */
  openDb(): Promise<SqlDb>;
  /** Two connections to one fresh database, as two processes (replicas) would have. */
  openPair(): Promise<[SqlDb, SqlDb]>;
}

let cluster: Promise<PgCluster> | null = null;
const opened: SqlDb[] = [];
let cleanupRegistered = false;

/** The test file's one PostgreSQL cluster, started on first use (about 1.5-2 s) and stopped after its tests. */
function sharedCluster(): Promise<PgCluster> {
  cluster ??= startPgCluster();
  return cluster;
}

function registerCleanup(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  after(async () => {
    for (const db of opened.splice(0)) await db.close().catch(() => undefined);
    if (cluster) await (await cluster).stop();
    cluster = null;
  });
}

/** The engines, for a suite that must hold on both. */
export const ENGINES: readonly EngineUnderTest[] = [
  {
    name: 'sqlite',
    async openDb() {
      const file = path.join(tmpDir('otw-engine-'), 'db.sqlite');
      const db = new SqliteDb(openDatabase(file), file);
      opened.push(db);
      return db;
    },
    async openPair() {
      const file = path.join(tmpDir('otw-engine-'), 'db.sqlite');
      const pair: [SqlDb, SqlDb] = [new SqliteDb(openDatabase(file), file), new SqliteDb(openDatabase(file), file)];
      opened.push(...pair);
      return pair;
    },
  },
  {
    name: 'postgres',
    async openDb() {
      const db = await openPostgres(await (await sharedCluster()).createDatabase());
      opened.push(db);
      return db;
    },
    async openPair() {
      const url = await (await sharedCluster()).createDatabase();
      const pair: [SqlDb, SqlDb] = [await openPostgres(url), await openPostgres(url)];
      opened.push(...pair);
      return pair;
    },
  },
];

/**
 * Declares a suite once per engine: `forEachEngine((engine) => describe(`the store on ${engine.name}`, () => ...))`.
 * Call it at the top level of a test file; databases and the cluster are cleaned up after the file's tests.
 */
export function forEachEngine(body: (engine: EngineUnderTest) => void): void {
  registerCleanup();
  for (const engine of ENGINES) body(engine);
}
