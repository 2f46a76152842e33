import type { OktaLogEvent } from '../okta/log-event';
import type { AlertRule } from './alert';

/** One System Log event type a rule watches, and whether Okta can push it through an event hook. */
export interface RuleEventType {
  type: string;
  /** Okta delivers only some event types to event hooks; the rest only the poller can see. */
  hookEligible: boolean;
}

/** What a rule may consult besides the event: facts this program holds, never the network. */
export interface RuleContext {
  /** The id of the event hook this program registered in Okta, or null when none is known. */
  eventHookId: string | null;
  /** Push is set up here (EVENT_HOOK_PORT): while no id is known, any hook's deactivation may be ours. */
  pushConfigured: boolean;
  /**
   * The id of a delivery-failure alert about this hook (id, or null for "hook unknown") raised in
   * the last hour, or null: one page per outage, not one per failed delivery. Default: none.
   */
  recentDeliveryFailureAlert?: (hookId: string | null) => string | null;
}

/** Whether one event matches a rule, and if not, why (stored as the event's suppression reason). */
export type RuleMatch = { match: true } | { match: false; reason: string };

/**
 * A detection rule as data: its metadata (copied into every alert it raises, so each notification
 * carries its own severity, MITRE mapping and runbook), the event types it watches, and a PURE match
 * function over one event (attacker-controlled, of any shape: it must not throw on odd types).
 */
export interface Rule extends AlertRule {
  filter: string;
  eventTypes: readonly RuleEventType[];
  /**
   * True when ALERT_OUTCOMES and EXCEPTIONS_FILE (both written for token creation) may suppress
   * this rule's alerts; a rule that watches this program's own plumbing is never tuned away.
   */
  tunable: boolean;
  /** True when the alert carries token facts: the actor's token history and the token lookup. */
  tokenFacts: boolean;
  /** True when an alert beyond MAX_ALERTS_PER_RUN may go into the tick's summary instead of out on its own. */
  summarizable: boolean;
  match(event: OktaLogEvent, ctx: RuleContext): RuleMatch;
}

/** `eventType eq "a" or eventType eq "b"`: the System Log filter for these event types. */
export function filterFor(types: readonly string[]): string {
  return [...new Set(types)].map((t) => `eventType eq "${t}"`).join(' or ');
}

/** The rule as an alert carries it: its metadata only, a plain copy safe to serialise and mutate. */
export function alertRuleOf(rule: Rule): AlertRule {
  const { id, name, description, severity, riskScore, mitre, tags, references, filter, runbook } = rule;
  return JSON.parse(JSON.stringify({ id, name, description, severity, riskScore, mitre, tags, references, filter, runbook })) as AlertRule;
}
