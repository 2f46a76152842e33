import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { OktaHttp } from '../okta/http';
import { API_TOKEN_CREATE, type OktaLogEvent } from '../okta/log-event';
import type { Store } from '../store/store';
import type { Alert, AlertSummary, TokenState } from './alert';
import type { DetectConfig } from './config';

/** Whether an event alerts, and if not, what suppressed it. */
export type Decision = { alert: true } | { alert: false; suppressedBy: string };

/**
 * The detection as the poll cycle sees it. (Spine version; the detection issue fills in the rule
 * metadata, enrichment, history facts, exceptions and the token lookup behind this interface.)
 */
export interface Detector {
  /** The System Log filter expression. */
  readonly filter: string;
  /** Pure: does this event alert, or what suppresses it. */
  decide(event: OktaLogEvent, now: Date): Decision;
  /** Optional enrichment for events about to alert, keyed by uuid. Never throws, bounded in time. */
  lookupTokens(events: OktaLogEvent[]): Promise<Map<string, TokenState>>;
  /** Builds the alert inside the page's transaction, after the event row is inserted. */
  buildAlert(event: OktaLogEvent, ctx: { source: Alert['source']; now: Date; store: Store; tokenState?: TokenState }): Alert;
  /** The one summary for alerts beyond MAX_ALERTS_PER_RUN. */
  buildSummary(alerts: Alert[], now: Date): Omit<AlertSummary, 'id'>;
}

/** Dependencies of the detector. */
export interface DetectorDeps {
  orgUrl: string;
  okta: OktaHttp | null;
  logger: Logger;
  clock: Clock;
}

export function createDetector(config: DetectConfig, deps: DetectorDeps): Detector {
  const filter = `eventType eq "${API_TOKEN_CREATE}"`;
  const rule: Alert['rule'] = {
    id: 'okta-api-token-create',
    name: 'Okta API token created',
    description: 'Someone attempted to create an Okta API token.',
    severity: 'medium',
    riskScore: 47,
    mitre: [],
    tags: [],
    references: [],
    runbook: { triage: [], benign: [], response: [] },
  };
  return {
    filter,
    decide(event) {
      if (event.eventType !== API_TOKEN_CREATE) return { alert: false, suppressedBy: `event type ${event.eventType} is not ${API_TOKEN_CREATE}` };
      const outcome = (event.outcome?.result ?? 'UNKNOWN').toUpperCase();
      if (config.alertOutcomes && !config.alertOutcomes.includes(outcome)) return { alert: false, suppressedBy: `outcome ${outcome} not in ALERT_OUTCOMES` };
      return { alert: true };
    },
    async lookupTokens() {
      return new Map();
    },
    buildAlert(e, ctx) {
      const t = (e.target ?? []).find((x) => x?.type === 'Token');
      const ua = e.client?.userAgent;
      const geo = e.client?.geographicalContext;
      return {
        id: `otw-${e.uuid}`,
        source: ctx.source,
        createdAt: ctx.now.toISOString(),
        rule,
        event: { uuid: e.uuid, published: e.published, eventType: e.eventType, displayMessage: e.displayMessage ?? null, legacyEventType: e.legacyEventType ?? null },
        actor: { id: e.actor?.id ?? null, type: e.actor?.type ?? null, login: e.actor?.alternateId ?? null, displayName: e.actor?.displayName ?? null },
        token: t ? { id: t.id ?? null, name: t.displayName ?? null } : null,
        outcome: { result: e.outcome?.result ?? 'UNKNOWN', reason: e.outcome?.reason ?? null },
        client: {
          ip: e.client?.ipAddress ?? null,
          city: geo?.city ?? null,
          region: geo?.state ?? null,
          country: geo?.country ?? null,
          zone: e.client?.zone ?? null,
          asNumber: e.securityContext?.asNumber ?? null,
          asOrg: e.securityContext?.asOrg ?? null,
          isp: e.securityContext?.isp ?? null,
          domain: e.securityContext?.domain ?? null,
          isProxy: e.securityContext?.isProxy ?? null,
          userAgent: { raw: ua?.rawUserAgent ?? null, browser: ua?.browser ?? null, os: ua?.os ?? null },
        },
        via: { kind: 'unknown', requestUri: null },
        createdByTokenId: null,
        network: null,
        links: { event: `${deps.orgUrl}/report/system_log_2`, actor: null, apiTokens: `${deps.orgUrl}/admin/access/api/tokens`, tokenActivity: null },
        history: null,
        tokenState: ctx.tokenState ?? { status: 'skipped', reason: 'token lookup not configured' },
      };
    },
    buildSummary(alerts, now) {
      const published = alerts.map((a) => a.event.published).sort();
      return {
        createdAt: now.toISOString(),
        rule: { id: rule.id, name: rule.name, severity: rule.severity, riskScore: rule.riskScore },
        count: alerts.length,
        actors: [],
        tokenNames: [],
        firstPublished: published[0] ?? now.toISOString(),
        lastPublished: published[published.length - 1] ?? now.toISOString(),
        alertIds: alerts.map((a) => a.id),
        howToList: 'okta-token-watch status --alerts',
        links: { apiTokens: `${deps.orgUrl}/admin/access/api/tokens`, systemLog: `${deps.orgUrl}/report/system_log_2` },
      };
    },
  };
}
