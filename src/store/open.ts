import { openDatabase, schemaVersion } from './db';
import { SqliteDb } from './sqlite';
import { Store } from './store';

/** Where the store lives. */
export interface StoreLocation {
  /** The SQLite file (DB_PATH). */
  dbPath: string;
}

/** What `openStore` opened: the store, and the schema version the database is at. */
export interface OpenedStore {
  store: Store;
  schemaVersion: number;
}

/**
 * Opens the store: the SQLite file at `dbPath` (created and migrated unless `readonly`, see
 * openDatabase). Errors are openDatabase's: a path that cannot be used is a ConfigError naming DB_PATH.
 */
export async function openStore(where: StoreLocation, opts: { readonly?: boolean; migrations?: string } = {}): Promise<OpenedStore> {
  const db = openDatabase(where.dbPath, opts);
  return { store: new Store(new SqliteDb(db, where.dbPath)), schemaVersion: schemaVersion(db) };
}
