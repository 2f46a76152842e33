import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../errors';
import { packageRoot } from '../package-root';

/** The SQLite handle type used across the store. */
export type Db = Database.Database;

/** Where SQLite's migration files live: `migrations/sqlite/` at the package root (PostgreSQL's are in `migrations/postgres/`). */
export function migrationsDir(): string {
  return path.join(packageRoot(), 'migrations', 'sqlite');
}

/** A migration file, `NNN_name.sql`. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The migration files of one engine's directory, in order; two files with one version are refused. */
export function readMigrations(dir: string): Migration[] {
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
 *
 * A path that cannot be used (permission, a file in the way, a read-only file system, not a
 * database) throws a ConfigError naming DB_PATH and the cause: a restart cannot fix it, so the
 * daemon exits 78 instead of being restarted forever. `readonly` opens an existing file without
 * creating, migrating or chmod-ing anything (for `status`).
 */
export function openDatabase(dbPath: string, opts: { readonly?: boolean; migrations?: string } = {}): Db {
  if (opts.readonly) return openReadOnly(dbPath);
  let db: Db | undefined;
  try {
    if (dbPath !== ':memory:') {
      makeDirs(path.dirname(path.resolve(dbPath)));
      prepareDbFile(dbPath);
    }
    db = new Database(dbPath);
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash without losing a commit; only an OS crash or
    // power loss can lose the last transactions, which the look-back and uuid dedupe absorb.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, opts.migrations ?? migrationsDir());
    return db;
  } catch (err) {
    db?.close();
    throw dbPathError(dbPath, err);
  }
}

/**
 * Makes sure DB_PATH is a regular file of mode 0600, creating it if needed. Never follows a
 * symbolic link and never changes anything that is not a regular file: a DB_PATH that names
 * /dev/null, a directory or a link to someone else's file is refused before it is touched.
 */
function prepareDbFile(dbPath: string): void {
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(dbPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (st?.isSymbolicLink()) throw Object.assign(new Error(`${dbPath} is a symbolic link`), { code: 'ESYMLINK' });
  if (st?.isDirectory()) throw Object.assign(new Error(`${dbPath} is a directory`), { code: 'EISDIR' });
  if (st && !st.isFile()) throw Object.assign(new Error(`${dbPath} is not a regular file`), { code: 'ENOTREG' });
  // Created here so it is never world-readable, not even for an instant; O_NOFOLLOW so a link
  // swapped in since the lstat is not followed.
  const flags = st ? fs.constants.O_RDWR | fs.constants.O_NOFOLLOW : fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
  const fd = fs.openSync(dbPath, flags, 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Creates the missing directories above the database, top down, each with mode 0700. Not
 * `mkdirSync({ recursive: true })`: on some paths (under /proc, say) Node's recursive mkdir retries
 * forever instead of failing.
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) fs.mkdirSync(d, { mode: 0o700 });
}

/**
 * A read-only handle on an existing database. A WAL database needs its `-shm` file; when the
 * daemon closed cleanly that file is gone and a read-only directory cannot get a new one, so
 * SQLite refuses to open. Then the file (and a `-wal` left by a crash) is read from a private
 * copy instead: the original is never written, locked or chmod-ed.
 */
function openReadOnly(dbPath: string): Db {
  try {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      return requireCurrentSchema(dbPath, db);
    } catch (err) {
      db.close();
      throw err;
    }
  } catch (err) {
    if (err instanceof SchemaBehindError) throw err;
    const code = String((err as { code?: string }).code ?? '');
    if (!(code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_READONLY')) || !fs.existsSync(dbPath)) throw dbPathError(dbPath, err);
  }
  const copyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-status-'));
  try {
    const copy = path.join(copyDir, 'db.sqlite');
    fs.copyFileSync(dbPath, copy);
    if (fs.existsSync(`${dbPath}-wal`)) fs.copyFileSync(`${dbPath}-wal`, `${copy}-wal`);
    const db = new Database(copy, { readonly: true, fileMustExist: true });
    try {
      return requireCurrentSchema(dbPath, db);
    } catch (err) {
      db.close();
      throw err;
    }
  } catch (err) {
    if (err instanceof SchemaBehindError) throw err;
    throw dbPathError(dbPath, err);
  } finally {
    // The open handle keeps the copy alive on Linux; nothing is left behind.
    fs.rmSync(copyDir, { recursive: true, force: true });
  }
}

/** A read-only database older than this program: its queries would fail on missing columns. */
class SchemaBehindError extends Error {}

/** The handle, when the database has every migration this program ships (read-only: none is applied). */
function requireCurrentSchema(dbPath: string, db: Db): Db {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get() !== undefined;
  const have = hasTable ? schemaVersion(db) : 0;
  const all = readMigrations(migrationsDir());
  const want = all.length ? all[all.length - 1]!.version : 0;
  if (have < want) {
    throw new SchemaBehindError(`DB_PATH ${dbPath} is at schema version ${have} and this program expects ${want}: run "okta-token-watch poll" (or start the daemon) once to upgrade it, then try again.`);
  }
  return db;
}

// Causes a restart will not fix: reported as configuration errors (exit 78).
const SETUP_CAUSES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  EEXIST: 'a file is in the way of its directory',
  ENOTDIR: 'a file is in the way of its directory',
  EISDIR: 'it is a directory, and DB_PATH names the database file itself (for example DIRECTORY/okta-token-watch.sqlite)',
  ENOENT: 'a directory on its path cannot be created there',
  ESYMLINK: 'it is a symbolic link, which this program does not follow (name the file itself)',
  ENOTREG: 'it is not a regular file (a device, socket or pipe)',
  ELOOP: 'a symbolic link loop is in the way',
  ENAMETOOLONG: 'the path is too long',
  SQLITE_READONLY: 'the database or its directory is read-only for this user',
  SQLITE_READONLY_DIRECTORY: 'the database directory is read-only for this user',
  SQLITE_CANTOPEN: 'SQLite cannot open the file (it needs write access to the directory for the WAL files)',
  SQLITE_NOTADB: 'the file is not a SQLite database',
  SQLITE_CORRUPT: 'the database file is corrupt',
  SQLITE_PERM: 'permission denied',
  SQLITE_AUTH: 'permission denied',
};

/** The nearest ancestor of the database's directory that exists but is not a directory. */
function fileInTheWay(dbPath: string): string | null {
  for (let p = path.dirname(path.resolve(dbPath)); p !== path.dirname(p); p = path.dirname(p)) {
    try {
      if (!fs.statSync(p).isDirectory()) return p;
    } catch {
      /* missing or unreadable: look further up */
    }
  }
  return null;
}

/**
 * One sentence naming DB_PATH and the cause. The path is shown (it is not a secret); for a file in
 * the way, the path of the file that blocks.
 */
export function dbPathError(dbPath: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : '';
  const base = code.startsWith('SQLITE_READONLY') && !(code in SETUP_CAUSES) ? 'SQLITE_READONLY' : code;
  const cause = SETUP_CAUSES[base];
  const blocker = code === 'EEXIST' || code === 'ENOTDIR' ? fileInTheWay(dbPath) : null;
  const where = blocker ? `: ${blocker} is not a directory` : e?.path && e.path !== dbPath ? ` (${e.syscall ?? 'at'} ${e.path})` : '';
  if (cause) {
    const fix = base === 'EEXIST' || base === 'ENOTDIR' ? 'move the file or choose another DB_PATH' : base === 'EISDIR' || base === 'ENOENT' || base === 'ESYMLINK' || base === 'ENOTREG' ? 'choose another DB_PATH' : base === 'SQLITE_NOTADB' || base === 'SQLITE_CORRUPT' ? 'restore it from a backup or choose another DB_PATH' : 'give the user this program runs as write access to the directory, or choose another DB_PATH';
    return new ConfigError([`DB_PATH ${dbPath} cannot be used: ${cause}${where}; ${fix}.`]);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`DB_PATH ${dbPath} cannot be opened: ${message}${code ? ` (${code})` : ''}.`);
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
