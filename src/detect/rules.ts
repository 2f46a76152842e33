import { RULE } from './rule';
import { EVENT_HOOK_RULE } from './rule-event-hook';
import { filterFor, type Rule } from './rule-model';
import { LIFECYCLE_RULES } from './rule-token-lifecycle';

/**
 * The rule set, as data, in the order the detector tries them. Adding a rule means adding it here:
 * the poll filter, the hook-eligible event types and the detector all follow from this list.
 */
export const RULES: readonly Rule[] = Object.freeze([RULE, EVENT_HOOK_RULE, ...LIFECYCLE_RULES]);

/** The System Log filter the poller sends: the union of every rule's event types. */
export const POLL_FILTER = filterFor(RULES.flatMap((r) => r.eventTypes.map((t) => t.type)));

/**
 * The event types an Okta event hook can deliver for this rule set: what `event-hook register`
 * subscribes to and what the receiver accepts. The others reach this program only by polling.
 */
export const HOOK_ELIGIBLE_EVENT_TYPES: readonly string[] = Object.freeze([
  ...new Set(RULES.flatMap((r) => r.eventTypes.filter((t) => t.hookEligible).map((t) => t.type))),
]);

/** The rules that watch this event type, in set order (none for a type no rule watches). */
export function rulesFor(eventType: unknown, rules: readonly Rule[] = RULES): Rule[] {
  return typeof eventType === 'string' ? rules.filter((r) => r.eventTypes.some((t) => t.type === eventType)) : [];
}

/** The rule with this id, if the set has one. */
export function ruleById(id: string, rules: readonly Rule[] = RULES): Rule | undefined {
  return rules.find((r) => r.id === id);
}
