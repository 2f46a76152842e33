import type { Alert } from '../../src/detect/alert';
import type { FollowUp, FollowUpKind, SensitiveAction, WatchSnapshot } from '../../src/follow/followup';

/**
 * Follow-ups built by hand, as the watch engine would store them: realistic values (documentation
 * addresses, AS64500/AS64511) and a hostile variant with one string in every field.
 */

const CREATED = '2026-11-28T11:58:30.000Z';

/** A watch snapshot after a first use 12 minutes after creation, from another network. */
export function watchAfterFirstUse(over: Partial<WatchSnapshot> = {}): WatchSnapshot {
  return {
    until: '2026-11-29T11:58:30.000Z',
    watching: true,
    firstUseAt: '2026-11-28T12:10:30.000Z',
    minutesToFirstUse: 12,
    firstUseNewCountry: false,
    firstUseNewNetwork: true,
    events: 3,
    sensitive: 0,
    revokedAt: null,
    revokedBy: null,
    closed: null,
    ...over,
  };
}

/** A follow-up of `alert` of the given kind (without its id: Store.insertFollowUp gives it one). */
export function followUpOf(alert: Alert, kind: FollowUpKind, over: Partial<FollowUp> = {}): Omit<FollowUp, 'id'> {
  const base = { alertId: alert.id, createdAt: '2026-11-28T12:11:00.000Z', token: { id: alert.token?.id ?? '00Tb1x2y3z4A5B6C7d8', name: alert.token?.name ?? null } };
  const creationPlace = { ip: '203.0.113.42', city: 'Amsterdam', country: 'Netherlands', asNumber: 64500, asOrg: 'Example Transit', isp: 'Example ISP', userAgent: 'Mozilla/5.0' };
  if (kind === 'first-use') {
    return {
      ...base,
      kind,
      prominent: true,
      signals: ['new-network'],
      firstUse: {
        uuid: 'aa11bb22-0000-4000-8000-000000000001',
        published: '2026-11-28T12:10:30.000Z',
        eventType: 'user.lifecycle.create',
        displayMessage: 'Create Okta user',
        minutesAfterCreation: 12,
        place: { ip: '198.51.100.7', city: 'Amsterdam', country: 'Netherlands', asNumber: 64511, asOrg: 'Other Hosting', isp: 'Other Hosting BV', userAgent: 'python-requests/2.31' },
        creationPlace,
        newCountry: false,
        newNetwork: true,
      },
      watch: watchAfterFirstUse(),
      ...over,
    };
  }
  if (kind === 'lifecycle') {
    return {
      ...base,
      kind,
      prominent: false,
      signals: [],
      lifecycle: {
        uuid: 'aa11bb22-0000-4000-8000-000000000002',
        published: '2026-11-28T13:00:00.000Z',
        eventType: 'system.api_token.revoke',
        change: 'revoked',
        actor: { id: '00u9z8y7x6W5V4U3t2s1', login: 'sam.secops@example.com', displayName: 'Sam Secops' },
        outcome: 'SUCCESS',
        network: null,
        place: { ...creationPlace, ip: '203.0.113.9' },
      },
      watch: watchAfterFirstUse({ watching: false, revokedAt: '2026-11-28T13:00:00.000Z', revokedBy: 'sam.secops@example.com', closed: 'revoked' }),
      ...over,
    };
  }
  const sensitive: SensitiveAction[] = [
    { category: 'admin-privilege', uuid: 'aa11bb22-0000-4000-8000-000000000003', published: '2026-11-28T12:20:00.000Z', eventType: 'user.account.privilege.grant', outcome: 'SUCCESS', target: 'mallory@example.com', displayMessage: 'Grant user privilege' },
  ];
  return {
    ...base,
    kind,
    prominent: false,
    signals: ['sensitive-actions'],
    digest: {
      reason: 'window-ended',
      windowStart: CREATED,
      windowEnd: '2026-11-29T11:58:30.000Z',
      total: 41,
      byType: [
        { eventType: 'user.lifecycle.create', count: 30 },
        { eventType: 'user.account.privilege.grant', count: 1 },
      ],
      typeCount: 2,
      sensitive,
      sensitiveCount: 1,
      firstUseAt: '2026-11-28T12:10:30.000Z',
      lastUseAt: '2026-11-28T18:00:00.000Z',
    },
    watch: watchAfterFirstUse({ watching: false, events: 41, sensitive: 1, closed: 'window-ended' }),
    ...over,
  };
}

/**
 * A follow-up with the string `s` in every string field, wrong JSON types in number fields, and
 * lists longer than any notifier shows: what a hostile token name, actor or event could make of it.
 */
export function hostileFollowUp(alert: Alert, kind: FollowUpKind, s: string): FollowUp {
  const odd = s as unknown as number;
  const place = { ip: s, city: s, country: s, asNumber: odd, asOrg: s, isp: s, userAgent: s };
  const f = followUpOf(alert, kind) as FollowUp;
  f.id = s;
  f.alertId = s;
  f.createdAt = s;
  f.token = { id: s, name: s };
  f.signals = [s as never, 'new-country', 'outside-range'];
  f.watch = { until: s, watching: true, firstUseAt: s, minutesToFirstUse: odd, firstUseNewCountry: true, firstUseNewNetwork: null, events: odd, sensitive: odd, revokedAt: s, revokedBy: s, closed: 'revoked' };
  if (kind === 'first-use') f.firstUse = { uuid: s, published: s, eventType: s, displayMessage: s, minutesAfterCreation: odd, place, creationPlace: place, newCountry: true, newNetwork: null };
  if (kind === 'lifecycle') {
    f.lifecycle = { uuid: s, published: s, eventType: s, change: s as never, actor: { id: s, login: s, displayName: s }, outcome: s, network: { connection: s, includedZones: Array(40).fill(s), excludedZones: [s] }, place };
  }
  if (kind === 'digest') {
    const action: SensitiveAction = { category: s as never, uuid: s, published: s, eventType: s, outcome: s, target: s, displayMessage: s };
    f.digest = { reason: s as never, windowStart: s, windowEnd: s, total: odd, byType: Array(40).fill({ eventType: s, count: odd }), typeCount: odd, sensitive: Array(60).fill(action), sensitiveCount: odd, firstUseAt: s, lastUseAt: s };
  }
  return f;
}
