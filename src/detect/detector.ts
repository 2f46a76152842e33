import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { OktaHttp } from '../okta/http';
import type { OktaLogEvent } from '../okta/log-event';
import type { ExcessAlerts, Store } from '../store/store';
import type { Alert, AlertSummary, TokenState } from './alert';
import { buildAlert } from './build-alert';
import type { DetectConfig } from './config';
import { exceptionsStatus, matchExceptions, type ExceptionStatus } from './exceptions';
import { text } from './fields';
import { computeHistory } from './history';
import { RULE } from './rule';
import { filterFor, type Rule, type RuleContext } from './rule-model';
import { POLL_FILTER, ruleById, RULES, rulesFor } from './rules';
import { buildSummary } from './summary';
import { TokenLookup } from './token-lookup';
import { buildUnreadableAlert } from './unreadable';

/** Whether an event alerts and under which rule (its id), and if not, what suppressed it. */
export type Decision =
  | { alert: true; ruleId: string }
  /** `unwatchedType`: no rule watches the event's type (it came by a path that reads every type, such as the follow query). */
  | { alert: false; suppressedBy: string; unwatchedType?: true };

/** The detection as the poll cycle sees it: rule, exceptions, enrichment and alert building. */
export interface Detector {
  /** The System Log filter expression: the union of the rules' event types. */
  readonly filter: string;
  /**
   * Pure: which rule this event alerts under, or what suppresses it (no rule watches its type, no
   * rule matches it, outcome not in ALERT_OUTCOMES, an exception, a maintenance window).
   */
  decide(event: OktaLogEvent, now: Date): Decision;
  /**
   * Reads what the rules consult from the store (the registered hook's id, a recent delivery-failure
   * alert) for the decisions that follow: call once before deciding a batch. Never throws.
   */
  refresh(): Promise<void>;
  /** Optional enrichment for events about to alert, keyed by uuid. Never throws, bounded in time. */
  lookupTokens(events: OktaLogEvent[]): Promise<Map<string, TokenState>>;
  /** Builds the alert (under the rule its decision named) inside the batch's transaction, after the event row is inserted. */
  buildAlert(event: OktaLogEvent, ctx: { source: Alert['source']; now: Date; store: Store; tokenState?: TokenState; ruleId?: string }): Promise<Alert>;
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
  /**
   * The id of the event hook this program registered in Okta, or null when none is known (the
   * event-hook rule then watches every hook's deactivation and deletion; see rule-event-hook.ts).
   * Read by `refresh` (once per batch); a provider that throws counts as "not known". Default: none known.
   */
  eventHookId?: () => string | null | Promise<string | null>;
  /** Push is configured here (EVENT_HOOK_PORT set): see RuleContext.pushConfigured. Default false. */
  pushConfigured?: boolean;
  /** See RuleContext.recentDeliveryFailureAlert (the store's alerts of the last hour). */
  recentDeliveryFailureAlert?: (hookId: string | null) => string | null | Promise<string | null>;
  /** The rule set (default RULES); tests may narrow it. */
  rules?: readonly Rule[];
}

export function createDetector(config: DetectConfig, deps: DetectorDeps): Detector {
  const lookup = new TokenLookup(config.tokenLookup, deps);
  const rules = deps.rules ?? RULES;
  // What the rules consult from the store, read by refresh() before a batch is decided (the rules
  // themselves stay pure and synchronous).
  let known: { eventHookId: string | null; recentFailure: string | null } = { eventHookId: null, recentFailure: null };
  const ruleContext = (): RuleContext => ({
    eventHookId: known.eventHookId,
    pushConfigured: deps.pushConfigured ?? false,
    recentDeliveryFailureAlert: deps.recentDeliveryFailureAlert ? (hookId) => (hookId === known.eventHookId ? known.recentFailure : null) : undefined,
  });
  return {
    filter: rules === RULES ? POLL_FILTER : filterFor(rules.flatMap((r) => r.eventTypes.map((t) => t.type))),

    decide(event, now) {
      const candidates = rulesFor(event.eventType, rules);
      if (candidates.length === 0) {
        return { alert: false, suppressedBy: `event type ${text(event.eventType, 100) ?? '(none)'} is not one the rules watch`, unwatchedType: true };
      }
      const ctx = ruleContext();
      const reasons: string[] = [];
      for (const rule of candidates) {
        const m = rule.match(event, ctx);
        if (!m.match) {
          reasons.push(`${rule.id}: ${m.reason}`);
          continue;
        }
        // ALERT_OUTCOMES and the exceptions file were written for token creation; a rule that
        // watches this program's own plumbing is never tuned away by them.
        if (rule.tunable) {
          const outcome = (text(event.outcome?.result, 100) ?? 'UNKNOWN').toUpperCase();
          if (config.alertOutcomes && !config.alertOutcomes.includes(outcome)) {
            return { alert: false, suppressedBy: `outcome ${outcome} not in ALERT_OUTCOMES` };
          }
          const match = matchExceptions(config.exceptions, event, now);
          if (match) return { alert: false, suppressedBy: match.text };
        }
        return { alert: true, ruleId: rule.id };
      }
      return { alert: false, suppressedBy: reasons.join('; ') };
    },

    async refresh() {
      let eventHookId: string | null = null;
      try {
        const id = (await deps.eventHookId?.()) ?? null;
        eventHookId = typeof id === 'string' && id !== '' ? id : null;
      } catch (err) {
        // Not knowing the id widens the event-hook rule (any hook's deactivation alerts): safe.
        deps.logger.warn('the registered event hook id could not be read; watching every event hook', { error: err instanceof Error ? err.message : String(err) });
      }
      let recentFailure: string | null = null;
      try {
        recentFailure = (await deps.recentDeliveryFailureAlert?.(eventHookId)) ?? null;
      } catch (err) {
        // Not knowing it costs one more alert about a failing hook, never a missed one.
        deps.logger.warn('recent event hook alerts could not be read', { error: err instanceof Error ? err.message : String(err) });
      }
      known = { eventHookId, recentFailure };
    },

    lookupTokens(events) {
      // Only rules about tokens show the token's state; the others would spend lookups on nothing.
      return lookup.lookup(events.filter((e) => rulesFor(e.eventType, rules).some((r) => r.tokenFacts)));
    },

    async buildAlert(event, ctx) {
      const rule = (ctx.ruleId !== undefined ? ruleById(ctx.ruleId, rules) : undefined) ?? RULE;
      let history = null;
      if (rule.tokenFacts) {
        try {
          // On PostgreSQL a failed statement spoils its transaction: a savepoint keeps the page's usable.
          history =
            ctx.store.sql.engine === 'postgres' && ctx.store.sql.inTransaction
              ? await ctx.store.savepoint((sp) => computeHistory(sp, event))
              : await computeHistory(ctx.store, event);
        } catch (err) {
          // History is a nice-to-have: a failing query must not cost the alert (or the page).
          deps.logger.warn('history facts unavailable for this alert', { uuid: event.uuid, error: err instanceof Error ? err.message : String(err) });
        }
      }
      return buildAlert(event, {
        source: ctx.source,
        now: ctx.now,
        orgUrl: deps.orgUrl,
        history,
        tokenState: rule.tokenFacts ? ctx.tokenState : undefined,
        rule,
        eventHookId: ruleContext().eventHookId,
      });
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
