import type { EnvReader } from '../config';
import type { NotifyConfig } from '../notify/config';

/** Slack app mode: a Socket Mode connection for the buttons on alert messages. */
export interface SlackAppConfig {
  /** The app-level token (`xapp-...`, scope connections:write): opens the Socket Mode connection. */
  appToken: string;
  /** The bot token the alerts are posted with: updates messages, replies, opens modals. */
  botToken: string;
  /** The channel id the alerts go to: clicks from anywhere else are ignored. */
  channel: string;
  /** `https://slack.com/api`, or a loopback stand-in in tests (SLACK_API_URL). */
  apiUrl: string;
}

/**
 * SLACK_APP_TOKEN, checked against the Slack notifier's settings it depends on; null when unset.
 * Problems name the setting, never its value.
 */
export function parseSlackAppConfig(r: EnvReader, notify: NotifyConfig): SlackAppConfig | null {
  const appToken = r.secret('SLACK_APP_TOKEN');
  if (appToken === undefined) return null;
  const before = r.problems.length;
  if (!/^xapp-[A-Za-z0-9-]{10,}$/.test(appToken)) {
    r.problem('SLACK_APP_TOKEN is not a Slack app-level token: create one with the connections:write scope under Basic Information > App-Level Tokens; it starts with xapp-.');
  }
  if (r.get('SLACK_BOT_TOKEN') === undefined || r.get('SLACK_CHANNEL') === undefined) {
    r.problem('SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN and SLACK_CHANNEL are not: app mode needs the bot token and the channel the alerts are posted to.');
    return null;
  }
  const slack = notify.slack;
  // parseNotifyConfig has already reported what is wrong with the bot settings themselves.
  if (!slack || slack.transport !== 'bot') return null;
  // A click names its channel by id; a #name could never be matched against it.
  if (!/^[CG][A-Z0-9]{6,}$/.test(slack.channel)) {
    r.problem('SLACK_CHANNEL must be a channel id like C0123456789 when SLACK_APP_TOKEN is set: button clicks are accepted only from that channel, and Slack names it by id.');
  }
  if (!notify.enabled.includes('slack')) {
    r.problem('SLACK_APP_TOKEN is set but NOTIFIERS does not include slack: the buttons come with the Slack alerts, so add slack to NOTIFIERS or unset SLACK_APP_TOKEN.');
  }
  if (r.problems.length > before) return null;
  return { appToken, botToken: slack.token, channel: slack.channel, apiUrl: slack.apiUrl };
}
