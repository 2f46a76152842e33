import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { packageRoot } from '../package-root';

/** The SQLite handle type used across the store. */
export type Db = Database.Database;

/** Where the migration files live: `migrations/` at the package root. */
export function migrationsDir(): string {
  return path.join(packageRoot(), 'migrations');
}

/** A migration file, `NNN_name.sql`. */
interface Migration {
  version: number;
  name: string;
  sql: string;
}

function readMigrations(dir: string): Migration[] {
  const files = fs.readdirSync(dir).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const seen = new Set<number>();
  return files.map((f) => {
    const version = Number(f.slice(0, 3));
    if (seen.has(version)) throw new Error(`two migrations share version ${version} in ${dir}`);
    seen.add(version);
    return { version, name: f, sql: fs.readFileSync(path.join(dir, f), 'utf8') };
  });
}

/**
 * Opens (creating if needed) the database: directory created with mode 0700, file with mode 0600,
 * WAL journal, foreign keys on, and every pending migration applied in order, each in its own
 * transaction together with its row in `schema_migrations`.
 */
export function openDatabase(dbPath: string, opts: { readonly?: boolean; migrations?: string } = {}): Db {
  if (dbPath !== ':memory:') {
    const dir = path.dirname(path.resolve(dbPath));
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!fs.existsSync(dbPath)) {
      // Create the file ourselves so it is never world-readable, not even for an instant.
      fs.closeSync(fs.openSync(dbPath, 'a', 0o600));
    }
    fs.chmodSync(dbPath, 0o600);
  }
  const db = new Database(dbPath, { readonly: opts.readonly ?? false });
  db.pragma('busy_timeout = 5000');
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash without losing a commit; only an OS crash or
    // power loss can lose the last transactions, which the look-back and uuid dedupe absorb.
    db.pragma('synchronous = NORMAL');
  }
  db.pragma('foreign_keys = ON');
  if (!opts.readonly) migrate(db, opts.migrations ?? migrationsDir());
  return db;
}

/** Applies pending migrations; returns the schema version afterwards. */
export function migrate(db: Db, dir: string): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version));
  const all = readMigrations(dir);
  const newest = all.length ? all[all.length - 1]!.version : 0;
  const maxApplied = applied.size ? Math.max(...applied) : 0;
  if (maxApplied > newest) {
    throw new Error(`the database is at schema version ${maxApplied}, newer than this program knows (${newest}); upgrade okta-token-watch.`);
  }
  for (const m of all) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    })();
  }
  return schemaVersion(db);
}

/** The highest applied migration version (0 for a new database). */
export function schemaVersion(db: Db): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null } | undefined;
  return row?.v ?? 0;
}
