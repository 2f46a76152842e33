import type { Alert } from '../detect/alert';
import { actorShort, subjectName } from '../notify/facts';
import { bound, breakMentions, escapeSlack, plainText, slackCode } from '../notify/sanitize';
import type { ResponseAction, ResponseOutcome } from './respond-port';

/**
 * The Slack app's Block Kit: the response buttons on an alert, the "Expected" modal, the status
 * line and thread reply after an action. Pure. Every value from an event or from a person is
 * escaped and bounded here; the button `value` is only ever the alert id, so nothing else a click
 * carries back is needed or trusted.
 */

/** Our action ids, one per action: a click with any other id acts on nothing. */
export const ACTION_IDS: Readonly<Record<ResponseAction, string>> = {
  revoke: 'otw_revoke',
  expected: 'otw_expected',
  acknowledge: 'otw_acknowledge',
};

/** The block holding the response buttons. */
export const RESPOND_BLOCK_ID = 'otw_respond';
/** The Expected modal: its callback id, and where its reason input lives. */
export const EXPECTED_CALLBACK_ID = 'otw_expected_reason';
export const REASON_BLOCK_ID = 'otw_reason';
export const REASON_ACTION_ID = 'otw_reason_input';
/** Longest reason kept (Slack's input allows 3000). */
export const REASON_MAX = 1000;

/** Which buttons alert messages carry when app mode is on. */
export interface ResponseButtonsOption {
  actions: readonly ResponseAction[];
}

/** The action an action_id stands for, or null for anything else (a link button, a forgery). */
export function actionOf(actionId: unknown): ResponseAction | null {
  for (const [action, id] of Object.entries(ACTION_IDS) as Array<[ResponseAction, string]>) if (id === actionId) return action;
  return null;
}

/** Plain text for Slack's plain_text fields: no markup is parsed there, so only bound it. */
function plain(value: unknown, max: number): string {
  return bound(plainText(value, max * 2).replace(/\s+/g, ' '), max);
}

/** Our sentence with data in it, for mrkdwn. */
function own(text: string, max = 600): string {
  return escapeSlack(breakMentions(plainText(text, max)));
}

/** True for an alert that can be revoked from Slack: a token creation with a token id. */
function revocable(a: Alert): boolean {
  return !a.unreadable && !a.eventHook && typeof a.token?.id === 'string' && a.token.id !== '';
}

/**
 * The actions block with Revoke token (danger, with a confirm dialog naming the token and its
 * owner), Expected and Acknowledge, as `option.actions` allows; null when none applies.
 */
export function responseButtons(a: Alert, option: ResponseButtonsOption | undefined): Record<string, unknown> | null {
  if (!option || a.unreadable || a.id.length > 2000) return null;
  const elements: Array<Record<string, unknown>> = [];
  const button = (action: ResponseAction, text: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    type: 'button',
    action_id: ACTION_IDS[action],
    text: { type: 'plain_text', text, emoji: false },
    value: a.id,
    ...extra,
  });
  if (option.actions.includes('revoke') && revocable(a)) {
    // The creator of an API token is its owner: the token acts with that admin's permissions.
    const owner = plain(actorShort(a), 80);
    const name = plain(subjectName(a) ?? 'unnamed', 60);
    elements.push(
      button('revoke', 'Revoke token', {
        style: 'danger',
        confirm: {
          title: { type: 'plain_text', text: 'Revoke this API token?' },
          text: { type: 'plain_text', text: bound(`Revoke the API token "${name}" (${plain(a.token!.id, 40)}) owned by ${owner}? Everything using it stops working at once.`, 300) },
          confirm: { type: 'plain_text', text: 'Revoke' },
          deny: { type: 'plain_text', text: 'Cancel' },
          style: 'danger',
        },
      }),
    );
  }
  if (option.actions.includes('expected')) elements.push(button('expected', 'Expected'));
  if (option.actions.includes('acknowledge')) elements.push(button('acknowledge', 'Acknowledge'));
  return elements.length ? { type: 'actions', block_id: RESPOND_BLOCK_ID, elements } : null;
}

/**
 * The modal asking why the token was expected. `private_metadata` carries the alert id and the
 * message to update, which Slack hands back on submission; it is checked again like a click.
 */
export function expectedModal(a: Alert, message: { channel: string; ts: string }): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: EXPECTED_CALLBACK_ID,
    private_metadata: JSON.stringify({ alertId: a.id, channel: message.channel, ts: message.ts }),
    title: { type: 'plain_text', text: 'Expected token' },
    submit: { type: 'plain_text', text: 'Record' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `Token ${slackCode(subjectName(a), 80)} by ${slackCode(actorShort(a), 100)}. Say why it is expected; the reason is stored and shown to the channel.`, verbatim: true } },
      {
        type: 'input',
        block_id: REASON_BLOCK_ID,
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: REASON_ACTION_ID, multiline: true, min_length: 3, max_length: REASON_MAX },
      },
    ],
  };
}

const VERB: Record<ResponseAction, string> = { revoke: 'Revoke', expected: 'Marked expected', acknowledge: 'Acknowledged' };

/** How one outcome reads: "Revoked", "Revoke failed", ... */
export function outcomeTitle(action: ResponseAction, outcome: ResponseOutcome): string {
  switch (outcome.result) {
    case 'revoked':
      return 'Revoked';
    case 'already-gone':
      return 'Already gone';
    case 'forbidden':
      return `${action === 'revoke' ? 'Revoke' : VERB[action]} not permitted`;
    case 'failed':
      return `${action === 'revoke' ? 'Revoke' : VERB[action]} failed`;
    case 'refused':
      return 'Refused';
    default:
      return VERB[action];
  }
}

/** `<@U123>` for a Slack user id as Slack gave it, else the name as text. */
function who(user: { id: string; name: string | null }): string {
  return /^[UW][A-Z0-9]{2,20}$/.test(user.id) ? `<@${user.id}>` : slackCode(user.name ?? user.id, 60);
}

/** The status line shown on the alert after an action: who, when, result. */
export function statusBlock(action: ResponseAction, outcome: ResponseOutcome, user: { id: string; name: string | null }, at: Date): Record<string, unknown> {
  const icon = outcome.result === 'revoked' || outcome.result === 'already-gone' ? ':no_entry:' : outcome.result === 'recorded' ? ':white_check_mark:' : ':warning:';
  return {
    type: 'section',
    block_id: 'otw_status',
    text: { type: 'mrkdwn', verbatim: true, text: `${icon} *${outcomeTitle(action, outcome)}* by ${who(user)} at ${slackCode(at.toISOString(), 40)}\n${own(outcome.message, 600)}` },
  };
}

/** The thread reply that records an action (and, for Expected, the reason and the exceptions entry). */
export function threadReply(action: ResponseAction, outcome: ResponseOutcome, user: { id: string; name: string | null }, at: Date, reason: string | null): { text: string; blocks: Array<Record<string, unknown>> } {
  const status = statusBlock(action, outcome, user, at);
  const blocks: Array<Record<string, unknown>> = [{ ...status, block_id: undefined }];
  if (reason) blocks.push({ type: 'section', text: { type: 'mrkdwn', verbatim: true, text: `*Reason*\n${own(reason, REASON_MAX)}` } });
  if (outcome.exceptionEntry) {
    // A code block shows the YAML as typed; only its closing fence and Slack's markup characters need care.
    const yaml = escapeSlack(bound(outcome.exceptionEntry, 2500)).replace(/```/g, 'ˋˋˋ');
    blocks.push({ type: 'section', text: { type: 'mrkdwn', verbatim: true, text: `*To stop alerting on this source, add to the exceptions file*\n\`\`\`${yaml}\`\`\`` } });
  }
  const text = `${outcomeTitle(action, outcome)}: ${plain(outcome.message, 300)}`;
  return { text: escapeSlack(breakMentions(text)), blocks };
}

/** The ephemeral answer to someone who may not act. */
export function notAllowedText(action: ResponseAction): string {
  return `You are not allowed to ${action === 'revoke' ? 'revoke tokens' : action === 'expected' ? 'mark alerts expected' : 'acknowledge alerts'} from okta-token-watch: ask an administrator to add your Slack user id to RESPONDERS. This attempt was recorded.`;
}
