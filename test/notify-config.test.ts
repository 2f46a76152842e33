import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseConfig, type Env } from '../src/config';
import { ConfigError } from '../src/errors';
import { nullLogger } from '../src/logger';
import { ConsoleNotifier } from '../src/notify/console';
import { buildNotifiers, defaultRegistry, NotifierRegistry } from '../src/notify/registry';
import { runCli, tmpDir } from './helpers/harness';

const WEBHOOK_SECRET_URL = 'https://hooks.slack.com/services/TFAKE/BFAKE/FAKE-webhook-path-for-tests';
const BOT = 'xoxb-FAKE-bot-token-for-tests';
const SMTP_PASSWORD = 'FAKE-smtp-password-for-tests';
const PD_KEY = 'FAKEpagerdutyroutingkey000000001';
const TEAMS_URL = 'https://prod-01.westeurope.logic.azure.com:443/workflows/FAKE/triggers/manual/paths/invoke?api-version=2016-06-01&sig=FAKE-teams-signature';

function notify(env: Env) {
  return parseConfig(env, { requireOkta: false }).notify;
}

/** The problems parseConfig reports for env (fails when it reports none). */
function problems(env: Env): string[] {
  try {
    parseConfig(env, { requireOkta: false });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

const SMTP: Env = { SMTP_HOST: 'mail.example.com', EMAIL_FROM: 'otw@example.com', EMAIL_TO: 'secops@example.com, oncall@example.com' };

describe('notifier settings', () => {
  test('when nothing is configured, then console alone is enabled and marked as defaulted', () => {
    const n = notify({});
    assert.deepEqual([n.enabled, n.defaulted, n.slack, n.email, n.webhook], [['console'], true, null, null, null]);
    assert.equal(n.timeoutMs, 20_000);
  });

  test('when Slack, email and webhook settings are present, then all three are enabled in that order', () => {
    const c = parseConfig({ SLACK_WEBHOOK_URL: WEBHOOK_SECRET_URL, ...SMTP, SMTP_USER: 'otw', SMTP_PASSWORD, WEBHOOK_URL: 'https://siem.example.com/in', WEBHOOK_SECRET: 'x'.repeat(32) }, { requireOkta: false });
    assert.deepEqual(c.notify.enabled, ['slack', 'email', 'webhook']);
    assert.equal(c.notify.defaulted, false);
    assert.deepEqual(c.notify.email, {
      smtp: { host: 'mail.example.com', port: 587, secure: false, requireTls: true, user: 'otw', password: SMTP_PASSWORD },
      from: 'otw@example.com',
      to: ['secops@example.com', 'oncall@example.com'],
    });
    for (const secret of [WEBHOOK_SECRET_URL, SMTP_PASSWORD, 'x'.repeat(32), 'https://siem.example.com/in']) assert.ok(c.secrets.includes(secret), 'registered for redaction');
  });

  test('when NOTIFIERS is set, then it overrides which configured notifiers are enabled', () => {
    const n = notify({ NOTIFIERS: 'email, console,email', SLACK_WEBHOOK_URL: WEBHOOK_SECRET_URL, ...SMTP });
    assert.deepEqual(n.enabled, ['email', 'console']);
    assert.notEqual(n.slack, null, 'still parsed, just not enabled');
  });

  test('when SMTP_URL is used, then host, port, TLS and login come from it and the password is a secret', () => {
    const c = parseConfig({ SMTP_URL: `smtps://otw%40example.com:${SMTP_PASSWORD}@mail.example.com`, EMAIL_FROM: 'Token Watch <otw@example.com>', EMAIL_TO: 'secops@example.com' }, { requireOkta: false });
    assert.deepEqual(c.notify.email?.smtp, { host: 'mail.example.com', port: 465, secure: true, requireTls: true, user: 'otw@example.com', password: SMTP_PASSWORD });
    assert.ok(c.secrets.includes(SMTP_PASSWORD));
    assert.equal(c.notify.email?.from, 'Token Watch <otw@example.com>');
  });

  test('when SMTP is on loopback, then TLS is not required by default; port 465 implies TLS', () => {
    assert.equal(notify({ ...SMTP, SMTP_HOST: '127.0.0.1', SMTP_PORT: '2525' }).email?.smtp.requireTls, false);
    assert.equal(notify({ ...SMTP, SMTP_PORT: '465' }).email?.smtp.secure, true);
    assert.equal(notify({ ...SMTP, SMTP_REQUIRE_TLS: 'false' }).email?.smtp.requireTls, false);
  });

  test('when PagerDuty and Teams are configured, then both are enabled, their secrets are registered, and PagerDuty posts to PagerDuty unless a loopback test server is named', () => {
    const c = parseConfig({ PAGERDUTY_ROUTING_KEY: PD_KEY, TEAMS_WEBHOOK_URL: TEAMS_URL }, { requireOkta: false });
    assert.deepEqual(c.notify.enabled, ['pagerduty', 'teams']);
    assert.deepEqual(c.notify.pagerduty, { routingKey: PD_KEY, eventsUrl: 'https://events.pagerduty.com/v2/enqueue' });
    assert.deepEqual(c.notify.teams, { webhookUrl: TEAMS_URL.replace(':443', '') });
    for (const secret of [PD_KEY, TEAMS_URL, TEAMS_URL.replace(':443', ''), 'FAKE-teams-signature']) assert.ok(c.secrets.includes(secret), 'registered for redaction');
    assert.equal(notify({ PAGERDUTY_ROUTING_KEY: PD_KEY, PAGERDUTY_EVENTS_URL: 'http://127.0.0.1:9999/v2/enqueue' }).pagerduty?.eventsUrl, 'http://127.0.0.1:9999/v2/enqueue');
    assert.equal(notify({ PAGERDUTY_ROUTING_KEY: PD_KEY, PAGERDUTY_EVENTS_URL: 'https://events.eu.pagerduty.com/v2/enqueue' }).pagerduty?.eventsUrl, 'https://events.eu.pagerduty.com/v2/enqueue');
  });

  test('when a Slack bot is configured, then it posts to slack.com unless a loopback test server is named', () => {
    assert.deepEqual(notify({ SLACK_BOT_TOKEN: BOT, SLACK_CHANNEL: 'C0123456789' }).slack, { transport: 'bot', token: BOT, channel: 'C0123456789', apiUrl: 'https://slack.com/api' });
    assert.equal((notify({ SLACK_BOT_TOKEN: BOT, SLACK_CHANNEL: 'C0123456789', SLACK_API_URL: 'http://127.0.0.1:9999/api/' }).slack as { apiUrl: string }).apiUrl, 'http://127.0.0.1:9999/api');
  });

  const cases: Array<{ when: string; env: Env; names: RegExp; secret?: string }> = [
    { when: 'NOTIFIERS names slack without its URL', env: { NOTIFIERS: 'slack' }, names: /^NOTIFIERS includes slack but SLACK_WEBHOOK_URL \(or SLACK_BOT_TOKEN and SLACK_CHANNEL\) is not set/ },
    { when: 'NOTIFIERS names email without a server', env: { NOTIFIERS: 'email' }, names: /^NOTIFIERS includes email but SMTP_HOST \(or SMTP_URL\) is not set/ },
    { when: 'NOTIFIERS names webhook without its URL', env: { NOTIFIERS: 'console,webhook' }, names: /^NOTIFIERS includes webhook but WEBHOOK_URL is not set/ },
    { when: 'NOTIFIERS names an unknown notifier', env: { NOTIFIERS: 'opsgenie' }, names: /^NOTIFIERS names an unknown notifier "opsgenie": use slack, email, webhook, pagerduty, teams, console\.$/ },
    { when: 'NOTIFIERS names pagerduty without its key', env: { NOTIFIERS: 'pagerduty' }, names: /^NOTIFIERS includes pagerduty but PAGERDUTY_ROUTING_KEY is not set/ },
    { when: 'NOTIFIERS names teams without its URL', env: { NOTIFIERS: 'teams' }, names: /^NOTIFIERS includes teams but TEAMS_WEBHOOK_URL is not set/ },
    { when: 'the PagerDuty routing key is not an integration key', env: { PAGERDUTY_ROUTING_KEY: 'FAKE-short-routing-key' }, names: /^PAGERDUTY_ROUTING_KEY is not an Events API v2 integration key/, secret: 'FAKE-short-routing-key' },
    { when: 'PAGERDUTY_EVENTS_URL points at another host', env: { PAGERDUTY_ROUTING_KEY: PD_KEY, PAGERDUTY_EVENTS_URL: 'https://evil.example/v2/enqueue' }, names: /^PAGERDUTY_EVENTS_URL may only point at https:\/\/events\.pagerduty\.com/, secret: PD_KEY },
    { when: 'PAGERDUTY_EVENTS_URL is set without a key', env: { PAGERDUTY_EVENTS_URL: 'http://127.0.0.1:9/v2/enqueue' }, names: /^PAGERDUTY_EVENTS_URL is set but PAGERDUTY_ROUTING_KEY is not/ },
    { when: 'the Teams webhook URL is plain http', env: { TEAMS_WEBHOOK_URL: TEAMS_URL.replace('https', 'http') }, names: /^TEAMS_WEBHOOK_URL must be an https:\/\/ URL/, secret: 'FAKE-teams-signature' },
    { when: 'the Teams webhook URL is not a URL', env: { TEAMS_WEBHOOK_URL: 'prod-01.logic.azure.com/workflows?sig=FAKE-teams-signature' }, names: /^TEAMS_WEBHOOK_URL is not a valid URL/, secret: 'FAKE-teams-signature' },
    { when: 'NOTIFIERS is only commas', env: { NOTIFIERS: ',,' }, names: /^NOTIFIERS is empty/ },
    { when: 'EMAIL_TO is set without a server', env: { EMAIL_TO: 'secops@example.com' }, names: /^EMAIL_TO is set but SMTP_HOST \(or SMTP_URL\) is not/ },
    { when: 'SMTP_HOST is set without recipients', env: { SMTP_HOST: 'mail.example.com', EMAIL_FROM: 'otw@example.com' }, names: /^EMAIL_TO is not set/ },
    { when: 'SMTP_USER is set without a password', env: { ...SMTP, SMTP_USER: 'otw' }, names: /^SMTP_USER is set but SMTP_PASSWORD is not/ },
    { when: 'EMAIL_TO holds a header injection', env: { ...SMTP, EMAIL_TO: 'a@example.com\r\nBcc: b@example.com' }, names: /^EMAIL_TO is not a comma-separated list/ },
    { when: 'SMTP_URL has a wrong scheme', env: { ...SMTP, SMTP_HOST: undefined, SMTP_URL: `ftp://u:${SMTP_PASSWORD}@mail.example.com` }, names: /^SMTP_URL must start with smtp:\/\//, secret: SMTP_PASSWORD },
    { when: 'the Slack webhook URL is plain http', env: { SLACK_WEBHOOK_URL: WEBHOOK_SECRET_URL.replace('https', 'http') }, names: /^SLACK_WEBHOOK_URL must be an https:\/\/ URL/, secret: 'FAKE-webhook-path-for-tests' },
    { when: 'the webhook URL is not a URL', env: { WEBHOOK_URL: 'siem.example.com/FAKE-secret-path' }, names: /^WEBHOOK_URL is not a valid URL/, secret: 'FAKE-secret-path' },
    { when: 'the webhook secret is short', env: { WEBHOOK_URL: 'https://siem.example.com/in', WEBHOOK_SECRET: 'shortsecret' }, names: /^WEBHOOK_SECRET is too short/, secret: 'shortsecret' },
    { when: 'the webhook secret has no URL', env: { WEBHOOK_SECRET: 'x'.repeat(32) }, names: /^WEBHOOK_SECRET is set but WEBHOOK_URL is not/, secret: 'x'.repeat(32) },
    { when: 'the bot token is not a bot token', env: { SLACK_BOT_TOKEN: 'xoxp-FAKE-user-token-for-tests', SLACK_CHANNEL: 'C1' }, names: /^SLACK_BOT_TOKEN is not a Slack bot token/, secret: 'xoxp-FAKE-user-token-for-tests' },
    { when: 'the bot token has no channel', env: { SLACK_BOT_TOKEN: BOT }, names: /^SLACK_BOT_TOKEN is set but SLACK_CHANNEL is not/, secret: BOT },
    { when: 'SLACK_API_URL points at another host', env: { SLACK_BOT_TOKEN: BOT, SLACK_CHANNEL: 'C1', SLACK_API_URL: 'https://evil.example/api' }, names: /^SLACK_API_URL may only point at https:\/\/slack\.com\/api or a loopback test server/, secret: BOT },
    { when: 'both Slack webhook and bot are set', env: { SLACK_WEBHOOK_URL: WEBHOOK_SECRET_URL, SLACK_BOT_TOKEN: BOT, SLACK_CHANNEL: 'C1' }, names: /^SLACK_WEBHOOK_URL and SLACK_BOT_TOKEN\/SLACK_CHANNEL are both set/, secret: BOT },
    { when: 'NOTIFY_TIMEOUT is not a duration', env: { NOTIFY_TIMEOUT: 'soon' }, names: /^NOTIFY_TIMEOUT is not a duration/ },
  ];
  for (const c of cases) {
    test(`when ${c.when}, then start-up fails with a sentence naming the variable and not the value`, () => {
      const p = problems(c.env);
      assert.ok(p.some((x) => c.names.test(x)), `got: ${p.join(' | ')}`);
      for (const x of p) {
        assert.ok(!x.includes('FAKE-webhook-path-for-tests') && !x.includes(BOT) && !x.includes(SMTP_PASSWORD) && !x.includes(PD_KEY) && !x.includes('FAKE-teams-signature'), `secret in: ${x}`);
        if (c.secret) assert.ok(!x.includes(c.secret), `value in: ${x}`);
      }
    });
  }

  test('when the CLI starts with NOTIFIERS naming a notifier without settings, then it exits 78 naming the variable', async () => {
    const dir = tmpDir();
    // An empty env file, so a developer's own .env cannot change the outcome.
    fs.writeFileSync(path.join(dir, 'test.env'), '');
    const r = await runCli(['status', '--env-file', path.join(dir, 'test.env')], { NOTIFIERS: 'slack', DB_PATH: path.join(dir, 'otw.sqlite') });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /configuration error: NOTIFIERS includes slack but SLACK_WEBHOOK_URL/);
  });
});

describe('the notifier registry', () => {
  test('when a name is registered twice, then the registry refuses it', () => {
    const r = new NotifierRegistry().register('console', () => new ConsoleNotifier());
    assert.throws(() => r.register('console', () => new ConsoleNotifier()), /registered twice/);
  });

  test('when the enabled list repeats a name or names an unknown one, then building fails', () => {
    const base = notify({});
    assert.throws(() => buildNotifiers({ ...base, enabled: ['console', 'console'] }, { logger: nullLogger() }), /enabled twice/);
    assert.throws(() => buildNotifiers({ ...base, enabled: ['sms'] }, { logger: nullLogger() }), /unknown notifier sms/);
    assert.throws(() => buildNotifiers({ ...base, enabled: ['slack'] }, { logger: nullLogger() }), /settings are missing/);
  });

  test('when settings are complete, then the registry builds each notifier under its own name', async () => {
    const n = notify({ SLACK_WEBHOOK_URL: WEBHOOK_SECRET_URL, ...SMTP, WEBHOOK_URL: 'https://siem.example.com/in', PAGERDUTY_ROUTING_KEY: PD_KEY, TEAMS_WEBHOOK_URL: TEAMS_URL, NOTIFIERS: 'webhook,slack,teams,email,pagerduty,console' });
    const built = buildNotifiers(n, { logger: nullLogger() });
    assert.deepEqual(built.map((x) => x.name), ['webhook', 'slack', 'teams', 'email', 'pagerduty', 'console']);
    assert.deepEqual(defaultRegistry().names(), ['console', 'slack', 'email', 'webhook', 'pagerduty', 'teams']);
    for (const b of built) await b.close?.();
  });
});
