import type Database from 'better-sqlite3';
import { SqliteDb } from '../../src/store/sqlite';
import { Store } from '../../src/store/store';

/**
 * The better-sqlite3 handle under a Store on SQLite, for tests that read or rig rows directly
 * (synchronously, outside any transaction of the store).
 */
export function rawDb(store: Store): Database.Database {
  if (!(store.db instanceof SqliteDb)) throw new Error('rawDb: this store is not on SQLite');
  return store.db.db;
}

/** A Store on an open better-sqlite3 handle (already migrated). */
export function storeOn(db: Database.Database): Store {
  return new Store(new SqliteDb(db, db.name));
}
