/**
 * What the Slack app needs from the response actions (issue 13, part G: `src/respond/`). The Slack
 * app only renders and routes; the action itself (the Okta call, the audit row, the follow-up to the
 * other notifiers) is part G's `respond()`, injected as a `RespondFn` so the two can be built and
 * tested apart.
 */

/** The actions an analyst can take on an alert. */
export type ResponseAction = 'revoke' | 'expected' | 'acknowledge';

export const RESPONSE_ACTIONS: readonly ResponseAction[] = ['revoke', 'expected', 'acknowledge'];

/** Who asked: for the Slack app always `via: 'slack'` with the payload's `user.id` and name. */
export interface ResponseActor {
  via: 'slack' | 'cli';
  id: string | null;
  name: string | null;
}

/** One request to act on an alert. */
export interface RespondRequest {
  alertId: string;
  action: ResponseAction;
  by: ResponseActor;
  /** The analyst's reason (Expected; optional for Acknowledge), raw text as typed. */
  reason: string | null;
  /**
   * Set when the Slack app refused the request before acting (the user is not in RESPONDERS, the
   * action is turned off): `respond` stores the attempt with result `refused` and this reason, and
   * acts on nothing.
   */
  refused?: string;
}

/** What happened, for an interface to show. */
export interface ResponseOutcome {
  result: 'revoked' | 'already-gone' | 'forbidden' | 'failed' | 'recorded' | 'refused';
  /** One sentence in our own words, e.g. "revoked token X (owner Y)", "already revoked by Z at T". */
  message: string;
  /**
   * True when nothing new happened because the same action was already done or is in progress
   * (a second click on Revoke): the Slack app then answers only the clicker, not the channel.
   */
  alreadyDone?: boolean;
  /**
   * For `expected`: the exceptions-file entry (YAML) that would suppress this source in future;
   * the Slack app shows it in the thread.
   */
  exceptionEntry?: string | null;
}

/** Part G's `respond(deps, request)`, with its deps bound. Never throws for an Okta failure. */
export type RespondFn = (request: RespondRequest) => Promise<ResponseOutcome>;

/** Who may act and which actions are on (RESPONDERS and RESPONSE_ACTIONS, parsed by part G). */
export interface ResponsePolicy {
  actions: readonly ResponseAction[];
  /** Slack user ids (`U...`/`W...`). */
  users: readonly string[];
  /** Slack user group ids (`S...`): their members may act too. */
  groups: readonly string[];
}

/** The response actions as the program wires them into the Slack app. */
export interface Responder {
  respond: RespondFn;
  policy: ResponsePolicy;
}
