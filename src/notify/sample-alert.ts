import { apiTokensLink, systemLogLink, userLink } from '../detect/admin-links';
import type { Alert, AlertSummary } from '../detect/alert';
import { HOW_TO_LIST, MAX_SUMMARY_ALERT_IDS } from '../detect/summary';
import { DEFAULT_RUNBOOK } from './facts';

/** Options for the sample: everything has a realistic default. */
export interface SampleAlertOptions {
  now?: Date;
  /** Okta event uuid; the alert id is `otw-<uuid>` unless `id` is given. */
  uuid?: string;
  id?: string;
  orgUrl?: string;
  /** The org of ORGS_FILE the sample is of (notifiers name it, as with a real alert of that org). */
  org?: { name: string; url: string };
  source?: Alert['source'];
  tokenName?: string;
  actorLogin?: string;
}

/** The rule metadata the sample carries (detection owns the real one). */
export const SAMPLE_RULE: Alert['rule'] = {
  id: 'okta-api-token-create',
  name: 'Okta API token created',
  description: 'Someone attempted to create an Okta API token (SSWS), which keeps working after their session or password is revoked.',
  severity: 'medium',
  riskScore: 47,
  mitre: [
    { tactic: { id: 'TA0003', name: 'Persistence' }, technique: { id: 'T1136', name: 'Create Account' } },
    { tactic: { id: 'TA0003', name: 'Persistence' }, technique: { id: 'T1098', name: 'Account Manipulation' }, subtechnique: { id: 'T1098.001', name: 'Additional Cloud Credentials' } },
  ],
  tags: ['Identity and Access Audit', 'Data Source: Okta', 'Tactic: Persistence'],
  references: ['https://developer.okta.com/docs/reference/api/system-log/', 'https://developer.okta.com/docs/reference/api/event-types/'],
  runbook: DEFAULT_RUNBOOK,
};

/**
 * A complete, realistic alert (documentation addresses only: example.com, 203.0.113.0/24, AS64500)
 * for `test-notify`, golden tests and the outbox tests. Deterministic for the same options.
 */
export function buildSampleAlert(opts: SampleAlertOptions = {}): Alert {
  const now = opts.now ?? new Date('2026-11-28T12:00:00.000Z');
  const uuid = opts.uuid ?? '9f2c6d1e-4b7a-11f1-8c3e-5b1d2a9e0c47';
  const org = (opts.orgUrl ?? 'https://example.okta.com').replace(/\/+$/, '');
  const published = new Date(now.getTime() - 90_000).toISOString();
  const tokenId = '00Tb1x2y3z4A5B6C7d8';
  const actorId = '00u1a2b3c4D5E6F7g8h9';
  return {
    ...(opts.org ? { org: { name: opts.org.name, url: opts.org.url } } : {}),
    id: opts.id ?? `otw-${uuid}`,
    source: opts.source ?? 'test',
    createdAt: now.toISOString(),
    rule: SAMPLE_RULE,
    event: { uuid, published, eventType: 'system.api_token.create', displayMessage: 'Create API token', legacyEventType: 'api.token.create' },
    actor: { id: actorId, type: 'User', login: opts.actorLogin ?? 'jordan.admin@example.com', displayName: 'Jordan Admin' },
    token: { id: tokenId, name: opts.tokenName ?? 'terraform-ci' },
    outcome: { result: 'SUCCESS', reason: null },
    client: {
      ip: '203.0.113.42',
      city: 'Amsterdam',
      region: 'North Holland',
      country: 'Netherlands',
      zone: 'null',
      asNumber: 64500,
      asOrg: 'Example Transit B.V.',
      isp: 'Example ISP',
      domain: 'example.net',
      isProxy: false,
      userAgent: { raw: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', browser: 'SAFARI', os: 'Mac OS X' },
    },
    via: { kind: 'admin-console', requestUri: '/api/internal/tokens' },
    createdByTokenId: null,
    originalPrincipal: null,
    network: { connection: 'ANYWHERE', includedZones: [], excludedZones: [] },
    // The same Admin Console links detection builds.
    links: {
      event: systemLogLink(org, uuid, { from: new Date(Date.parse(published) - 86_400_000), to: new Date(Date.parse(published) + 86_400_000) }),
      actor: userLink(org, actorId),
      apiTokens: apiTokensLink(org),
      tokenActivity: systemLogLink(org, `transaction.detail.requestApiTokenId eq "${tokenId}"`, { from: new Date(published) }),
    },
    history: { actorTokensLast90d: 0, firstFromCountry: true, firstFromAsn: true, burstSameHour: 0, since: new Date(now.getTime() - 365 * 86_400_000).toISOString() },
    tokenState: {
      status: 'found',
      active: true,
      name: opts.tokenName ?? 'terraform-ci',
      userId: actorId,
      clientName: 'Okta Admin Console',
      created: published,
      expiresAt: '2026-12-28T11:58:30.000Z',
      network: { connection: 'ANYWHERE', include: [], exclude: [] },
      checkedAt: now.toISOString(),
    },
  };
}

/** A summary of `count` sample alerts, for tests and the demo. */
export function buildSampleSummary(count = 37, opts: { now?: Date; orgUrl?: string; id?: string } = {}): AlertSummary {
  const now = opts.now ?? new Date('2026-11-28T12:00:00.000Z');
  const org = (opts.orgUrl ?? 'https://example.okta.com').replace(/\/+$/, '');
  return {
    id: opts.id ?? 'otw-summary-1',
    createdAt: now.toISOString(),
    rule: { id: SAMPLE_RULE.id, name: SAMPLE_RULE.name, severity: SAMPLE_RULE.severity, riskScore: SAMPLE_RULE.riskScore },
    count,
    actors: [
      { actor: 'jordan.admin@example.com', count: count - Math.min(5, count) },
      { actor: 'svc-automation@example.com', count: Math.min(5, count) },
    ],
    actorCount: 2,
    tokenNames: ['terraform-ci', 'backup-job'],
    tokenNameCount: 2,
    firstPublished: new Date(now.getTime() - 300_000).toISOString(),
    lastPublished: new Date(now.getTime() - 60_000).toISOString(),
    alertIds: Array.from({ length: Math.min(count, MAX_SUMMARY_ALERT_IDS) }, (_, i) => `otw-sample-${i + 1}`),
    alertIdsOmitted: Math.max(0, count - MAX_SUMMARY_ALERT_IDS),
    howToList: HOW_TO_LIST,
    links: { apiTokens: apiTokensLink(org), systemLog: systemLogLink(org, 'eventType eq "system.api_token.create"', { from: new Date(now.getTime() - 300_000) }) },
  };
}
