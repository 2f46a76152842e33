/**
 * The event types our Okta event hook subscribes to: those of the rule set that Okta can push.
 * One constant so that it can be derived from the rule set once the rules are data.
 */
export const HOOK_ELIGIBLE_EVENT_TYPES: readonly string[] = ['system.api_token.create'];
