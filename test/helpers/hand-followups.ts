import type { Alert } from '../../src/detect/alert';
import type { FollowUp, ResponseRecord } from '../../src/follow/followup';

/** A follow-up of `alert`, built by hand as the follow engine or the response code would (no id yet). */
export function followUpOf(alert: Alert, kind: FollowUp['kind'], extra: Partial<FollowUp> = {}): Omit<FollowUp, 'id'> {
  return {
    alertId: alert.id,
    kind,
    createdAt: '2026-11-28T12:30:00.000Z',
    token: { id: alert.token?.id ?? '00Tb1x2y3z4A5B6C7d8', name: alert.token?.name ?? null },
    prominent: false,
    signals: [],
    watch: { until: '2026-12-05T11:58:30.000Z', watching: true, firstUseAt: null, minutesToFirstUse: null, firstUseNewCountry: null, firstUseNewNetwork: null, events: 0, sensitive: 0, revokedAt: null, revokedBy: null, closed: null },
    ...extra,
  };
}

/** An analyst's response, as the audit table would record it. */
export function responseOf(action: ResponseRecord['action'], result: ResponseRecord['result'], extra: Partial<ResponseRecord> = {}): ResponseRecord {
  return { actionId: 1, action, by: { via: 'slack', id: 'U024BE7LH', name: 'sam.analyst' }, at: '2026-11-28T12:20:00.000Z', result, reason: null, error: null, ...extra };
}

/** A first use from somewhere (raw values, so tests can make them hostile). */
export function firstUseOf(s: string, signals: FollowUp['signals'] = []): Partial<FollowUp> {
  const place = { ip: s, city: s, country: s, asNumber: 64501, asOrg: s, isp: s, userAgent: s };
  return {
    prominent: signals.length > 0,
    signals,
    firstUse: { uuid: s, published: '2026-11-28T12:10:00.000Z', eventType: s, displayMessage: s, minutesAfterCreation: 11, place, creationPlace: { ...place, ip: '203.0.113.42' }, newCountry: signals.includes('new-country'), newNetwork: signals.includes('new-network') },
  };
}
