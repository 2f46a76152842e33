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
