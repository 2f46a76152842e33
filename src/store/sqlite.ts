import Database, { type Statement } from 'better-sqlite3';
import type { RunResult, SqlConn, SqlDb, SqlParam } from './sql';

/**
 * The SQLite driver (better-sqlite3, synchronous underneath). One connection per process; a
 * transaction holds it: statements on the database itself wait until the transaction ends, so
 * nothing another part of the program does in between (a delivery pass, a hook request) can land
 * inside it or be rolled back with it.
 */
export class SqliteDb implements SqlDb {
  readonly engine = 'sqlite' as const;
  readonly inTransaction = false;
  private readonly statements = new Map<string, Statement>();
  /** The transaction holding the connection, resolved when it ends; null when free. */
  private busy: Promise<void> | null = null;

  constructor(
    readonly db: Database.Database,
    readonly label: string = db.name,
  ) {}

  /**
   * The prepared statement for this SQL, prepared once per connection: a page of 1,000 events runs
   * thousands of statements, and preparing each time cost more than running it.
   */
  prepared(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }


  getSync<T>(sql: string, params: readonly SqlParam[] = []): T | undefined {
    return this.prepared(sql).get(...params) as T | undefined;
  }

  allSync<T>(sql: string, params: readonly SqlParam[] = []): T[] {
    return this.prepared(sql).all(...params) as T[];
  }

  runSync(sql: string, params: readonly SqlParam[] = []): RunResult {
    return { changes: this.prepared(sql).run(...params).changes };
  }

  async get<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    // Checked again after every wait and used at once, with no await in between: a transaction
    // that began meanwhile is waited for too.
    while (this.busy) await this.busy;
    return this.getSync<T>(sql, params);
  }

  async all<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    // Checked again after every wait and used at once, with no await in between: a transaction
    // that began meanwhile is waited for too.
    while (this.busy) await this.busy;
    return this.allSync<T>(sql, params);
  }

  async run(sql: string, params?: readonly SqlParam[]): Promise<RunResult> {
    // Checked again after every wait and used at once, with no await in between: a transaction
    // that began meanwhile is waited for too.
    while (this.busy) await this.busy;
    return this.runSync(sql, params);
  }

  savepoint<T>(): Promise<T> {
    return Promise.reject(new Error('savepoint() outside a transaction'));
  }

  async lock(): Promise<void> {
    throw new Error('lock() outside a transaction');
  }

  async exec(sql: string): Promise<void> {
    // Checked again after every wait and used at once, with no await in between: a transaction
    // that began meanwhile is waited for too.
    while (this.busy) await this.busy;
    this.db.exec(sql);
  }

  async now(): Promise<Date> {
    return new Date();
  }

  async transaction<T>(fn: (tx: SqlConn) => Promise<T>): Promise<T> {
    // The last check and the claim below run with no await between them, so two transactions
    // started at once take turns instead of both beginning on the one connection.
    while (this.busy) await this.busy;
    let release!: () => void;
    this.busy = new Promise<void>((r) => (release = r));
    const tx = new SqliteTx(this);
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(tx);
        this.db.exec('COMMIT');
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      tx.ended = true;
      this.busy = null;
      release();
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** One open transaction's connection. */
class SqliteTx implements SqlConn {
  readonly engine = 'sqlite' as const;
  readonly inTransaction = true;
  ended = false;
  private depth = 0;

  constructor(private readonly owner: SqliteDb) {}

  private check(): void {
    if (this.ended) throw new Error('a statement ran on a transaction that has ended');
  }

  async get<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    this.check();
    return this.owner.getSync<T>(sql, params);
  }

  async all<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    this.check();
    return this.owner.allSync<T>(sql, params);
  }

  async run(sql: string, params?: readonly SqlParam[]): Promise<RunResult> {
    this.check();
    return this.owner.runSync(sql, params);
  }

  async savepoint<T>(fn: (sp: SqlConn) => Promise<T>): Promise<T> {
    this.check();
    const name = `otw_sp_${++this.depth}`;
    // Prepared once per name: ingest opens one savepoint per event, and parsing each costs more than running it.
    this.owner.prepared(`SAVEPOINT ${name}`).run();
    try {
      const out = await fn(this);
      this.owner.prepared(`RELEASE ${name}`).run();
      return out;
    } catch (err) {
      // A failure of the database itself may have ended the transaction already.
      if (this.owner.db.inTransaction) this.owner.db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      throw err;
    } finally {
      this.depth--;
    }
  }

  /** BEGIN IMMEDIATE already holds SQLite's one write lock. */
  async lock(): Promise<void> {
    this.check();
  }
}
