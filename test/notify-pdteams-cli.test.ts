import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FakeOkta } from './helpers/fake-okta';
import { FakePagerDuty } from './helpers/fake-pagerduty';
import { FakeTeams } from './helpers/fake-teams';
import { runCli, tmpDir } from './helpers/harness';

const OKTA_TOKEN = 'FAKE-okta-api-token-for-tests';
const KEY = 'FAKEpagerdutyroutingkey000000001';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function fakes(): Promise<{ env: Record<string, string>; pd: FakePagerDuty; teams: FakeTeams }> {
  const okta = new FakeOkta({ token: OKTA_TOKEN });
  const origin = await okta.start();
  cleanups.push(() => okta.stop());
  const pd = new FakePagerDuty(KEY);
  await pd.start();
  cleanups.push(() => pd.stop());
  const teams = new FakeTeams();
  await teams.start();
  cleanups.push(() => teams.stop());
  const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: OKTA_TOKEN, DB_PATH: path.join(tmpDir(), 'otw.sqlite'), PAGERDUTY_ROUTING_KEY: KEY, PAGERDUTY_EVENTS_URL: pd.url, TEAMS_WEBHOOK_URL: teams.url };
  return { env, pd, teams };
}

function assertNoSecret(out: string, teams: FakeTeams): void {
  assert.ok(!out.includes(KEY), 'the routing key is not printed');
  assert.ok(!out.includes(teams.sig), 'the Teams signature is not printed');
}

describe('check and test-notify with PagerDuty and Teams', () => {
  test('when check runs, then both notifiers are listed as valid without posting anything, and check --send pages and resolves a test incident and posts a test card', async () => {
    const { env, pd, teams } = await fakes();
    const check = await runCli(['check'], env);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /notifiers pagerduty, teams$/m);
    assert.match(check.stdout, /^ok +notifier pagerduty +settings valid$/m);
    assert.match(check.stdout, /^ok +notifier teams +settings valid$/m);
    assert.equal(pd.requests.length + teams.requests.length, 0, 'check alone sends nothing');
    assertNoSecret(check.stdout + check.stderr, teams);

    const send = await runCli(['check', '--send'], env);
    assert.equal(send.code, 0, send.stdout + send.stderr);
    assert.match(send.stdout, /^ok +pagerduty +sample alert delivered/m);
    assert.match(send.stdout, /^ok +teams +sample alert delivered/m);
    const events = pd.accepted();
    assert.deepEqual(events.map((e) => [e.event_action, e.payload?.severity]), [['trigger', 'info'], ['resolve', undefined]]);
    assert.equal(pd.incidents.get(events[0]!.dedup_key), 'resolved', 'the test leaves no open incident');
    assert.match(teams.cards[0].body[0].text, /^\[TEST\] /);
    assertNoSecret(send.stdout + send.stderr, teams);
  });

  test('when PagerDuty refuses the routing key, then test-notify fails that notifier as permanent without printing the key', async () => {
    const { env, pd, teams } = await fakes();
    const wrong = 'FAKEwrongroutingkey0000000000002';
    const r = await runCli(['test-notify', '--notifier', 'pagerduty'], { ...env, PAGERDUTY_ROUTING_KEY: wrong });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAIL +pagerduty +PagerDuty Events API refused the message \(HTTP 400\).*check PAGERDUTY_ROUTING_KEY.*permanent: fix the setting/m);
    assert.ok(!(r.stdout + r.stderr).includes(wrong));
    assert.equal(pd.requests.length, 1);
    assert.equal(teams.requests.length, 0, 'only the named notifier');
  });

  test('when the Teams URL is an Office 365 connector webhook, then check warns that it is being retired, naming the setting and not the URL', async () => {
    const { env, teams } = await fakes();
    const connector = 'https://contoso.webhook.office.com/webhookb2/FAKE-connector-path/IncomingWebhook/FAKE';
    const r = await runCli(['check'], { ...env, TEAMS_WEBHOOK_URL: connector });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^WARN +notifier teams +TEAMS_WEBHOOK_URL is an Office 365 connector webhook, which Microsoft is retiring/m);
    assert.ok(!r.stdout.includes('FAKE-connector-path'));
    assert.equal(teams.requests.length, 0);
  });

  test('when a PagerDuty setting is wrong, then start-up stops with exit 78 naming it and not its value', async () => {
    const { env } = await fakes();
    const r = await runCli(['check'], { ...env, PAGERDUTY_EVENTS_URL: 'https://pagerduty.evil.example/v2/enqueue' });
    assert.equal(r.code, 78, r.stdout + r.stderr);
    assert.match(r.stderr, /PAGERDUTY_EVENTS_URL may only point at https:\/\/events\.pagerduty\.com/);
    assert.ok(!(r.stdout + r.stderr).includes(KEY));
  });
});
