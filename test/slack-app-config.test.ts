import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createApp } from '../src/app';
import { runCheck } from '../src/check';
import { parseConfig, type Env } from '../src/config';
import { ConfigError } from '../src/errors';
import { createLogger } from '../src/logger';
import { buildSampleAlert } from '../src/notify/sample-alert';
import { formatSlack } from '../src/notify/slack';
import { readInteraction } from '../src/slack-app/interaction';
import { FakeOkta } from './helpers/fake-okta';
import { FakeSlack } from './helpers/fake-slack';
import { LineSink, runCli, tmpDir } from './helpers/harness';

const OKTA = { OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: 'FAKE-okta-api-token-for-tests' };
const BOT = { SLACK_BOT_TOKEN: 'xoxb-FAKE-bot-token-for-tests', SLACK_CHANNEL: 'C0SECURITY1' };
const APP_TOKEN = 'xapp-FAKE-app-token-for-tests';

function problems(env: Env): string[] {
  try {
    parseConfig({ ...OKTA, DB_PATH: path.join(tmpDir(), 'db.sqlite'), ...env }, { requireOkta: true });
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
}

describe('SLACK_APP_TOKEN', () => {
  test('when it is set with the bot token and a channel id, then app mode is on; unset, it is off', () => {
    const on = parseConfig({ ...OKTA, ...BOT, SLACK_APP_TOKEN: APP_TOKEN }, { requireOkta: true });
    assert.deepEqual(on.slackApp, { appToken: APP_TOKEN, botToken: BOT.SLACK_BOT_TOKEN, channel: 'C0SECURITY1', apiUrl: 'https://slack.com/api' });
    assert.ok(on.secrets.includes(APP_TOKEN), 'the app token is redacted from logs');
    assert.equal(parseConfig({ ...OKTA, ...BOT }, { requireOkta: true }).slackApp, null);
  });

  test('when it is not an xapp- token, lacks the bot token, names the channel by #name, or Slack is not a notifier, then one sentence names the setting and never the value', () => {
    const cases: Array<[Env, RegExp]> = [
      [{ ...BOT, SLACK_APP_TOKEN: 'xoxb-FAKE-bot-token-for-tests' }, /^SLACK_APP_TOKEN is not a Slack app-level token/],
      [{ SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/TFAKE/BFAKE/FAKE-webhook-path-for-tests', SLACK_APP_TOKEN: APP_TOKEN }, /^SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN and SLACK_CHANNEL are not/],
      [{ ...BOT, SLACK_CHANNEL: '#security', SLACK_APP_TOKEN: APP_TOKEN }, /^SLACK_CHANNEL must be a channel id like C0123456789 when SLACK_APP_TOKEN is set/],
      [{ ...BOT, NOTIFIERS: 'console', SLACK_APP_TOKEN: APP_TOKEN }, /^SLACK_APP_TOKEN is set but NOTIFIERS does not include slack/],
    ];
    for (const [env, expected] of cases) {
      const p = problems(env);
      assert.equal(p.filter((x) => expected.test(x)).length, 1, `${expected} in ${JSON.stringify(p)}`);
      assert.doesNotMatch(p.join('\n'), /FAKE/);
    }
  });

  test('when the daemon is started with a bad SLACK_APP_TOKEN, then it stops with exit 78 naming the setting and not its value', async () => {
    const r = await runCli(['run'], { ...OKTA, ...BOT, DB_PATH: path.join(tmpDir(), 'db.sqlite'), SLACK_APP_TOKEN: 'xapp-FAKE!!not-a-token' }, { timeoutMs: 60_000 });
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /SLACK_APP_TOKEN is not a Slack app-level token/);
    assert.doesNotMatch(r.stdout + r.stderr, /FAKE/);
  });
});

describe('check in Slack app mode', () => {
  test('when the app token works, then "slack app" passes and says who may act; when Slack refuses it, then the line says why; neither shows a token', async () => {
    const okta = new FakeOkta({ token: OKTA.OKTA_API_TOKEN });
    const origin = await okta.start();
    const slack = new FakeSlack();
    await slack.start();
    try {
      const run = async (appToken: string): Promise<string[]> => {
        const config = parseConfig({ ...OKTA, OKTA_ORG_URL: origin, ...BOT, SLACK_BOT_TOKEN: slack.botToken, SLACK_API_URL: slack.apiUrl, SLACK_APP_TOKEN: appToken, DB_PATH: path.join(tmpDir(), 'db.sqlite') }, { requireOkta: true });
        const app = await createApp(config, {
          logger: createLogger(config.log, { stream: new LineSink() }),
          responder: { policy: { actions: ['expected', 'acknowledge'], users: ['U0ALICE01'], groups: ['S0SECOPS1'] }, respond: () => Promise.reject(new Error('not called')) },
        });
        try {
          const lines = await runCheck(app);
          const out = lines.filter((l) => l.name === 'slack app' || l.name === 'notifier slack').map((l) => `${l.name} ${l.ok ? (l.warn ? 'WARN' : 'OK') : 'FAIL'} ${l.detail}`);
          assert.doesNotMatch(JSON.stringify(lines), /xapp-|xoxb-/);
          return out;
        } finally {
          await app.close();
        }
      };
      assert.deepEqual(await run(slack.appToken), [
        'notifier slack OK settings valid and destination reachable',
        'slack app OK SLACK_APP_TOKEN opens a Socket Mode connection',
        'slack app OK buttons on alerts: expected, acknowledge; 1 user(s) and 1 user group(s) may act',
      ]);
      assert.equal(slack.callsOf('apps.connections.open').at(-1)!.token, slack.appToken);
      const refused = await run('xapp-FAKE-some-other-app-token');
      assert.match(refused[1]!, /^slack app FAIL Slack apps\.connections\.open refused SLACK_APP_TOKEN: invalid_auth \(SLACK_APP_TOKEN is wrong or was revoked/);
    } finally {
      await slack.stop();
      await okta.stop();
    }
  });
});

describe('response buttons on Slack alerts', () => {
  const alert = buildSampleAlert({ source: 'poll', tokenName: 'ci <!here> `x` '.repeat(20) });
  const respondBlock = (m: ReturnType<typeof formatSlack>): Record<string, unknown> | undefined => m.blocks.find((b) => b.block_id === 'otw_respond');

  test('when app mode is off, then alerts carry no response buttons; when on, then Revoke (danger, confirm naming token and owner), Expected and Acknowledge carry only the alert id', () => {
    assert.equal(respondBlock(formatSlack({ kind: 'alert', alert })), undefined);
    const block = respondBlock(formatSlack({ kind: 'alert', alert }, { responses: { actions: ['revoke', 'expected', 'acknowledge'] } }))!;
    const elements = block.elements as Array<Record<string, any>>;
    assert.deepEqual(elements.map((e) => [e.action_id, e.value]), [['otw_revoke', alert.id], ['otw_expected', alert.id], ['otw_acknowledge', alert.id]]);
    const revoke = elements[0]!;
    assert.equal(revoke.style, 'danger');
    assert.match(revoke.confirm.text.text, /^Revoke the API token "ci <!here>.*" \(00Tb1x2y3z4A5B6C7d8\) owned by jordan\.admin@example\.com\?/);
    assert.ok(revoke.confirm.text.text.length <= 300, 'Slack allows 300 characters in a confirm text');
    assert.equal(revoke.confirm.text.type, 'plain_text', 'plain text: no markup of the token name is parsed');
  });

  test('when revoke is not in the actions, a test notification is formatted, or the alert is about an event hook, then no Revoke button (and none at all for a test)', () => {
    const noRevoke = respondBlock(formatSlack({ kind: 'alert', alert }, { responses: { actions: ['expected', 'acknowledge'] } }))!;
    assert.deepEqual((noRevoke.elements as Array<{ action_id: string }>).map((e) => e.action_id), ['otw_expected', 'otw_acknowledge']);
    assert.equal(respondBlock(formatSlack({ kind: 'alert', alert, test: true }, { responses: { actions: ['revoke'] } })), undefined);
    const hook = { ...alert, token: null, eventHook: { id: 'who1', name: 'okta-token-watch', change: 'deactivated' as const, ours: true } };
    const hookBlock = respondBlock(formatSlack({ kind: 'alert', alert: hook }, { responses: { actions: ['revoke', 'acknowledge'] } }))!;
    assert.deepEqual((hookBlock.elements as Array<{ action_id: string }>).map((e) => e.action_id), ['otw_acknowledge']);
  });

  test('when a click is read, then only the first action of our ids from the configured channel with an alert id as value counts', () => {
    const click = (over: Record<string, unknown> = {}, action: Record<string, unknown> = {}): unknown => ({
      type: 'block_actions',
      user: { id: 'U0ALICE01', username: 'alice' },
      container: { type: 'message', channel_id: 'C0SECURITY1', message_ts: '1700000001.000001' },
      trigger_id: '1.2.3',
      actions: [{ action_id: 'otw_revoke', value: alert.id, ...action }],
      ...over,
    });
    assert.deepEqual(readInteraction(click(), 'C0SECURITY1'), { kind: 'click', action: 'revoke', alertId: alert.id, user: { id: 'U0ALICE01', name: 'alice' }, message: { channel: 'C0SECURITY1', ts: '1700000001.000001' }, triggerId: '1.2.3' });
    assert.equal(readInteraction(click({}, { action_id: 'otw_open_api_tokens' }), 'C0SECURITY1').kind, 'ignore');
    assert.equal(readInteraction(click({ container: { type: 'view', view_id: 'V1' } }), 'C0SECURITY1').kind, 'ignore');
    assert.equal(readInteraction(click({ user: { id: 12 } }), 'C0SECURITY1').kind, 'ignore');
    assert.equal(readInteraction(click({}, { value: { id: alert.id } }), 'C0SECURITY1').kind, 'ignore');
    assert.equal(readInteraction(click({ actions: [{ action_id: 'otw_revoke', value: alert.id }, { action_id: 'otw_revoke', value: alert.id }] }), 'C0SECURITY1').kind, 'ignore');
    assert.equal(readInteraction(null, 'C0SECURITY1').kind, 'ignore');
  });
});
