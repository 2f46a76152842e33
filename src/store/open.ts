import { openDatabase, schemaVersion } from './db';
import { openPostgres, postgresSchemaVersion } from './pg';
import { SqliteDb } from './sqlite';
import { Store } from './store';

/** Where the store lives. */
export interface StoreLocation {
  /** The SQLite file (DB_PATH). */
  dbPath: string;
  /** PostgreSQL (DATABASE_URL): when set, the store is there and dbPath is not used. */
  databaseUrl?: string | null;
}

/** What `openStore` opened: the store, and the schema version the database is at. */
export interface OpenedStore {
  store: Store;
  schemaVersion: number;
}

/**
 * Opens the store: PostgreSQL at `databaseUrl` when set (migrated under an advisory lock unless
 * `readonly`, see openPostgres; errors name DATABASE_URL, never its value), else the SQLite file at
 * `dbPath` (created and migrated unless `readonly`, see openDatabase; a path that cannot be used is a
 * ConfigError naming DB_PATH). `migrations` is SQLite's directory (tests of old schemas).
 */
export async function openStore(where: StoreLocation, opts: { readonly?: boolean; migrations?: string } = {}): Promise<OpenedStore> {
  if (where.databaseUrl) {
    const pg = await openPostgres(where.databaseUrl, { readonly: opts.readonly });
    try {
      return { store: new Store(pg), schemaVersion: await postgresSchemaVersion(pg) };
    } catch (err) {
      await pg.close().catch(() => undefined);
      throw err;
    }
  }
  const db = openDatabase(where.dbPath, opts);
  return { store: new Store(new SqliteDb(db, where.dbPath)), schemaVersion: schemaVersion(db) };
}
