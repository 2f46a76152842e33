import type { ResponseOutcome as SlackOutcome, Responder, ResponsePolicy } from '../slack-app/respond-port';
import type { ResponseConfig } from './config';
import { respond, type RespondDeps } from './respond';

/** RESPONSE_ACTIONS and RESPONDERS as the Slack app reads them (buttons, who may click). */
export function slackPolicy(config: ResponseConfig): ResponsePolicy {
  return { actions: [...config.actions], users: [...config.users], groups: [...config.groups] };
}

/**
 * The response actions as the Slack app calls them: `respond()` with the Slack click's user.
 *
 * The Slack app has already authorised the user (their id, or membership of a RESPONDERS user
 * group it looked up); `respond` checks again on the id and the groups the app vouches for, so a
 * refusal is always stored by the same code. A click the app refused is passed on with no group,
 * so it is stored as refused too. The app itself updates the alert message and replies in its
 * thread, so the action's follow-up goes to the other notifiers only, never twice to Slack.
 */
export function slackResponder(deps: RespondDeps): Responder {
  const policy = slackPolicy(deps.config);
  // A second click on a revoke still waiting for Okta is told so at once rather than held: Slack
  // shows nothing until it is answered, and a held click would hold the daemon's shutdown too.
  const others = { ...deps, notifiers: deps.notifiers.filter((n) => n !== 'slack'), waitForPendingMs: deps.waitForPendingMs ?? 2000 };
  return {
    policy,
    async respond(req): Promise<SlackOutcome> {
      const out = await respond(others, {
        target: req.alertId,
        action: req.action,
        by: { via: 'slack', id: req.by.id, name: req.by.name, groupIds: req.refused === undefined ? policy.groups : [] },
        reason: req.reason,
      });
      const repeat = out.status === 'already' || out.status === 'in-progress';
      const previous = out.previous?.result;
      const result: SlackOutcome['result'] =
        out.result === 'duplicate' || out.result === 'pending'
          ? previous === 'revoked' || previous === 'already-gone'
            ? previous
            : 'recorded'
          : out.result;
      return {
        result,
        // Raw token names and reasons: the Slack app escapes this for mrkdwn.
        message: out.text,
        alreadyDone: repeat,
        exceptionEntry: out.exceptionEntry && out.exceptionEntry.yaml ? out.exceptionEntry.yaml : null,
      };
    },
  };
}
