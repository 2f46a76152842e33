import crypto from 'node:crypto';

/** A deterministic uuid for event number n (tests can tell which event an alert came from). */
export function uuidFor(n: number): string {
  const h = crypto.createHash('sha256').update(`event-${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-1${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A realistic system.api_token.create event, number n, published at `published`. */
export function tokenEvent(n: number, published: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    uuid: uuidFor(n),
    published,
    eventType: 'system.api_token.create',
    version: '0',
    severity: 'INFO',
    legacyEventType: 'api.token.create',
    displayMessage: 'Create API token',
    actor: { id: `00u${String(n).padStart(17, '0')}`, type: 'User', alternateId: `admin${n % 7}@example.com`, displayName: `Admin ${n % 7}` },
    client: {
      ipAddress: `198.51.100.${n % 250}`,
      zone: 'null',
      device: 'Computer',
      userAgent: { rawUserAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', os: 'Linux', browser: 'FIREFOX' },
      geographicalContext: { city: 'Amsterdam', state: 'North Holland', country: 'Netherlands', postalCode: '1012', geolocation: { lat: 52.37, lon: 4.89 } },
    },
    outcome: { result: 'SUCCESS', reason: null },
    target: [{ id: `00T${String(n).padStart(17, '0')}`, type: 'Token', alternateId: 'unknown', displayName: `token-${n}` }],
    transaction: { id: `tx${n}`, type: 'WEB', detail: {} },
    debugContext: { debugData: { requestUri: '/api/internal/tokens', networkConnection: 'ANYWHERE' } },
    securityContext: { asNumber: 64496, asOrg: 'example transit', isp: 'example isp', domain: 'example.net', isProxy: false },
    request: { ipChain: [] },
    ...overrides,
  };
}

/** Another event type that shares the log (the filter must keep it out). */
export function otherEvent(n: number, published: string): Record<string, unknown> {
  return { ...tokenEvent(n, published), eventType: 'user.session.start', target: [] };
}

/**
 * An `event_hook.*` event (written for this project, shaped like Okta's): `type` is the event type,
 * the target the event hook `hookId` named `hookName`.
 */
export function eventHookEvent(n: number, published: string, type: string, hookId: string, opts: { outcome?: unknown; hookName?: string } = {}): Record<string, unknown> {
  return {
    ...tokenEvent(n, published),
    eventType: type,
    legacyEventType: null,
    displayMessage: type === 'event_hook.delivery' ? 'Event hook delivery' : 'Event hook changed',
    outcome: opts.outcome === undefined ? { result: 'SUCCESS', reason: null } : opts.outcome,
    target: [{ id: hookId, type: 'EventHook', alternateId: 'unknown', displayName: opts.hookName ?? 'okta-token-watch' }],
    debugContext: { debugData: { requestUri: `/api/v1/eventHooks/${hookId}/lifecycle/deactivate` } },
  };
}
