/**
 * The one seam between the store's SQL and a database engine. The store (store.ts and its
 * neighbours) writes its SQL once, with `?` placeholders, in the dialect both engines share; a
 * driver runs it: SQLite through better-sqlite3 (sqlite.ts, the embedded default) or PostgreSQL
 * through `pg` (pg.ts, for replicas). Where the engines differ, the store asks `engine`.
 *
 * Everything is asynchronous because `pg` is. SQLite answers at once underneath, so its cost is a
 * resolved promise per statement.
 */

/** A value a statement can bind. Booleans are not allowed: both schemas store flags as 0/1 integers. */
export type SqlParam = string | number | bigint | null;

/** What a write did. */
export interface RunResult {
  /** Rows inserted, updated or deleted. */
  changes: number;
}

/** The database engines a store can run on. */
export type Engine = 'sqlite' | 'postgres';

/**
 * A connection the store's SQL runs on: the database itself, or one open transaction.
 *
 * Integers come back as numbers on both engines (PostgreSQL's BIGINT and COUNT included; the
 * store's values stay far below 2^53). Column names come back as written in the SQL, so alias
 * camelCase names with AS "camelCase" quoted, or with lower-case names (PostgreSQL folds unquoted
 * identifiers to lower case).
 */
export interface SqlConn {
  readonly engine: Engine;
  get<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  run(sql: string, params?: readonly SqlParam[]): Promise<RunResult>;
  /**
   * Inside a transaction: runs fn as a SAVEPOINT. When fn throws, its writes alone are rolled back
   * and the error is rethrown; the enclosing transaction goes on (and, on PostgreSQL, stays usable).
   * Outside a transaction it throws.
   */
  savepoint<T>(fn: (sp: SqlConn) => Promise<T>): Promise<T>;
  /**
   * Inside a transaction: holds a lock named by `key` until the transaction ends, so two processes
   * (replicas) that check-then-write the same thing take turns. On SQLite a write transaction
   * already excludes every other writer, so this does nothing there.
   */
  lock(key: string): Promise<void>;
  /** True on a transaction's connection. */
  readonly inTransaction: boolean;
}

/** The database: a connection plus transactions, statements of many parts, and closing. */
export interface SqlDb extends SqlConn {
  /**
   * Runs fn in one transaction on a connection of its own (`tx`): all of its writes land, or none.
   * Every statement of the transaction MUST go through `tx` (or a Store bound to it): on SQLite a
   * statement on the database itself waits until the transaction ends, so using it inside fn would
   * wait forever; on PostgreSQL it would run outside the transaction.
   *
   * SQLite begins IMMEDIATE (the write lock at once, as before). PostgreSQL uses READ COMMITTED;
   * check-then-write code takes `tx.lock(key)` first.
   */
  transaction<T>(fn: (tx: SqlConn) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
  /**
   * A name for this database that is safe to log and show: the SQLite file's path, or PostgreSQL's
   * host, port and database (never a user or password).
   */
  readonly label: string;
  /** The database's own clock (PostgreSQL's now(); on SQLite, the process clock): leases are timed by it. */
  now(): Promise<Date>;
}

// SQLite result codes that say something about the row being written (a constraint, a trigger's
// RAISE, a value too big), not about the database: only these may be blamed on one event.
const SQLITE_ROW_ERRORS = /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/;
// PostgreSQL SQLSTATE classes that are about the row: 22 data exception (a bad value, a NUL in a
// string), 23 integrity constraint violation.
const PG_ROW_ERRORS = /^(22|23)[0-9A-Z]{3}$/;

/**
 * True when an error says the database itself cannot be written (disk full, I/O error, locked,
 * read-only, corrupt, connection lost): such an error must fail the whole batch, never be recorded
 * against one event. False for an error about one row, and for errors that are not the database's.
 */
export function isStorageFailure(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; name?: unknown; severity?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (e.name === 'SqliteError') return !SQLITE_ROW_ERRORS.test(code);
  // pg's DatabaseError carries a severity and a five-character SQLSTATE.
  if (typeof e.severity === 'string' && /^[0-9A-Z]{5}$/.test(code)) return !PG_ROW_ERRORS.test(code);
  // A connection that failed or was cut (ECONNREFUSED, ECONNRESET, a pg client error) is the database's too.
  if ((err as { otwStorage?: unknown }).otwStorage === true) return true;
  return false;
}
