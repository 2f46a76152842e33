import path from 'node:path';
import { Pool, types as pgTypes, type PoolClient, type QueryResult } from 'pg';
import { ConfigError } from '../errors';
import { packageRoot } from '../package-root';
import type { RunResult, SqlConn, SqlDb, SqlParam } from './sql';
import { readMigrations } from './db';

/** Where PostgreSQL's migration files live: `migrations/postgres/`, numbered like SQLite's. */
export function postgresMigrationsDir(): string {
  return path.join(packageRoot(), 'migrations', 'postgres');
}

// int8 (COUNT, SUM of integers, BIGINT columns) and numeric (SUM of BIGINT) come back from pg as
// strings; the store's contract is numbers. Parsed on this driver's pools only, never through pg's
// global type table, which other code in the process may rely on.
// Booleans (EXISTS, comparisons in a select list) come back as 1/0, as SQLite gives them: the
// schema has no boolean columns, and code written against one engine reads the same on the other.
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const BOOL_OID = 16;
const toNumber = (v: string): number => Number(v);
const toFlag = (v: string): number => (v === 't' ? 1 : 0);
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if ((format ?? 'text') === 'text' && (oid === INT8_OID || oid === NUMERIC_OID)) return toNumber;
    if ((format ?? 'text') === 'text' && oid === BOOL_OID) return toFlag;
    return pgTypes.getTypeParser(oid, format as 'text');
  },
};

/** Connections one process keeps open at most: enough for a tick, deliveries and hooks at once. */
const DEFAULT_POOL_SIZE = 10;

/** The statement text with `?` placeholders turned into `$1, $2, ...`, cached per SQL text. */
const converted = new Map<string, string>();
const CONVERTED_MAX = 2000;

/**
 * `?` to `$n`, left to right, except inside '...' strings, "..." identifiers and comments, where a
 * question mark is just a character.
 */
export function toPgPlaceholders(sql: string): string {
  const cached = converted.get(sql);
  if (cached !== undefined) return cached;
  let out = '';
  let n = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      // '' (or "") inside is an escaped quote: the scan just leaves and re-enters the literal.
      const end = sql.indexOf(c, i + 1);
      const stop = end === -1 ? sql.length : end + 1;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '?') {
      out += `$${++n}`;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  if (converted.size >= CONVERTED_MAX) converted.clear();
  converted.set(sql, out);
  return out;
}

/**
 * Parameters as PostgreSQL takes them. A TEXT value cannot hold U+0000 and Okta's events are
 * attacker text: a NUL would fail the statement (and the whole page) on PostgreSQL while SQLite
 * stores it, so it is replaced with U+FFFD, the replacement character.
 */
function pgParams(params: readonly SqlParam[] | undefined): unknown[] {
  if (!params || params.length === 0) return [];
  return params.map((p) => (typeof p === 'string' && p.includes('\u0000') ? p.replace(/\u0000/g, '\uFFFD') : typeof p === 'bigint' ? p.toString() : p));
}

/** True for pg's server-side errors (a SQLSTATE and a severity): about a statement, not the link. */
function isServerError(err: unknown): boolean {
  return !!err && typeof err === 'object' && typeof (err as { severity?: unknown }).severity === 'string';
}

/**
 * An error from pg that is not the server's answer to a statement (refused, reset, timed out, the
 * connection ended) is the database's failure: marked so that isStorageFailure fails the batch.
 */
function markStorage(err: unknown): unknown {
  if (err && typeof err === 'object' && !isServerError(err)) {
    try {
      (err as { otwStorage?: boolean }).otwStorage = true;
    } catch {
      /* a frozen error: leave it */
    }
  } else if (!err || typeof err !== 'object') {
    return Object.assign(new Error(String(err)), { otwStorage: true });
  }
  return err;
}

type Queryable = Pick<PoolClient, 'query'> | Pool;

async function query(on: Queryable, sql: string, params?: readonly SqlParam[]): Promise<QueryResult> {
  try {
    return await (on as Pool).query(toPgPlaceholders(sql), pgParams(params));
  } catch (err) {
    throw markStorage(err);
  }
}

/** A `host:port/database` label from a URL: never the user or the password. */
export function pgLabel(url: string): string {
  try {
    const u = new URL(url);
    const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default database)';
    return `postgresql://${u.hostname || 'localhost'}:${u.port || '5432'}/${db}`;
  } catch {
    return 'postgresql (DATABASE_URL)';
  }
}

/**
 * The PostgreSQL driver: a bounded `pg.Pool`. Statements on the database itself take any free
 * connection; a transaction takes one connection for its whole life and gives it back when it ends.
 */
export class PgDb implements SqlDb {
  readonly engine = 'postgres' as const;
  readonly inTransaction = false;
  readonly label: string;
  readonly pool: Pool;

  constructor(url: string, opts: { poolSize?: number } = {}) {
    this.label = pgLabel(url);
    this.pool = new Pool({
      connectionString: url,
      application_name: 'okta-token-watch',
      max: opts.poolSize ?? DEFAULT_POOL_SIZE,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      types: TYPES,
    });
    // An idle connection that the server closes emits here; without a listener the process would
    // crash. The next statement on the pool gets a new connection or a storage failure.
    this.pool.on('error', () => undefined);
  }

  async get<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return (await query(this.pool, sql, params)).rows[0] as T | undefined;
  }

  async all<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    return (await query(this.pool, sql, params)).rows as T[];
  }

  async run(sql: string, params?: readonly SqlParam[]): Promise<RunResult> {
    return { changes: (await query(this.pool, sql, params)).rowCount ?? 0 };
  }

  savepoint<T>(): Promise<T> {
    return Promise.reject(new Error('savepoint() outside a transaction'));
  }

  async lock(): Promise<void> {
    throw new Error('lock() outside a transaction');
  }

  /** Several statements without parameters, sent as one simple query (pg runs them in order). */
  async exec(sql: string): Promise<void> {
    try {
      await this.pool.query(sql);
    } catch (err) {
      throw markStorage(err);
    }
  }

  /** The server's clock (clock_timestamp: the time now, not the start of a transaction). */
  async now(): Promise<Date> {
    const row = await this.get<{ now: Date }>('SELECT clock_timestamp() AS now');
    return row!.now;
  }

  /** A connection of the pool for a caller's own use (transactions, migrations); released by the caller. */
  async connect(): Promise<PoolClient> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw markStorage(err);
    }
    // A checked-out connection that the server cuts while no statement runs emits 'error'; without
    // a listener that would crash the process. The next statement on it fails and says so.
    const ignore = (): void => undefined;
    client.on('error', ignore);
    const release = client.release.bind(client);
    client.release = (err?: Error | boolean) => {
      client.removeListener('error', ignore);
      release(err);
    };
    return client;
  }

  async transaction<T>(fn: (tx: SqlConn) => Promise<T>): Promise<T> {
    const client = await this.connect();
    const tx = new PgTx(client);
    let broken: unknown;
    try {
      await query(client, 'BEGIN');
      try {
        const out = await fn(tx);
        await query(client, 'COMMIT');
        return out;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          // The connection is gone: the server rolls back on its own; the client must not be reused.
          broken = rollbackErr;
        }
        throw err;
      }
    } catch (err) {
      if (!broken && !isServerError(err) && (err as { otwStorage?: unknown })?.otwStorage === true) broken = err;
      throw err;
    } finally {
      tx.ended = true;
      client.release(broken instanceof Error ? broken : broken ? new Error('connection broken') : undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** One open transaction's connection. */
class PgTx implements SqlConn {
  readonly engine = 'postgres' as const;
  readonly inTransaction = true;
  ended = false;
  private depth = 0;

  constructor(private readonly client: PoolClient) {}

  private check(): void {
    if (this.ended) throw new Error('a statement ran on a transaction that has ended');
  }

  async get<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    this.check();
    return (await query(this.client, sql, params)).rows[0] as T | undefined;
  }

  async all<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    this.check();
    return (await query(this.client, sql, params)).rows as T[];
  }

  async run(sql: string, params?: readonly SqlParam[]): Promise<RunResult> {
    this.check();
    return { changes: (await query(this.client, sql, params)).rowCount ?? 0 };
  }

  /**
   * A SAVEPOINT: after a failed statement PostgreSQL refuses every further statement of the
   * transaction until it is rolled back, so ROLLBACK TO is what keeps the transaction usable.
   */
  async savepoint<T>(fn: (sp: SqlConn) => Promise<T>): Promise<T> {
    this.check();
    const name = `otw_sp_${++this.depth}`;
    try {
      await query(this.client, `SAVEPOINT ${name}`);
      try {
        const out = await fn(this);
        await query(this.client, `RELEASE SAVEPOINT ${name}`);
        return out;
      } catch (err) {
        try {
          await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`);
          await this.client.query(`RELEASE SAVEPOINT ${name}`);
        } catch {
          /* the connection itself failed: the transaction's end reports it */
        }
        throw err;
      }
    } finally {
      this.depth--;
    }
  }

  /**
   * An advisory lock for the rest of the transaction, keyed by a 64-bit hash of `key`: another
   * transaction asking for the same key waits here until this one commits or rolls back.
   */
  async lock(key: string): Promise<void> {
    this.check();
    await query(this.client, 'SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [key]);
  }
}

// The session-level advisory lock that migrations run under: two replicas starting together take
// turns, and the second finds the first one's migrations applied. (An arbitrary constant: 'otw' + 1.)
const MIGRATION_LOCK = 0x6f747701;

/**
 * Applies pending PostgreSQL migrations in order, each in its own transaction with its row in
 * `schema_migrations`, under an advisory lock held for the whole run; returns the schema version.
 * A database newer than this program is refused, as on SQLite.
 */
export async function migratePostgres(db: PgDb, dir: string = postgresMigrationsDir()): Promise<number> {
  const all = readMigrations(dir);
  const newest = all.length ? all[all.length - 1]!.version : 0;
  const client = await db.connect();
  let broken = false;
  try {
    await query(client, 'SELECT pg_advisory_lock(?)', [MIGRATION_LOCK]);
    try {
      await query(client, `CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TEXT NOT NULL
      )`);
      const applied = new Set((await query(client, 'SELECT version FROM schema_migrations')).rows.map((r: { version: number }) => Number(r.version)));
      const maxApplied = applied.size ? Math.max(...applied) : 0;
      if (maxApplied > newest) {
        throw new Error(`the database is at schema version ${maxApplied}, newer than this program knows (${newest}); upgrade okta-token-watch.`);
      }
      for (const m of all) {
        if (applied.has(m.version)) continue;
        await query(client, 'BEGIN');
        try {
          await client.query(m.sql).catch((err: unknown) => {
            throw Object.assign(markStorage(err) as Error, { migration: m.name });
          });
          await query(client, 'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, new Date().toISOString()]);
          await query(client, 'COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => (broken = true));
          throw err;
        }
      }
      return Math.max(maxApplied, newest);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => (broken = true));
    }
  } finally {
    client.release(broken);
  }
}

/** The highest applied migration version (0 for a new database). */
export async function postgresSchemaVersion(db: SqlConn): Promise<number> {
  const row = await db.get<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations");
  return row?.v ?? 0;
}

// SQLSTATEs at connection time that a restart cannot fix: the settings are wrong.
const SETUP_CAUSES: Record<string, string> = {
  '28P01': 'the password was refused',
  '28000': 'the server does not accept this user from here (pg_hba.conf)',
  '3D000': 'the database does not exist',
  '42501': 'the user may not use this database (permission denied)',
  ENOTFOUND: 'the host name does not resolve',
};

/**
 * Opens the PostgreSQL database of DATABASE_URL and applies pending migrations (`readonly`: none,
 * and a database behind this program is refused, for `status`). Every error names DATABASE_URL and
 * the safe label (host, port, database), never the URL itself: it may carry the password. Settings
 * a restart cannot fix (a refused password, a missing database) are ConfigErrors (exit 78); a
 * server that is down is a plain error, so the service manager retries.
 */
export async function openPostgres(url: string, opts: { readonly?: boolean; migrations?: string; poolSize?: number } = {}): Promise<PgDb> {
  const db = new PgDb(url, { poolSize: opts.poolSize });
  try {
    if (opts.readonly) {
      const all = readMigrations(opts.migrations ?? postgresMigrationsDir());
      const want = all.length ? all[all.length - 1]!.version : 0;
      const exists = await db.get<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
      const have = exists?.t ? await postgresSchemaVersion(db) : 0;
      if (have < want) {
        throw new ConfigError([`DATABASE_URL ${db.label} is at schema version ${have} and this program expects ${want}: run "okta-token-watch poll" (or start the daemon) once to upgrade it, then try again.`]);
      }
    } else {
      await migratePostgres(db, opts.migrations);
    }
    return db;
  } catch (err) {
    await db.close().catch(() => undefined);
    throw postgresError(url, db.label, err);
  }
}

/** One sentence naming DATABASE_URL, its safe label and the cause; the password never appears. */
export function postgresError(url: string, label: string, err: unknown): Error {
  if (err instanceof ConfigError) return err;
  const code = String((err as { code?: unknown })?.code ?? '');
  let message = err instanceof Error ? err.message : String(err);
  // Belt and braces: no part of the URL's credentials survives in a message.
  try {
    const u = new URL(url);
    for (const s of [u.password, decodeURIComponent(u.password), url]) if (s) message = message.split(s).join('[REDACTED]');
  } catch {
    message = message.split(url).join('[REDACTED]');
  }
  const cause = SETUP_CAUSES[code];
  if (cause) return new ConfigError([`DATABASE_URL ${label} cannot be used: ${cause}; fix DATABASE_URL or the server's settings.`]);
  const migration = (err as { migration?: unknown })?.migration;
  const out = new Error(`DATABASE_URL ${label} cannot be opened: ${migration ? `migration ${String(migration)} failed: ` : ''}${message}${code ? ` (${code})` : ''}.`);
  if ((err as { otwStorage?: unknown })?.otwStorage === true) Object.assign(out, { otwStorage: true });
  return out;
}
