import type { Store } from './store';

/** An open watch as the follow query needs it (token_watches, migration 011). */
export interface OpenWatch {
  tokenId: string;
  /** The creation event's published time (Okta's clock). */
  createdPublished: string;
  /** Every event of this token persisted before this time has been read (Okta's clock); null until a follow tick caught up. */
  followedThrough: string | null;
  watchUntil: string;
}

/**
 * Open watches in the order they started (token id breaks ties: the watches of one batch start at
 * the same instant): the grouping is stable from tick to tick, so group cursors stay usable.
 */
export async function openWatches(store: Store): Promise<OpenWatch[]> {
  return store.sql.all<OpenWatch>(
    `SELECT token_id AS "tokenId", created_published AS "createdPublished", followed_through AS "followedThrough", watch_until AS "watchUntil"
       FROM token_watches WHERE org = ? AND closed_at IS NULL ORDER BY started_at, token_id`,
    [store.org],
  );
}

/** The `next` link stored for a group of watched tokens, or null. */
export async function followCursor(store: Store, groupKey: string): Promise<string | null> {
  const row = await store.sql.get<{ url: string }>('SELECT next_url AS url FROM follow_cursors WHERE org = ? AND group_key = ?', [store.org, groupKey]);
  return row?.url ?? null;
}

/** Stores a group's `next` link (call inside the page's transaction). */
export async function setFollowCursor(store: Store, groupKey: string, nextUrl: string, now: Date): Promise<void> {
  await store.sql.run(
    `INSERT INTO follow_cursors (org, group_key, next_url, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (org, group_key) DO UPDATE SET next_url = excluded.next_url, updated_at = excluded.updated_at`,
    [store.org, groupKey, nextUrl, now.toISOString()],
  );
}

/**
 * Forgets the cursors of groups that no longer exist (a watch opened or closed regrouped the
 * tokens): a cursor is only valid for the exact filter it was issued for. Returns how many went.
 */
export async function dropFollowCursorsExcept(store: Store, keep: readonly string[]): Promise<number> {
  const rows = await store.sql.all<{ key: string }>('SELECT group_key AS key FROM follow_cursors WHERE org = ?', [store.org]);
  const kept = new Set(keep);
  let n = 0;
  for (const r of rows) if (!kept.has(r.key)) n += (await store.sql.run('DELETE FROM follow_cursors WHERE org = ? AND group_key = ?', [store.org, r.key])).changes;
  return n;
}

/**
 * Records that every event of these tokens persisted before `at` (Okta's clock) has been read (call
 * inside the page's transaction). Only ever moves forward: a fallback query that started further
 * back must not undo what a later tick established.
 */
export async function setFollowedThrough(store: Store, tokenIds: readonly string[], at: Date): Promise<void> {
  const iso = at.toISOString();
  for (const id of tokenIds) {
    await store.sql.run(
      `UPDATE token_watches SET followed_through = ?
        WHERE token_id = ? AND (followed_through IS NULL OR followed_through < ?)`,
      [iso, id, iso],
    );
  }
}

/** For `status`: open watches, and the last follow tick (null before any). */
export async function followStatus(store: Store): Promise<{ watched: number | null; lastTick: Awaited<ReturnType<Store['lastTick']>> }> {
  // `status` refuses a database older than this program (openDatabase's read-only check), so the table is there.
  const watched = Number((await store.sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM token_watches WHERE org = ? AND closed_at IS NULL', [store.org]))?.n ?? 0);
  return { watched, lastTick: await store.lastTick('follow') };
}
