import type { OktaLogEvent } from '../okta/log-event';
import { obj, text } from './fields';
import { filterFor, type Rule, type RuleContext, type RuleMatch } from './rule-model';

export const EVENT_HOOK_DEACTIVATED = 'event_hook.deactivated';
export const EVENT_HOOK_DELETED = 'event_hook.deleted';
export const EVENT_HOOK_UPDATED = 'event_hook.updated';
export const EVENT_HOOK_DELIVERY = 'event_hook.delivery';

/** What happened to the hook, in fixed words (never event text). */
export type EventHookChange = 'deactivated' | 'deleted' | 'updated' | 'delivery failed';

const CHANGES: Record<string, EventHookChange> = {
  [EVENT_HOOK_DEACTIVATED]: 'deactivated',
  [EVENT_HOOK_DELETED]: 'deleted',
  [EVENT_HOOK_UPDATED]: 'updated',
  [EVENT_HOOK_DELIVERY]: 'delivery failed',
};

/** The event's change kind, or null for an event type this rule does not watch. */
export function eventHookChange(eventType: unknown): EventHookChange | null {
  return typeof eventType === 'string' && Object.hasOwn(CHANGES, eventType) ? CHANGES[eventType]! : null;
}

/**
 * The event hook an event is about: the target whose type names an event hook, else the only
 * target. Null when the event names none. Values are bounded text (attacker-controlled).
 */
export function eventHookTarget(event: OktaLogEvent): { id: string | null; name: string | null } | null {
  const targets: unknown = event.target;
  if (!Array.isArray(targets)) return null;
  const all = targets.map(obj).filter((t): t is Record<string, unknown> => t !== null);
  const hook = all.find((t) => typeof t.type === 'string' && t.type.replace(/[^a-z]/gi, '').toLowerCase() === 'eventhook') ?? (all.length === 1 ? all[0] : undefined);
  return hook ? { id: text(hook.id, 200), name: text(hook.displayName) } : null;
}

/** True when some target of the event carries this id, whatever its type says. */
function namesHook(event: OktaLogEvent, id: string): boolean {
  const targets: unknown = event.target;
  return Array.isArray(targets) && targets.some((t) => obj(t)?.id === id);
}

/**
 * Our own event hook switched off, removed, changed or failing. Pure: the hook id comes in through
 * the context (the store's registered hook, via the detector's provider).
 *
 * With the id known, only events naming it match. Without it (push never registered here, or the
 * store cannot say), every deactivation or deletion of ANY hook in the org matches: those are rare
 * admin actions, and a noisy alert beats silence when the hook that went away may be ours. Updates
 * and delivery failures of unknown hooks do not match: orgs with other, broken hooks would be
 * alerted on every failed delivery.
 *
 * A delivery matches unless its outcome says SUCCESS: Okta records event_hook.delivery for failed
 * deliveries, so an odd or missing outcome still means push may be failing. Deactivations, deletions and updates match whatever their outcome: a denied
 * attempt to switch the hook off is someone trying.
 */
function matchEventHook(event: OktaLogEvent, ctx: RuleContext): RuleMatch {
  const change = eventHookChange(event.eventType);
  if (change === null) return { match: false, reason: 'not an event hook change' };
  if (change === 'delivery failed') {
    // Okta writes event_hook.delivery when a delivery fails; only an explicit SUCCESS is taken as
    // "not a failure". Any other value, type or absence alerts: missing a switched-off push costs
    // more than one odd alert.
    const outcome = text(obj(event.outcome)?.result, 100)?.toUpperCase() ?? null;
    if (outcome === 'SUCCESS') return { match: false, reason: 'event hook delivery outcome SUCCESS' };
  }
  if (ctx.eventHookId !== null) {
    if (!namesHook(event, ctx.eventHookId)) return { match: false, reason: 'the event is about another event hook than ours' };
    if (change === 'delivery failed') {
      // An outage of the receiver fails every delivery, each with its own event: the first alert
      // says push is failing, the rest are stored (and counted in status) under this reason.
      const earlier = ctx.recentDeliveryFailureAlert?.(ctx.eventHookId) ?? null;
      if (earlier !== null) return { match: false, reason: `failed deliveries to our event hook were already alerted within the hour (${earlier})` };
    }
    return { match: true };
  }
  // Without push set up here and no hook registered, another team's hook is none of our business.
  if (!ctx.pushConfigured) return { match: false, reason: 'no event hook of ours is registered or configured (EVENT_HOOK_PORT is unset)' };
  if (change === 'deactivated' || change === 'deleted') return { match: true };
  return { match: false, reason: `no registered event hook is known, and an event hook ${change === 'updated' ? 'update' : 'delivery failure'} alone may be another hook's` };
}

/**
 * The self-watch rule. None of its event types is hook-eligible: only the poller sees them, which
 * is why the poller stays the source of truth even with push switched on.
 */
export const EVENT_HOOK_RULE: Readonly<Rule> = Object.freeze({
  id: 'okta-event-hook-tampered',
  name: 'okta-token-watch event hook switched off or failing',
  description:
    'The Okta event hook that pushes events to okta-token-watch was deactivated, deleted or changed, or Okta ' +
    'failed to deliver to it. Someone holding a freshly made API token can switch the hook off to slow down ' +
    'detection; polling still reads every token creation, but only every few minutes, and this is the alert ' +
    'that says push is gone.',
  severity: 'high' as const,
  riskScore: 73,
  filter: filterFor([EVENT_HOOK_DEACTIVATED, EVENT_HOOK_DELETED, EVENT_HOOK_UPDATED, EVENT_HOOK_DELIVERY]),
  eventTypes: [
    { type: EVENT_HOOK_DEACTIVATED, hookEligible: false },
    { type: EVENT_HOOK_DELETED, hookEligible: false },
    { type: EVENT_HOOK_UPDATED, hookEligible: false },
    { type: EVENT_HOOK_DELIVERY, hookEligible: false },
  ],
  tunable: false,
  tokenFacts: false,
  // Never folded into a summary of token creations: it is one alert about this program's own plumbing.
  summarizable: false,
  match: matchEventHook,
  mitre: [
    {
      tactic: { id: 'TA0005', name: 'Defense Evasion' },
      technique: { id: 'T1562', name: 'Impair Defenses' },
      subtechnique: { id: 'T1562.008', name: 'Disable or Modify Cloud Logs' },
    },
  ],
  tags: ['Identity and Access Audit', 'Data Source: Okta', 'Tactic: Defense Evasion'],
  references: [
    'https://developer.okta.com/docs/concepts/event-hooks/',
    'https://developer.okta.com/docs/reference/api/event-types/',
    'https://attack.mitre.org/tactics/TA0005/',
    'https://attack.mitre.org/techniques/T1562/008/',
  ],
  runbook: {
    triage: [
      'Find out who changed the hook and whether they meant to: an admin running `okta-token-watch event-hook remove` or tidying up hooks explains it; nobody owning up does not.',
      'Check where the change came from (IP address, location, user agent) and whether it was made with an API token; if so, find out who made that token and when.',
      'Look at the token creation alerts of the last hours: switching the hook off right after a token was made is the pattern this rule exists for.',
      'For a failed delivery: check that okta-token-watch is running and that its receiver (and the reverse proxy in front of it) is reachable from the internet; `okta-token-watch event-hook status` shows what Okta thinks of the hook.',
      'For an update: compare the hook\'s URL, events and headers in the Admin Console (Workflow > Event Hooks) with what `event-hook register` set up; a URL that points elsewhere sends your events to someone else.',
    ],
    benign: [
      'An admin removing or re-registering the hook on purpose (maintenance, a move to a new URL).',
      'A planned outage of okta-token-watch or its reverse proxy, making deliveries fail for a while.',
      'Before a hook was registered here: another team switching off one of their own hooks (this rule then watches every hook in the org).',
    ],
    response: [
      'Until push is back, polling still alerts every token creation: check that ticks keep succeeding (`okta-token-watch status`).',
      'If nobody can explain the change, treat the actor\'s account and any token made recently as compromised: revoke the tokens (Security > API > Tokens) and clear the actor\'s sessions.',
      'Put the hook back with `okta-token-watch event-hook register --url ...` and confirm it is ACTIVE and VERIFIED with `event-hook status`.',
      'Limit who may manage event hooks (the okta.eventHooks.manage scope, super admin rights) to the admins who need to.',
      'Tell the security team and record what happened.',
    ],
  },
});
