import type { Store } from './store';

/** One row of token_watches, with the alert's id (`otw-<uuid>`). */
export interface WatchRow {
  tokenId: string;
  /** The alert's row id (alerts.id). */
  alertRowId: number;
  /** The alert's id, `otw-<event uuid>`. */
  alertId: string;
  tokenName: string | null;
  createdPublished: string;
  watchUntil: string;
  startedAt: string;
  followedThrough: string | null;
  firstUseUuid: string | null;
  firstUseAt: string | null;
  lastUseAt: string | null;
  events: number;
  sensitive: number;
  revokedAt: string | null;
  revokedBy: string | null;
  closedAt: string | null;
  closeReason: 'window-ended' | 'revoked' | 'expired' | 'off' | null;
}

const WATCH_COLUMNS = `w.token_id AS "tokenId", w.alert_id AS "alertRowId", a.alert_id AS "alertId", w.token_name AS "tokenName",
  w.created_published AS "createdPublished", w.watch_until AS "watchUntil", w.started_at AS "startedAt",
  w.followed_through AS "followedThrough", w.first_use_uuid AS "firstUseUuid", w.first_use_at AS "firstUseAt",
  w.last_use_at AS "lastUseAt", w.events, w.sensitive, w.revoked_at AS "revokedAt", w.revoked_by AS "revokedBy",
  w.closed_at AS "closedAt", w.close_reason AS "closeReason"`;


/** Starts a watch; false when the token is watched already (a second alert never restarts it). */
export async function insertWatch(
  store: Store,
  w: { tokenId: string; alertRowId: number; tokenName: string | null; createdPublished: string; watchUntil: string; now: Date },
): Promise<boolean> {
  const info = await store.sql.run(
    `INSERT INTO token_watches (org, token_id, alert_id, token_name, created_published, watch_until, started_at)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    [store.org, w.tokenId, w.alertRowId, w.tokenName, w.createdPublished, w.watchUntil, w.now.toISOString()],
  );
  return info.changes === 1;
}

/** The watch of a token (open or closed), or null. */
export async function watchOf(store: Store, tokenId: string): Promise<WatchRow | null> {
  return (await store.sql.get<WatchRow>(`SELECT ${WATCH_COLUMNS} FROM token_watches w JOIN alerts a ON a.id = w.alert_id WHERE w.org = ? AND w.token_id = ?`, [store.org, tokenId])) ?? null;
}

/** True when this token has a watch, open or closed (one indexed lookup: it runs for every new event that names a token). */
export async function hasWatch(store: Store, tokenId: string): Promise<boolean> {
  return (await store.sql.get('SELECT 1 AS x FROM token_watches WHERE org = ? AND token_id = ?', [store.org, tokenId])) !== undefined;
}

/** Open watches, oldest first. */
export async function openWatches(store: Store): Promise<WatchRow[]> {
  return store.sql.all<WatchRow>(`SELECT ${WATCH_COLUMNS} FROM token_watches w JOIN alerts a ON a.id = w.alert_id WHERE w.org = ? AND w.closed_at IS NULL ORDER BY w.started_at, w.token_id`, [store.org]);
}

/** The watches of these alerts, keyed by alert id (`status --alerts`). */
export async function watchesOfAlerts(store: Store, alertIds: readonly string[]): Promise<Map<string, WatchRow>> {
  const out = new Map<string, WatchRow>();
  // In slices: a statement binds a bounded number of parameters.
  for (let i = 0; i < alertIds.length; i += 500) {
    const slice = alertIds.slice(i, i + 500);
    const rows = await store.sql.all<WatchRow>(
      `SELECT ${WATCH_COLUMNS} FROM token_watches w JOIN alerts a ON a.id = w.alert_id WHERE a.alert_id IN (${slice.map(() => '?').join(', ')})`,
      slice,
    );
    for (const r of rows) out.set(r.alertId, r);
  }
  return out;
}

/**
 * Records one event of a watched token and bumps the watch's counters; false when the event was
 * recorded already. The first event recorded is the first use.
 */
export async function insertActivity(
  store: Store,
  a: { eventUuid: string; tokenId: string; published: string; eventType: string; sensitive: string | null; timed?: boolean },
): Promise<boolean> {
  const inserted =
    (
      await store.sql.run('INSERT INTO token_activity (org, event_uuid, token_id, published, event_type, sensitive) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', [
        store.org,
        a.eventUuid,
        a.tokenId,
        a.published,
        a.eventType,
        a.sensitive,
      ])
    ).changes === 1;
  if (!inserted) return false;
  await store.sql.run(
    `UPDATE token_watches SET events = events + 1, sensitive = sensitive + ?,
       first_use_uuid = COALESCE(first_use_uuid, ?), first_use_at = COALESCE(first_use_at, ?),
       last_use_at = CASE WHEN last_use_at IS NULL OR last_use_at < ? THEN ? ELSE last_use_at END
     WHERE org = ? AND token_id = ?`,
    // An event without a readable time of its own counts, but cannot be the first or last use.
    [a.sensitive === null ? 0 : 1, a.timed === false ? null : a.eventUuid, a.timed === false ? null : a.published, a.timed === false ? '' : a.published, a.timed === false ? null : a.published, store.org, a.tokenId],
  );
  return true;
}

/** Records who revoked the token and when (the first revoke wins: a token is revoked once). */
export async function setRevoked(store: Store, tokenId: string, at: string, by: string | null): Promise<void> {
  await store.sql.run('UPDATE token_watches SET revoked_at = ?, revoked_by = ? WHERE org = ? AND token_id = ? AND revoked_at IS NULL', [at, by, store.org, tokenId]);
}

/** Closes an open watch; false when it was closed already. */
export async function closeWatch(store: Store, tokenId: string, reason: 'window-ended' | 'revoked' | 'expired' | 'off', now: Date): Promise<boolean> {
  const info = await store.sql.run('UPDATE token_watches SET closed_at = ?, close_reason = ? WHERE org = ? AND token_id = ? AND closed_at IS NULL', [now.toISOString(), reason, store.org, tokenId]);
  return info.changes === 1;
}

/** The token's activity counted by event type, most first, bounded; with the number of types. */
export async function activityByType(store: Store, tokenId: string, limit: number): Promise<{ byType: Array<{ eventType: string; count: number }>; typeCount: number }> {
  const byType = await store.sql.all<{ eventType: string; count: number }>(
    'SELECT event_type AS "eventType", COUNT(*) AS count FROM token_activity WHERE org = ? AND token_id = ? GROUP BY event_type ORDER BY count DESC, event_type LIMIT ?',
    [store.org, tokenId, limit],
  );
  const typeCount = Number((await store.sql.get<{ n: number }>('SELECT COUNT(DISTINCT event_type) AS n FROM token_activity WHERE org = ? AND token_id = ?', [store.org, tokenId]))?.n ?? 0);
  return { byType: byType.map((r) => ({ eventType: r.eventType, count: Number(r.count) })), typeCount };
}

/** The token's sensitive actions, oldest first, bounded, with the event's stored outcome and raw JSON. */
export async function sensitiveActivity(
  store: Store,
  tokenId: string,
  limit: number,
): Promise<{ rows: Array<{ uuid: string; published: string; eventType: string; category: string; outcome: string | null; raw: string | null }>; count: number }> {
  const rows = await store.sql.all<{ uuid: string; published: string; eventType: string; category: string; outcome: string | null; raw: string | null }>(
    `SELECT t.event_uuid AS uuid, t.published, t.event_type AS "eventType", t.sensitive AS category, e.outcome, e.raw
       FROM token_activity t LEFT JOIN events e ON e.uuid = t.event_uuid
      WHERE t.org = ? AND t.token_id = ? AND t.sensitive IS NOT NULL ORDER BY t.published, t.event_uuid LIMIT ?`,
    [store.org, tokenId, limit],
  );
  const count = Number((await store.sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM token_activity WHERE org = ? AND token_id = ? AND sensitive IS NOT NULL', [store.org, tokenId]))?.n ?? 0);
  return { rows, count };
}

/**
 * The alert this program raised on the token's creation, or null: the watch's alert when there is
 * one, else the newest alert on a `system.api_token.create` event for this token (a creation that
 * started no watch: FOLLOW_WINDOW 0, or not a success). Successful creations first.
 */
export async function creationAlertOf(store: Store, tokenId: string): Promise<{ rowId: number; alertId: string } | null> {
  const watched = await store.sql.get<{ rowId: number; alertId: string }>(
    'SELECT a.id AS "rowId", a.alert_id AS "alertId" FROM token_watches w JOIN alerts a ON a.id = w.alert_id WHERE w.org = ? AND w.token_id = ?',
    [store.org, tokenId],
  );
  if (watched) return watched;
  const row = await store.sql.get<{ rowId: number; alertId: string }>(
    // events_token_id (migration 011) finds the token's events; each has at most one alert.
    `SELECT a.id AS "rowId", a.alert_id AS "alertId" FROM events e JOIN alerts a ON a.event_uuid = e.uuid
      WHERE e.org = ? AND e.event_type = 'system.api_token.create' AND e.token_id = ?
      ORDER BY CASE WHEN e.outcome = 'SUCCESS' THEN 0 ELSE 1 END, a.id DESC LIMIT 1`,
    [store.org, tokenId],
  );
  return row ?? null;
}
