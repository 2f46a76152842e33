import crypto from 'node:crypto';
import path from 'node:path';
import { packageRoot } from '../package-root';

/**
 * The demo's story: realistic system.api_token.create events, written for this project.
 * Different actors, places and outcomes; one hostile token name; one from a Terraform service
 * account that the example exceptions file suppresses; one persisted late; one pushed by the event
 * hook, and one made after the hook was switched off.
 */
export interface DemoEvent {
  event: Record<string, unknown>;
  /** Shown next to the result in the demo output. */
  note: string;
  /** The token's current state served by the simulator's /api/v1/api-tokens/{id}. */
  tokenState?: Record<string, unknown>;
}

function uuid(n: number): string {
  return `d3m0${String(n).padStart(4, '0')}-7a11-4c0e-9b1d-0000000000${String(n).padStart(2, '0')}`;
}

interface Spec {
  n: number;
  minutesAgo: number;
  actor: { id: string; login: string; name: string; type?: string };
  token: { id: string; name: string } | null;
  outcome: { result: string; reason: string | null };
  ip: string;
  geo: { city: string; state: string; country: string; lat: number; lon: number } | null;
  asn: { number: number; org: string; isp: string; domain: string; proxy: boolean } | null;
  ua: { raw: string; browser: string; os: string } | null;
  via: 'console' | 'api';
  createdByToken?: string;
  zone?: string;
  network?: { connection: string; include?: string[] };
}

function build(s: Spec, now: number): Record<string, unknown> {
  return {
    uuid: uuid(s.n),
    published: new Date(now - s.minutesAgo * 60_000).toISOString(),
    eventType: 'system.api_token.create',
    version: '0',
    severity: 'INFO',
    legacyEventType: 'api.token.create',
    displayMessage: 'Create API token',
    actor: { id: s.actor.id, type: s.actor.type ?? 'User', alternateId: s.actor.login, displayName: s.actor.name, detailEntry: null },
    client: {
      ipAddress: s.ip,
      zone: s.zone ?? 'null',
      device: 'Computer',
      id: null,
      userAgent: s.ua ? { rawUserAgent: s.ua.raw, browser: s.ua.browser, os: s.ua.os } : null,
      geographicalContext: s.geo
        ? { city: s.geo.city, state: s.geo.state, country: s.geo.country, postalCode: null, geolocation: { lat: s.geo.lat, lon: s.geo.lon } }
        : null,
    },
    outcome: s.outcome,
    target: s.token ? [{ id: s.token.id, type: 'Token', alternateId: 'unknown', displayName: s.token.name, detailEntry: null }] : [],
    transaction: { id: `Wq${s.n}demoTx`, type: 'WEB', detail: s.createdByToken ? { requestApiTokenId: s.createdByToken } : {} },
    debugContext: {
      debugData: {
        requestId: `Wq${s.n}demoReq`,
        requestUri: s.via === 'console' ? '/api/internal/tokens' : '/api/v1/api-tokens',
        url: s.via === 'console' ? '/api/internal/tokens?' : '/api/v1/api-tokens?',
        ...(s.network ? { networkConnection: s.network.connection, includedNetworkZones: s.network.include ?? [] } : {}),
      },
    },
    authenticationContext: { authenticationStep: 0, externalSessionId: `102demo${s.n}` },
    securityContext: s.asn ? { asNumber: s.asn.number, asOrg: s.asn.org, isp: s.asn.isp, domain: s.asn.domain, isProxy: s.asn.proxy } : { asNumber: null, asOrg: null, isp: null, domain: null, isProxy: null },
    request: { ipChain: [{ ip: s.ip, geographicalContext: s.geo, version: 'V4', source: null }] },
  };
}

const FIREFOX = { raw: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.6; rv:132.0) Gecko/20100101 Firefox/132.0', browser: 'FIREFOX', os: 'Mac OS X' };
const CHROME = { raw: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', browser: 'CHROME', os: 'Windows 10' };

/** The first batch, persisted before the first tick. */
export function demoBatch1(now: number): DemoEvent[] {
  return [
    {
      note: 'an admin creating a token in the Admin Console, from their usual place',
      event: build(
        {
          n: 1, minutesAgo: 4,
          actor: { id: '00u1a2b3c4d5e6f7g8h9', login: 'maria.jensen@example.com', name: 'Maria Jensen' },
          token: { id: '00Tdemo0000000000001', name: 'SCIM provisioning for HRIS' },
          outcome: { result: 'SUCCESS', reason: null },
          ip: '203.0.113.24', geo: { city: 'Copenhagen', state: 'Capital Region', country: 'Denmark', lat: 55.68, lon: 12.57 },
          asn: { number: 64500, org: 'example nordic isp', isp: 'Example Nordic', domain: 'example-nordic.net', proxy: false },
          ua: FIREFOX, via: 'console', network: { connection: 'ZONE', include: ['Corporate HQ'] },
        },
        now,
      ),
      tokenState: { id: '00Tdemo0000000000001', name: 'SCIM provisioning for HRIS', userId: '00u1a2b3c4d5e6f7g8h9', clientName: 'Okta Admin Console', created: new Date(now - 4 * 60_000).toISOString(), expiresAt: new Date(now + 30 * 86_400_000).toISOString(), network: { connection: 'ZONE', include: ['Corporate HQ'], exclude: [] } },
    },
    {
      note: 'a token created from an anonymising proxy abroad, through the API, by another token',
      event: build(
        {
          n: 2, minutesAgo: 3,
          actor: { id: '00u9z8y7x6w5v4u3t2s1', login: 'it-helpdesk@example.com', name: 'IT Helpdesk' },
          token: { id: '00Tdemo0000000000002', name: 'backup-sync' },
          outcome: { result: 'SUCCESS', reason: null },
          ip: '198.51.100.77', geo: { city: 'Bucharest', state: 'Bucuresti', country: 'Romania', lat: 44.43, lon: 26.1 },
          asn: { number: 64511, org: 'example hosting', isp: 'Example VPS Hosting', domain: 'example-vps.net', proxy: true },
          ua: { raw: 'python-requests/2.32.3', browser: 'UNKNOWN', os: 'Unknown' }, via: 'api', createdByToken: '00Tdemo000000000old1',
          network: { connection: 'ANYWHERE' },
        },
        now,
      ),
      tokenState: { id: '00Tdemo0000000000002', name: 'backup-sync', userId: '00u9z8y7x6w5v4u3t2s1', clientName: 'python-requests', created: new Date(now - 3 * 60_000).toISOString(), expiresAt: new Date(now + 30 * 86_400_000).toISOString(), network: { connection: 'ANYWHERE', include: [], exclude: [] } },
    },
    {
      note: 'a hostile token name: tries a Slack @channel mention, a disguised link and a right-to-left override',
      event: build(
        {
          n: 3, minutesAgo: 2,
          actor: { id: '00u5h6i7j8k9l0m1n2o3', login: 'j.doe@example.com', name: 'John <b>Doe</b>' },
          token: { id: '00Tdemo0000000000003', name: '<!channel> click <https://evil.example|okta.com> \u202Egnp.exe @here' },
          outcome: { result: 'SUCCESS', reason: null },
          ip: '192.0.2.200', geo: { city: 'Lagos', state: 'Lagos', country: 'Nigeria', lat: 6.45, lon: 3.39 },
          asn: { number: 64496, org: 'example mobile', isp: 'Example Mobile', domain: 'example-mobile.ng', proxy: false },
          ua: CHROME, via: 'console',
        },
        now,
      ),
    },
    {
      note: 'a denied attempt: the rule watches attempts, so a failure alerts too',
      event: build(
        {
          n: 4, minutesAgo: 2,
          actor: { id: '00u4p5q6r7s8t9u0v1w2', login: 'contractor@partner.example', name: 'Contract Admin' },
          token: { id: null as unknown as string, name: 'exfil' },
          outcome: { result: 'FAILURE', reason: 'Insufficient permissions' },
          ip: '203.0.113.99', geo: { city: 'Austin', state: 'Texas', country: 'United States', lat: 30.27, lon: -97.74 },
          asn: null, ua: CHROME, via: 'console',
        },
        now,
      ),
    },
    {
      note: 'the Terraform service account rotating its token: suppressed by the example exceptions file',
      event: build(
        {
          n: 5, minutesAgo: 1,
          actor: { id: '00usvcterraform00001', login: 'svc-terraform@example.com', name: 'Terraform' },
          token: { id: '00Tdemo0000000000005', name: 'terraform-2026-11' },
          outcome: { result: 'SUCCESS', reason: null },
          ip: '203.0.113.10', geo: { city: 'Frankfurt', state: 'Hesse', country: 'Germany', lat: 50.11, lon: 8.68 },
          asn: { number: 64501, org: 'example cloud', isp: 'Example Cloud', domain: 'example-cloud.net', proxy: false },
          ua: { raw: 'Terraform/1.9.8 okta/4.11.0', browser: 'UNKNOWN', os: 'Linux' }, via: 'api',
        },
        now,
      ),
    },
  ];
}

/** The second batch, persisted after the first tick: one of them published long before. */
export function demoBatch2(now: number): DemoEvent[] {
  return [
    {
      note: 'persisted late by Okta: published 40 minutes ago, still caught because paging follows persistence order',
      event: build(
        {
          n: 6, minutesAgo: 40,
          actor: { id: '00u1a2b3c4d5e6f7g8h9', login: 'maria.jensen@example.com', name: 'Maria Jensen' },
          token: { id: '00Tdemo0000000000006', name: 'okta-workflows-connector' },
          outcome: { result: 'SUCCESS', reason: null },
          ip: '198.51.100.5', geo: { city: 'Singapore', state: 'Singapore', country: 'Singapore', lat: 1.29, lon: 103.85 },
          asn: { number: 64502, org: 'example asia', isp: 'Example Asia', domain: 'example-asia.sg', proxy: false },
          ua: FIREFOX, via: 'console',
        },
        now,
      ),
    },
    {
      note: 'an event without geography, user agent or token target: still alerts, saying what is missing',
      event: { ...build({ n: 7, minutesAgo: 1, actor: { id: '0oa5serviceapp000001', login: 'provisioning-app', name: 'Provisioning App', type: 'PublicClientApp' }, token: null, outcome: { result: 'SUCCESS', reason: null }, ip: '192.0.2.15', geo: null, asn: null, ua: null, via: 'api' }, now) },
    },
  ];
}

/** Made while the event hook is on: Okta pushes it, and its alert lands without waiting for a tick. */
export function demoPushed(now: number): DemoEvent[] {
  return [
    {
      note: 'made while the event hook is on: Okta pushed it, no tick needed',
      event: build(
        {
          n: 8, minutesAgo: 0,
          actor: { id: '00u7d8e9f0g1h2i3j4k5', login: 'dana.okafor@example.com', name: 'Dana Okafor' },
          token: { id: '00Tdemo0000000000008', name: 'reporting-export' },
          outcome: { result: 'SUCCESS', reason: null },
          ip: '198.51.100.140', geo: { city: 'Amsterdam', state: 'North Holland', country: 'Netherlands', lat: 52.37, lon: 4.9 },
          asn: { number: 64511, org: 'example hosting', isp: 'Example VPS Hosting', domain: 'example-vps.net', proxy: true },
          ua: { raw: 'curl/8.9.1', browser: 'UNKNOWN', os: 'Unknown' }, via: 'api', network: { connection: 'ANYWHERE' },
        },
        now,
      ),
    },
  ];
}

/** Made after the hook was switched off: nothing is pushed, the poller alerts it. */
export function demoAfterHookOff(now: number): DemoEvent[] {
  return [
    {
      note: 'made after the hook was switched off: no push, the poller still alerts it',
      event: build(
        {
          n: 9, minutesAgo: 0,
          actor: { id: '00u7d8e9f0g1h2i3j4k5', login: 'dana.okafor@example.com', name: 'Dana Okafor' },
          token: { id: '00Tdemo0000000000009', name: 'reporting-export-2' },
          outcome: { result: 'SUCCESS', reason: null },
          ip: '198.51.100.140', geo: { city: 'Amsterdam', state: 'North Holland', country: 'Netherlands', lat: 52.37, lon: 4.9 },
          asn: { number: 64511, org: 'example hosting', isp: 'Example VPS Hosting', domain: 'example-vps.net', proxy: true },
          ua: { raw: 'curl/8.9.1', browser: 'UNKNOWN', os: 'Unknown' }, via: 'api', network: { connection: 'ANYWHERE' },
        },
        now,
      ),
    },
  ];
}

/** The example exceptions file the demo uses (shipped for users to copy). */
export function demoExceptionsFile(): string {
  return path.join(packageRoot(), 'examples', 'exceptions.example.yaml');
}

// --- a token's life after its creation: what it did, and its lifecycle events ---------------------

/** Who an event says acted. */
export interface EventActor {
  id: string;
  login: string;
  name: string;
  /** Okta's actor type; `User` when absent. */
  type?: string;
}

/** Where a request came from, as Okta records it in `client` and `securityContext`. */
export interface EventClient {
  ip: string;
  geo?: { city: string; state: string; country: string; lat: number; lon: number } | null;
  asn?: { number: number; org: string; isp: string; domain: string; proxy: boolean } | null;
  ua?: { raw: string; browser: string; os: string } | null;
}

/** One target of an event (`{id, type, alternateId, displayName}`). */
export interface EventTarget {
  id: string;
  type: string;
  alternateId?: string;
  displayName: string;
}

/** Okta's system principal: a revoke by it is the token's 30-day expiry, not a person's act. */
export const OKTA_SYSTEM_ACTOR: EventActor = { id: '0oa1oktasystem000001', login: 'system@okta.com', name: 'Okta System', type: 'SystemPrincipal' };

/** Places the demo, the tests and the soak use for the token's creator and for the token's users. */
export const DEMO_CLIENTS = {
  /** The admin's usual place: Copenhagen, a residential ISP, Firefox. */
  copenhagenOffice: {
    ip: '203.0.113.24',
    geo: { city: 'Copenhagen', state: 'Capital Region', country: 'Denmark', lat: 55.68, lon: 12.57 },
    asn: { number: 64500, org: 'example nordic isp', isp: 'Example Nordic', domain: 'example-nordic.net', proxy: false },
    ua: FIREFOX,
  },
  /** A script on a rented server abroad: another country and network than the creation. */
  bucharestVps: {
    ip: '198.51.100.77',
    geo: { city: 'Bucharest', state: 'Bucuresti', country: 'Romania', lat: 44.43, lon: 26.1 },
    asn: { number: 64511, org: 'example hosting', isp: 'Example VPS Hosting', domain: 'example-vps.net', proxy: true },
    ua: { raw: 'python-requests/2.32.3', browser: 'UNKNOWN', os: 'Unknown' },
  },
  /** An integration in the same country as the office, another network (a cloud provider). */
  aarhusCloud: {
    ip: '192.0.2.41',
    geo: { city: 'Aarhus', state: 'Central Jutland', country: 'Denmark', lat: 56.16, lon: 10.2 },
    asn: { number: 64501, org: 'example cloud', isp: 'Example Cloud', domain: 'example-cloud.net', proxy: false },
    ua: { raw: 'okta-sdk-java/20.0.0 java/21.0.5 Linux/6.8', browser: 'UNKNOWN', os: 'Linux' },
  },
} satisfies Record<string, EventClient>;

/** What every builder below takes. */
export interface EventBase {
  /** Okta's event uuid; a random one when absent. */
  uuid?: string;
  /** When Okta says it happened. */
  published: Date | string;
  actor: EventActor;
  client: EventClient;
  outcome?: { result: string; reason: string | null };
  /**
   * The token the request was made WITH (`transaction.detail.requestApiTokenId`): absent for a
   * request made in the Admin Console with a session.
   */
  requestApiTokenId?: string | null;
  /** Extra `debugContext.debugData` fields. */
  debugData?: Record<string, unknown>;
}

/** A System Log event of any type, shaped like Okta's: the common skeleton of every builder here. */
export function logEvent(base: EventBase, eventType: string, displayMessage: string, targets: EventTarget[], severity = 'INFO'): Record<string, unknown> {
  const { actor, client } = base;
  const id = base.uuid ?? crypto.randomUUID();
  const published = typeof base.published === 'string' ? base.published : base.published.toISOString();
  const geo = client.geo ?? null;
  const asn = client.asn ?? null;
  const tx = id.replace(/-/g, '').slice(0, 20);
  return {
    uuid: id,
    published,
    eventType,
    version: '0',
    severity,
    displayMessage,
    actor: { id: actor.id, type: actor.type ?? 'User', alternateId: actor.login, displayName: actor.name, detailEntry: null },
    client: {
      ipAddress: client.ip,
      zone: 'null',
      device: client.ua ? 'Computer' : 'Unknown',
      id: null,
      userAgent: client.ua ? { rawUserAgent: client.ua.raw, browser: client.ua.browser, os: client.ua.os } : null,
      geographicalContext: geo ? { city: geo.city, state: geo.state, country: geo.country, postalCode: null, geolocation: { lat: geo.lat, lon: geo.lon } } : null,
    },
    outcome: base.outcome ?? { result: 'SUCCESS', reason: null },
    target: targets.map((t) => ({ id: t.id, type: t.type, alternateId: t.alternateId ?? 'unknown', displayName: t.displayName, detailEntry: null })),
    transaction: { id: `Tx${tx}`, type: 'WEB', detail: base.requestApiTokenId ? { requestApiTokenId: base.requestApiTokenId } : {} },
    debugContext: { debugData: { requestId: `Rq${tx}`, ...(base.debugData ?? {}) } },
    authenticationContext: { authenticationStep: 0, externalSessionId: base.requestApiTokenId ? 'trs' + tx : '102' + tx },
    securityContext: asn ? { asNumber: asn.number, asOrg: asn.org, isp: asn.isp, domain: asn.domain, isProxy: asn.proxy } : { asNumber: null, asOrg: null, isp: null, domain: null, isProxy: null },
    request: { ipChain: [{ ip: client.ip, geographicalContext: geo, version: 'V4', source: null }] },
  };
}

/** The token itself as an event target (`type: Token`, its name as displayName). */
function tokenTarget(token: { id: string; name: string }): EventTarget {
  return { id: token.id, type: 'Token', displayName: token.name };
}

/** Network condition fields of a create or update event's debugData. */
function networkDebugData(network: { connection: string; include?: string[]; exclude?: string[] } | undefined): Record<string, unknown> {
  if (!network) return {};
  return { networkConnection: network.connection, includedNetworkZones: network.include ?? [], excludedNetworkZones: network.exclude ?? [] };
}

/** A `system.api_token.create` of the given token (made in the Admin Console unless `requestApiTokenId`). */
export function tokenCreateEvent(base: EventBase & { token: { id: string; name: string }; network?: { connection: string; include?: string[]; exclude?: string[] } }): Record<string, unknown> {
  const uri = base.requestApiTokenId ? '/api/v1/api-tokens' : '/api/internal/tokens';
  return logEvent({ ...base, debugData: { requestUri: uri, url: `${uri}?`, ...networkDebugData(base.network), ...base.debugData } }, 'system.api_token.create', 'Create API token', [tokenTarget(base.token)]);
}

/**
 * Any event caused by a request made with the token (`transaction.detail.requestApiTokenId` = its
 * id): what the follow query finds. The actor is the admin the token acts for.
 */
export function tokenActivityEvent(base: Omit<EventBase, 'requestApiTokenId'> & { tokenId: string; eventType: string; displayMessage: string; targets?: EventTarget[]; requestUri?: string }): Record<string, unknown> {
  return logEvent({ ...base, requestApiTokenId: base.tokenId, debugData: { requestUri: base.requestUri ?? '/api/v1/users', ...base.debugData } }, base.eventType, base.displayMessage, base.targets ?? []);
}

/** The token granting an admin role to a user (`user.account.privilege.grant`): a sensitive action. */
export function privilegeGrantEvent(base: Omit<EventBase, 'requestApiTokenId'> & { tokenId: string; user: { id: string; login: string; name: string }; role?: string }): Record<string, unknown> {
  const role = base.role ?? 'Super Administrator';
  return tokenActivityEvent({
    ...base,
    eventType: 'user.account.privilege.grant',
    displayMessage: 'Grant user privilege',
    requestUri: `/api/v1/users/${base.user.id}/roles`,
    targets: [
      { id: base.user.id, type: 'User', alternateId: base.user.login, displayName: base.user.name },
      { id: 'ra1' + base.user.id.slice(-17), type: 'ROLE', displayName: role },
    ],
    debugData: { privilegeGranted: role, ...base.debugData },
  });
}

/** The token creating a user (`user.lifecycle.create`): a sensitive action. */
export function userCreateEvent(base: Omit<EventBase, 'requestApiTokenId'> & { tokenId: string; user: { id: string; login: string; name: string } }): Record<string, unknown> {
  return tokenActivityEvent({
    ...base,
    eventType: 'user.lifecycle.create',
    displayMessage: 'Create okta user',
    requestUri: '/api/v1/users',
    targets: [{ id: base.user.id, type: 'User', alternateId: base.user.login, displayName: base.user.name }],
  });
}

/**
 * `system.api_token.revoke`. A person revoking (Admin Console, or the API with another token when
 * `requestApiTokenId` is set), or, with `actor: OKTA_SYSTEM_ACTOR`, the token expiring after 30 days
 * unused: use tokenExpiredEvent for that.
 */
export function tokenRevokeEvent(base: EventBase & { token: { id: string; name: string } }): Record<string, unknown> {
  const uri = base.requestApiTokenId ? `/api/v1/api-tokens/${base.token.id}` : `/api/internal/tokens/${base.token.id}`;
  return logEvent({ ...base, debugData: { requestUri: uri, url: `${uri}?`, ...base.debugData } }, 'system.api_token.revoke', 'Revoke API token', [tokenTarget(base.token)]);
}

/** The 30-day expiry: a revoke whose actor is system@okta.com, from Okta itself. */
export function tokenExpiredEvent(base: Omit<EventBase, 'actor' | 'client' | 'requestApiTokenId'> & { token: { id: string; name: string } }): Record<string, unknown> {
  return logEvent(
    { ...base, actor: OKTA_SYSTEM_ACTOR, client: { ip: '127.0.0.1', geo: null, asn: null, ua: null }, debugData: { reason: 'Token expired after 30 days without use', ...base.debugData } },
    'system.api_token.revoke',
    'Revoke API token',
    [tokenTarget(base.token)],
  );
}

/** `system.api_token.update`: a changed network condition (e.g. to `ANYWHERE`) or rate-limit share. */
export function tokenUpdateEvent(base: EventBase & { token: { id: string; name: string }; network?: { connection: string; include?: string[]; exclude?: string[] }; rateLimitPercentage?: number }): Record<string, unknown> {
  const uri = `/api/v1/api-tokens/${base.token.id}`;
  return logEvent(
    {
      ...base,
      debugData: { requestUri: uri, url: `${uri}?`, ...networkDebugData(base.network), ...(base.rateLimitPercentage !== undefined ? { rateLimitPercentage: base.rateLimitPercentage } : {}), ...base.debugData },
    },
    'system.api_token.update',
    'Update API token',
    [tokenTarget(base.token)],
  );
}

/**
 * `system.api_token.request_outside_allowed_range`: Okta refused a request made with the token from
 * outside its network zones. The request was made WITH the token, so requestApiTokenId is its id.
 */
export function tokenOutsideRangeEvent(base: Omit<EventBase, 'requestApiTokenId'> & { token: { id: string; name: string } }): Record<string, unknown> {
  return logEvent(
    { outcome: { result: 'DENY', reason: 'Request from an IP outside the allowed network zones' }, ...base, requestApiTokenId: base.token.id, debugData: { requestUri: '/api/v1/users', ...base.debugData } },
    'system.api_token.request_outside_allowed_range',
    'API token used from outside its allowed network range',
    [tokenTarget(base.token)],
    'WARN',
  );
}

/** `system.api_token.enable`: a token enabled again. */
export function tokenEnableEvent(base: EventBase & { token: { id: string; name: string } }): Record<string, unknown> {
  const uri = `/api/internal/tokens/${base.token.id}/lifecycle/activate`;
  return logEvent({ ...base, debugData: { requestUri: uri, url: `${uri}?`, ...base.debugData } }, 'system.api_token.enable', 'Enable API token', [tokenTarget(base.token)]);
}

/** The demo's followed token: what each step of its story is, in the order Okta records them. */
export interface TokenStory {
  token: { id: string; name: string };
  creator: EventActor;
  /** The token's state for the fake's API Tokens API while it is alive. */
  tokenState: Record<string, unknown>;
  created: Record<string, unknown>;
  /** Used from another country and network 12 minutes later to create a user: the first use (sensitive). */
  firstUse: Record<string, unknown>;
  /** Then grants an admin role to another user (sensitive). */
  privilegeGrant: Record<string, unknown>;
  /** Then updates the new user's profile (not sensitive). */
  profileUpdate: Record<string, unknown>;
  /** Then the creator revokes it from the Admin Console. */
  revoke: Record<string, unknown>;
}

/**
 * A token made in the office, used 12 minutes later from a VPS abroad to create a user and grant an
 * admin role, then revoked by its creator 30 minutes after it was made. `n` keeps several stories
 * apart (ids and uuids); times are relative to `createdAt`.
 */
export function demoTokenStory(createdAt: number, n = 1): TokenStory {
  const token = { id: `00Tfollow${String(n).padStart(11, '0')}`, name: `partner-sync-${n}` };
  const creator: EventActor = { id: '00u1a2b3c4d5e6f7g8h9', login: 'maria.jensen@example.com', name: 'Maria Jensen' };
  const at = (min: number): Date => new Date(createdAt + min * 60_000);
  const id = (step: number): string => `f0110${String(n).padStart(3, '0')}-7a11-4c0e-9b1d-0000000000${String(step).padStart(2, '0')}`;
  const victim = { id: '00ucharlie0000000001', login: 'charlie.ng@example.com', name: 'Charlie Ng' };
  const newUser = { id: '00unewuser0000000001', login: 'svc-partner@example.com', name: 'Partner Service' };
  return {
    token,
    creator,
    tokenState: {
      id: token.id, name: token.name, userId: creator.id, clientName: 'Okta Admin Console',
      created: at(0).toISOString(), lastUpdated: at(0).toISOString(), expiresAt: at(30 * 24 * 60).toISOString(), tokenWindow: 'P30D',
      network: { connection: 'ANYWHERE', include: [], exclude: [] },
    },
    created: tokenCreateEvent({ uuid: id(1), published: at(0), actor: creator, client: DEMO_CLIENTS.copenhagenOffice, token, network: { connection: 'ANYWHERE' } }),
    firstUse: userCreateEvent({ uuid: id(2), published: at(12), actor: creator, client: DEMO_CLIENTS.bucharestVps, tokenId: token.id, user: newUser }),
    privilegeGrant: privilegeGrantEvent({ uuid: id(3), published: at(14), actor: creator, client: DEMO_CLIENTS.bucharestVps, tokenId: token.id, user: victim }),
    profileUpdate: tokenActivityEvent({
      uuid: id(4), published: at(15), actor: creator, client: DEMO_CLIENTS.bucharestVps, tokenId: token.id,
      eventType: 'user.account.update_profile', displayMessage: 'Update user profile for Okta', requestUri: `/api/v1/users/${newUser.id}`,
      targets: [{ id: newUser.id, type: 'User', alternateId: newUser.login, displayName: newUser.name }],
    }),
    revoke: tokenRevokeEvent({ uuid: id(5), published: at(30), actor: creator, client: DEMO_CLIENTS.copenhagenOffice, token }),
  };
}
