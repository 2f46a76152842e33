import { actionOf, EXPECTED_CALLBACK_ID, REASON_ACTION_ID, REASON_BLOCK_ID, REASON_MAX } from './blocks';
import type { ResponseAction } from './respond-port';

/** A Slack user as the payload names them: the id is what authorises, the name is for display. */
export interface SlackUser {
  id: string;
  name: string | null;
}

/** The message an action is about (where the alert was posted). */
export interface MessageRef {
  channel: string;
  ts: string;
}

/** What an interactive payload asks for, once checked; anything unexpected becomes `ignore`. */
export type Intent =
  | { kind: 'click'; action: ResponseAction; alertId: string; user: SlackUser; message: MessageRef; triggerId: string | null }
  | { kind: 'expected-reason'; alertId: string; user: SlackUser; message: MessageRef; reason: string }
  /** `quiet`: a normal thing to ignore (a link button's click), not worth a warning. */
  | { kind: 'ignore'; why: string; quiet?: boolean };

const USER_ID = /^[UW][A-Z0-9]{2,20}$/;
const CHANNEL_ID = /^[CG][A-Z0-9]{2,20}$/;
const MESSAGE_TS = /^\d{1,12}\.\d{1,8}$/;
// Alert ids are `otw-<event uuid>` or `otw-unreadable-<hash>` (build-alert.ts); button values are ours.
const ALERT_ID = /^otw-[A-Za-z0-9._:-]{1,200}$/;

function obj(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function userOf(payload: Record<string, unknown>): SlackUser | null {
  const u = obj(payload.user);
  const id = str(u?.id);
  if (!id || !USER_ID.test(id)) return null;
  const name = str(u?.username) ?? str(u?.name);
  return { id, name: name ? name.slice(0, 80) : null };
}

/**
 * Reads an interactive payload (Socket Mode envelope `payload`). Accepts only our buttons on a
 * message in `channel` and our Expected modal; every field is checked for type and shape, and the
 * button value must be an alert id. Authorisation and the alert's existence are checked later.
 */
export function readInteraction(payload: unknown, channel: string): Intent {
  const p = obj(payload);
  if (!p) return { kind: 'ignore', why: 'the payload is not an object' };
  const user = userOf(p);
  if (p.type === 'block_actions') {
    const actions = Array.isArray(p.actions) ? p.actions : [];
    const first = obj(actions[0]);
    const actionId = str(first?.action_id);
    const action = actionOf(actionId);
    if (!action) {
      // Our link buttons (API tokens page, System Log) send a click too when interactivity is on.
      const quiet = actionId !== null && /^otw_open_/.test(actionId);
      return { kind: 'ignore', why: `not one of our action ids (${(actionId ?? 'none').replace(/[^\w.-]/g, '?').slice(0, 40)})`, quiet };
    }
    if (actions.length !== 1) return { kind: 'ignore', why: 'a click carries exactly one action' };
    if (!user) return { kind: 'ignore', why: 'no valid user id' };
    const container = obj(p.container);
    const ch = str(container?.channel_id) ?? str(obj(p.channel)?.id);
    const ts = str(container?.message_ts) ?? str(obj(p.message)?.ts);
    if (container?.type !== 'message' || !ch || !ts || !MESSAGE_TS.test(ts)) return { kind: 'ignore', why: 'not a click on a channel message' };
    if (ch !== channel) return { kind: 'ignore', why: 'a click from another channel than SLACK_CHANNEL' };
    const alertId = str(first?.value);
    if (!alertId || !ALERT_ID.test(alertId)) return { kind: 'ignore', why: 'the button value is not an alert id' };
    const trigger = str(p.trigger_id);
    return { kind: 'click', action, alertId, user, message: { channel: ch, ts }, triggerId: trigger && trigger.length <= 200 ? trigger : null };
  }
  if (p.type === 'view_submission') {
    const view = obj(p.view);
    if (view?.callback_id !== EXPECTED_CALLBACK_ID) return { kind: 'ignore', why: 'not our modal' };
    if (!user) return { kind: 'ignore', why: 'no valid user id' };
    let meta: Record<string, unknown> | null = null;
    try {
      meta = obj(JSON.parse(str(view.private_metadata) ?? ''));
    } catch {
      meta = null;
    }
    const alertId = str(meta?.alertId);
    const ch = str(meta?.channel);
    const ts = str(meta?.ts);
    if (!alertId || !ALERT_ID.test(alertId) || !ch || !CHANNEL_ID.test(ch) || !ts || !MESSAGE_TS.test(ts)) return { kind: 'ignore', why: 'the modal does not name an alert message' };
    if (ch !== channel) return { kind: 'ignore', why: 'a modal for another channel than SLACK_CHANNEL' };
    const values = obj(obj(view.state)?.values);
    const reason = str(obj(obj(values?.[REASON_BLOCK_ID])?.[REASON_ACTION_ID])?.value);
    if (!reason || reason.trim().length === 0) return { kind: 'ignore', why: 'the modal has no reason' };
    return { kind: 'expected-reason', alertId, user, message: { channel: ch, ts }, reason: reason.trim().slice(0, REASON_MAX) };
  }
  return { kind: 'ignore', why: `an interaction of type ${String(p.type).replace(/[^\w.-]/g, '?').slice(0, 40)}`, quiet: true };
}
