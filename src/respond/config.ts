import type { EnvReader } from '../config';

/** What an analyst may do about an alert. */
export type ResponseAction = 'revoke' | 'expected' | 'acknowledge';

export const RESPONSE_ACTION_NAMES: readonly ResponseAction[] = ['revoke', 'expected', 'acknowledge'];

/** RESPONSE_ACTIONS and RESPONDERS, parsed. */
export interface ResponseConfig {
  /** The actions this installation allows; revoke only when RESPONSE_ACTIONS lists it. */
  actions: ReadonlySet<ResponseAction>;
  /** Slack user ids (`U...`, `W...`) that may act. */
  users: ReadonlySet<string>;
  /** Slack user group ids (`S...`): their members may act. */
  groups: ReadonlySet<string>;
}

// Slack ids are upper-case letters and digits after the type letter; 8 to 20 in practice.
const SLACK_USER_ID = /^[UW][A-Z0-9]{2,30}$/;
const SLACK_GROUP_ID = /^S[A-Z0-9]{2,30}$/;

/**
 * Reads RESPONSE_ACTIONS (default `expected,acknowledge`: revoking stays off unless listed) and
 * RESPONDERS (a comma list of Slack user ids and user group ids; unset: no Slack user may act, the
 * CLI is unaffected). A bad value is a problem naming the setting, never echoing the value.
 */
export function parseResponseConfig(r: EnvReader): ResponseConfig {
  const actions = new Set<ResponseAction>();
  const rawActions = r.get('RESPONSE_ACTIONS') ?? 'expected,acknowledge';
  for (const word of rawActions.split(',').map((w) => w.trim().toLowerCase()).filter(Boolean)) {
    if ((RESPONSE_ACTION_NAMES as readonly string[]).includes(word)) actions.add(word as ResponseAction);
    else {
      r.problem(`RESPONSE_ACTIONS must be a comma list of ${RESPONSE_ACTION_NAMES.join(', ')} (default expected,acknowledge).`);
      break;
    }
  }
  const users = new Set<string>();
  const groups = new Set<string>();
  for (const id of (r.get('RESPONDERS') ?? '').split(',').map((w) => w.trim()).filter(Boolean)) {
    if (SLACK_USER_ID.test(id)) users.add(id);
    else if (SLACK_GROUP_ID.test(id)) groups.add(id);
    else {
      r.problem('RESPONDERS must be a comma list of Slack user ids (U... or W...) and user group ids (S...), as Slack shows them under "Copy member ID".');
      break;
    }
  }
  return { actions, users, groups };
}

/**
 * True when a Slack user may act on alerts: the user is listed in RESPONDERS, or is a member of a
 * user group listed there. `groupIds` are the groups the caller found the user in (the Slack app
 * resolves membership); an unlisted user with no listed group is never allowed.
 */
export function isAllowed(config: ResponseConfig, slackUserId: string, groupIds: readonly string[] = []): boolean {
  if (config.users.has(slackUserId)) return true;
  return groupIds.some((g) => config.groups.has(g));
}
