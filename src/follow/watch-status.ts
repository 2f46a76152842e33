import { plainText } from '../notify/sanitize';
import type { Store } from '../store/store';
import { watchesOfAlerts } from '../store/watch-store';
import type { EventPlace, FirstUse, WatchSnapshot } from './followup';
import { watchSnapshot } from './watch';

/** What `status --alerts` shows of an alert's watch. */
export interface WatchStatus extends WatchSnapshot {
  /** Where and when the token was first used, from its first-use follow-up (null until then). */
  firstUse: Pick<FirstUse, 'published' | 'eventType' | 'place' | 'minutesAfterCreation'> | null;
}

/**
 * The watches of these alerts, keyed by alert id; an alert without a watch is absent. Read-only. A
 * database from before the watch tables (status never migrates) has none.
 */
export async function watchStatusOf(store: Store, alertIds: readonly string[]): Promise<Map<string, WatchStatus>> {
  const out = new Map<string, WatchStatus>();
  let rows;
  try {
    rows = await watchesOfAlerts(store, alertIds);
  } catch {
    return out;
  }
  for (const [alertId, w] of rows) {
    const first = await store.sql.get<{ payload: string }>('SELECT payload FROM followups WHERE key = ?', [`first-use:${w.tokenId}`]);
    const fu = first ? ((JSON.parse(first.payload) as { firstUse?: FirstUse }).firstUse ?? null) : null;
    out.set(alertId, {
      ...(await watchSnapshot(store, w)),
      firstUse: fu ? { published: fu.published, eventType: fu.eventType, place: fu.place, minutesAfterCreation: fu.minutesAfterCreation } : null,
    });
  }
  return out;
}

/**
 * One terminal line about a watch. Every value from an event goes through plainText (control and
 * bidi characters made visible, bounded); the rest is our own words.
 */
export function formatWatchLine(w: WatchStatus): string {
  const parts: string[] = [];
  if (w.watching) parts.push(`watching until ${plainText(w.until, 40)}`);
  else parts.push(`watch ended (${w.closed === 'window-ended' ? 'window over' : (w.closed ?? 'following turned off')})`);
  if (w.firstUse) {
    const when = w.firstUse.minutesAfterCreation !== null ? `${w.firstUse.minutesAfterCreation} min after creation` : plainText(w.firstUse.published, 40);
    const news = [w.firstUseNewCountry ? 'new country' : null, w.firstUseNewNetwork ? 'new network' : null].filter((x) => x !== null);
    parts.push(`first used ${when} from ${placeText(w.firstUse.place)}${news.length ? ` [${news.join(', ')}]` : ''}`);
  } else {
    parts.push('no use seen');
  }
  parts.push(`${w.events} event(s), ${w.sensitive} sensitive`);
  if (w.revokedAt !== null) {
    parts.push(w.revokedBy === 'expired' ? `expired at ${plainText(w.revokedAt, 40)}` : `revoked at ${plainText(w.revokedAt, 40)} by ${plainText(w.revokedBy ?? 'unknown', 80)}`);
  }
  return `watch: ${parts.join('; ')}`;
}

function placeText(p: EventPlace): string {
  const where = [p.city, p.country].filter((x): x is string => x !== null).map((x) => plainText(x, 60));
  const net = p.asNumber !== null ? `AS${p.asNumber}${p.asOrg ? ` ${plainText(p.asOrg, 60)}` : ''}` : p.isp ? plainText(p.isp, 60) : null;
  return `${plainText(p.ip ?? 'unknown IP', 45)}${where.length || net ? ` (${[...where, ...(net ? [net] : [])].join(', ')})` : ''}`;
}
