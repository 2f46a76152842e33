import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { OktaHttp } from '../okta/http';
import { API_TOKEN_CREATE, type OktaLogEvent } from '../okta/log-event';
import type { ExcessAlerts, Store } from '../store/store';
import type { Alert, AlertSummary, TokenState } from './alert';
import { buildAlert } from './build-alert';
import type { DetectConfig } from './config';
import { exceptionsStatus, matchExceptions, type ExceptionStatus } from './exceptions';
import { text } from './fields';
import { computeHistory } from './history';
import { RULE_FILTER } from './rule';
import { buildSummary } from './summary';
import { TokenLookup } from './token-lookup';
import { buildUnreadableAlert } from './unreadable';

/** Whether an event alerts, and if not, what suppressed it. */
export type Decision = { alert: true } | { alert: false; suppressedBy: string };

/** The detection as the poll cycle sees it: rule, exceptions, enrichment and alert building. */
export interface Detector {
  /** The System Log filter expression. */
  readonly filter: string;
  /** Pure: does this event alert, or what suppresses it (outcome not in ALERT_OUTCOMES, an exception, a maintenance window). */
  decide(event: OktaLogEvent, now: Date): Decision;
  /** Optional enrichment for events about to alert, keyed by uuid. Never throws, bounded in time. */
  lookupTokens(events: OktaLogEvent[]): Promise<Map<string, TokenState>>;
  /** Builds the alert inside the page's transaction, after the event row is inserted. */
  buildAlert(event: OktaLogEvent, ctx: { source: Alert['source']; now: Date; store: Store; tokenState?: TokenState }): Alert;
  /** The alert for an entry this program could not read (see unreadable.ts). Never throws. */
  buildUnreadableAlert(entry: unknown, key: string, reason: string, ctx: { source: Alert['source']; now: Date }): Alert;
  /** The one summary for alerts beyond MAX_ALERTS_PER_RUN, from what the store aggregated. */
  buildSummary(excess: ExcessAlerts, now: Date): Omit<AlertSummary, 'id'>;
  /** Every exception and maintenance window from EXCEPTIONS_FILE, with whether it has expired (for `status`). */
  exceptionsStatus(now: Date): ExceptionStatus[];
}

/** Dependencies of the detector. */
export interface DetectorDeps {
  orgUrl: string;
  okta: OktaHttp | null;
  logger: Logger;
  clock: Clock;
}

export function createDetector(config: DetectConfig, deps: DetectorDeps): Detector {
  const lookup = new TokenLookup(config.tokenLookup, deps);
  return {
    filter: RULE_FILTER,

    decide(event, now) {
      if (event.eventType !== API_TOKEN_CREATE) {
        return { alert: false, suppressedBy: `event type ${text(event.eventType, 100) ?? '(none)'} is not ${API_TOKEN_CREATE}` };
      }
      const outcome = (text(event.outcome?.result, 100) ?? 'UNKNOWN').toUpperCase();
      if (config.alertOutcomes && !config.alertOutcomes.includes(outcome)) {
        return { alert: false, suppressedBy: `outcome ${outcome} not in ALERT_OUTCOMES` };
      }
      const match = matchExceptions(config.exceptions, event, now);
      if (match) return { alert: false, suppressedBy: match.text };
      return { alert: true };
    },

    lookupTokens(events) {
      return lookup.lookup(events);
    },

    buildAlert(event, ctx) {
      let history = null;
      try {
        history = computeHistory(ctx.store, event);
      } catch (err) {
        // History is a nice-to-have: a failing query must not cost the alert (or the page).
        deps.logger.warn('history facts unavailable for this alert', { uuid: event.uuid, error: err instanceof Error ? err.message : String(err) });
      }
      return buildAlert(event, { source: ctx.source, now: ctx.now, orgUrl: deps.orgUrl, history, tokenState: ctx.tokenState });
    },

    buildUnreadableAlert(entry, key, reason, ctx) {
      return buildUnreadableAlert(entry, key, reason, { ...ctx, orgUrl: deps.orgUrl });
    },

    buildSummary(excess, now) {
      return buildSummary(excess, now, deps.orgUrl);
    },

    exceptionsStatus(now) {
      return exceptionsStatus(config.exceptions, now);
    },
  };
}
