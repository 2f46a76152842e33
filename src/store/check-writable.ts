import type { Store } from './store';

/** Thrown inside the probe's transaction so that it rolls back; never escapes `checkWritable`. */
class ProbeRollback extends Error {}

/**
 * Proves the database takes writes, and leaves nothing behind: one transaction creates a table and
 * writes a row, then is rolled back on purpose. `check` runs it, so a database the daemon could
 * open but not write (a read-only file or file system, a PostgreSQL role without the privileges
 * migrations need) is one FAIL line before `run` finds out at its first tick. Throws the database's
 * own error when the write is refused.
 *
 * Through `store.transaction`, not raw SQL, so it works on either engine: SQLite's BEGIN IMMEDIATE
 * (which alone fails on a read-only database) and PostgreSQL's transactional DDL both roll the
 * table back.
 */
export async function checkWritable(store: Store): Promise<void> {
  try {
    await store.transaction(async (tx) => {
      await tx.sql.run('CREATE TABLE otw_check_write (x INTEGER)');
      await tx.sql.run('INSERT INTO otw_check_write (x) VALUES (1)');
      throw new ProbeRollback();
    });
  } catch (err) {
    if (!(err instanceof ProbeRollback)) throw err;
  }
}
