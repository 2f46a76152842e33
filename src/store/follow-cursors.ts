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

/** Open watches in the order they started: the grouping is stable from tick to tick, so group cursors stay usable. */
export function openWatches(store: Store): OpenWatch[] {
  return store
    .prepared(
      `SELECT token_id AS tokenId, created_published AS createdPublished, followed_through AS followedThrough, watch_until AS watchUntil
         FROM token_watches WHERE closed_at IS NULL ORDER BY rowid`,
    )
    .all() as OpenWatch[];
}

/** The `next` link stored for a group of watched tokens, or null. */
export function followCursor(store: Store, groupKey: string): string | null {
  const row = store.prepared('SELECT next_url AS url FROM follow_cursors WHERE group_key = ?').get(groupKey) as { url: string } | undefined;
  return row?.url ?? null;
}

/** Stores a group's `next` link (call inside the page's transaction). */
export function setFollowCursor(store: Store, groupKey: string, nextUrl: string, now: Date): void {
  store
    .prepared(
      `INSERT INTO follow_cursors (group_key, next_url, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (group_key) DO UPDATE SET next_url = excluded.next_url, updated_at = excluded.updated_at`,
    )
    .run(groupKey, nextUrl, now.toISOString());
}

/**
 * Forgets the cursors of groups that no longer exist (a watch opened or closed regrouped the
 * tokens): a cursor is only valid for the exact filter it was issued for. Returns how many went.
 */
export function dropFollowCursorsExcept(store: Store, keep: readonly string[]): number {
  const rows = store.prepared('SELECT group_key AS key FROM follow_cursors').all() as Array<{ key: string }>;
  const kept = new Set(keep);
  const del = store.prepared('DELETE FROM follow_cursors WHERE group_key = ?');
  let n = 0;
  for (const r of rows) if (!kept.has(r.key)) n += del.run(r.key).changes;
  return n;
}

/**
 * Records that every event of these tokens persisted before `at` (Okta's clock) has been read (call
 * inside the page's transaction). Only ever moves forward: a fallback query that started further
 * back must not undo what a later tick established.
 */
export function setFollowedThrough(store: Store, tokenIds: readonly string[], at: Date): void {
  const iso = at.toISOString();
  const stmt = store.prepared(
    `UPDATE token_watches SET followed_through = ?
      WHERE token_id = ? AND (followed_through IS NULL OR followed_through < ?)`,
  );
  for (const id of tokenIds) stmt.run(iso, id, iso);
}

/** For `status`: open watches, and the last follow tick (null before any); watched is null on a database older than schema 11. */
export function followStatus(store: Store): { watched: number | null; lastTick: ReturnType<Store['lastTick']> } {
  // `status` opens the database read-only, without migrating: an older file has no watch table.
  const hasTable = store.prepared(`SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'token_watches'`).get() !== undefined;
  const watched = hasTable ? (store.prepared('SELECT COUNT(*) AS n FROM token_watches WHERE closed_at IS NULL').get() as { n: number }).n : null;
  return { watched, lastTick: store.lastTick('follow') };
}
