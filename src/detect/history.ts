import { API_TOKEN_CREATE, type OktaLogEvent } from '../okta/log-event';
import type { Store } from '../store/store';
import type { AlertHistory } from './alert';
import { eventColumns } from './event-columns';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * Counts stop here. Past it the number adds nothing for an analyst ("100 or more" is the story), and
 * an uncapped COUNT over a burst makes a catch-up of N events cost N^2 index steps.
 */
export const HISTORY_COUNT_CAP = 100;

/** The look-back of the per-actor facts: token creations in the 90 days before the event. */
export const HISTORY_WINDOW_DAYS = 90;

/**
 * "First seen" facts from the local store, for one event. Called inside the page's transaction
 * after the event row was inserted, so the event's own row is excluded by uuid. They describe only
 * what this database has seen (`since`); they raise an alert's prominence and never suppress it.
 * Every query runs on an index (events_actor_published, events_login_published, events_published,
 * events_first_seen). Returns null when the event's published time cannot be read.
 */
export async function computeHistory(store: Store, event: OktaLogEvent): Promise<AlertHistory | null> {
  const published = Date.parse(typeof event.published === 'string' ? event.published : '');
  if (!Number.isFinite(published)) return null;
  const at = new Date(published).toISOString();
  const uuid = String(event.uuid);
  // Exactly the values the store wrote for this event (store.insertEvent), whatever their JSON types.
  const c = eventColumns(event);

  // The actor as the store keys it: by id, or by login (case-insensitive) when the id is missing.
  const actor =
    c.actorId !== null && c.actorId !== ''
      ? { where: 'actor_id = ?', value: c.actorId }
      : c.actorLogin !== null && c.actorLogin !== ''
        ? // Case-insensitive as events_login_published is (COLLATE NOCASE on SQLite, lower() on PostgreSQL).
          { where: store.sql.engine === 'postgres' ? 'lower(actor_login) = lower(?)' : 'actor_login = ? COLLATE NOCASE', value: c.actorLogin }
        : null;

  let actorTokensLast90d = 0;
  let firstFromCountry: boolean | null = null;
  let firstFromAsn: boolean | null = null;
  if (actor) {
    const from = new Date(published - HISTORY_WINDOW_DAYS * DAY_MS).toISOString();
    actorTokensLast90d = Number(
      (await store.sql.get<{ n: number }>(
        `SELECT COUNT(*) AS n FROM (SELECT 1 AS x FROM events WHERE org = ? AND ${actor.where} AND published >= ? AND published <= ? AND uuid <> ? AND event_type = ? LIMIT ${HISTORY_COUNT_CAP}) capped`,
        [store.org, actor.value, from, at, uuid, API_TOKEN_CREATE],
      ))?.n ?? 0,
    );

    const country = c.country;
    if (country !== null && country !== '') {
      firstFromCountry = !(await store.sql.get(`SELECT 1 AS x FROM events WHERE org = ? AND ${actor.where} AND published <= ? AND uuid <> ? AND event_type = ? AND country = ? LIMIT 1`, [
        store.org,
        actor.value,
        at,
        uuid,
        API_TOKEN_CREATE,
        country,
      ]));
    }
    const asn = c.asNumber;
    if (asn !== null) {
      firstFromAsn = !(await store.sql.get(`SELECT 1 AS x FROM events WHERE org = ? AND ${actor.where} AND published <= ? AND uuid <> ? AND event_type = ? AND as_number = ? LIMIT 1`, [
        store.org,
        actor.value,
        at,
        uuid,
        API_TOKEN_CREATE,
        asn,
      ]));
    }
  }

  const burstSameHour = Number(
    (await store.sql.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM (SELECT 1 AS x FROM events WHERE org = ? AND published >= ? AND published <= ? AND uuid <> ? AND event_type = ? LIMIT ${HISTORY_COUNT_CAP}) capped`,
      [store.org, new Date(published - HOUR_MS).toISOString(), new Date(published + HOUR_MS).toISOString(), uuid, API_TOKEN_CREATE],
    ))?.n ?? 0,
  );
  const since = (await store.sql.get<{ t: string | null }>('SELECT MIN(first_seen_at) AS t FROM events WHERE org = ?', [store.org]))?.t ?? null;

  return { actorTokensLast90d, firstFromCountry, firstFromAsn, burstSameHour, since };
}
