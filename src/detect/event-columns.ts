import type { OktaLogEvent } from '../okta/log-event';
import { integer, obj, pick, text, tokenTarget } from './fields';

/**
 * The columns the store keeps for an event, read with the same rules as the alert builder
 * (fields.ts): text or null, whole numbers or null, bounded. An event field of any JSON type (an
 * object where Okta sends text, a boolean login, a 1 MB string) becomes something SQLite can bind,
 * and the history queries (history.ts) look the event up by exactly what was stored.
 */
export interface EventColumns {
  published: string;
  eventType: string;
  actorId: string | null;
  actorLogin: string | null;
  country: string | null;
  asNumber: number | null;
  tokenId: string | null;
  tokenName: string | null;
  outcome: string | null;
}

/** Reads the stored columns of an event (or of anything: every field may be of any type). */
export function eventColumns(event: OktaLogEvent | unknown): EventColumns {
  const token = tokenTarget((obj(event) ?? {}) as OktaLogEvent);
  return {
    published: text(pick(event, 'published'), 100) ?? '',
    eventType: text(pick(event, 'eventType'), 200) ?? '',
    actorId: text(pick(event, 'actor', 'id'), 200),
    actorLogin: text(pick(event, 'actor', 'alternateId')),
    country: text(pick(event, 'client', 'geographicalContext', 'country')),
    asNumber: integer(pick(event, 'securityContext', 'asNumber')),
    tokenId: token?.id ?? null,
    tokenName: token?.name ?? null,
    outcome: text(pick(event, 'outcome', 'result'), 100),
  };
}
