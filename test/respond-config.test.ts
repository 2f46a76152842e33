import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { parseConfig } from '../src/config';
import { ConfigError } from '../src/errors';
import { isAllowed } from '../src/respond/config';
import { respond, respondDepsFor } from '../src/respond/respond';
import { alertActionLines } from '../src/respond/status';
import { tokenEvent, uuidFor } from './helpers/events';
import { runCli, startHarness, tmpDir } from './helpers/harness';

const BASE = { OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: 'FAKE-okta-api-token-for-tests', DB_PATH: ':memory:' };

function problems(env: Record<string, string>): string[] {
  try {
    parseConfig({ ...BASE, ...env }, { requireOkta: true });
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
}

describe('RESPONSE_ACTIONS and RESPONDERS', () => {
  test('when neither is set, then Expected and Acknowledge are on, revoking is off, and no Slack user may act', () => {
    const c = parseConfig(BASE, { requireOkta: true });
    assert.deepEqual([...c.respond.actions].sort(), ['acknowledge', 'expected']);
    assert.equal(isAllowed(c.respond, 'U012ABCDEF'), false);
  });

  test('when RESPONDERS lists users and a user group, then exactly those users and the group\'s members may act', () => {
    const c = parseConfig({ ...BASE, RESPONDERS: 'U012ABCDEF, W0ENTERPRISE1,S0SECOPS01', RESPONSE_ACTIONS: 'revoke,Acknowledge' }, { requireOkta: true });
    assert.deepEqual([...c.respond.actions].sort(), ['acknowledge', 'revoke']);
    assert.equal(isAllowed(c.respond, 'U012ABCDEF'), true);
    assert.equal(isAllowed(c.respond, 'W0ENTERPRISE1'), true);
    assert.equal(isAllowed(c.respond, 'U0OTHER001'), false);
    assert.equal(isAllowed(c.respond, 'U0OTHER001', ['S0SECOPS01']), true);
    assert.equal(isAllowed(c.respond, 'U0OTHER001', ['S0OTHERS01']), false);
    // A group id is not a user id: listing a group does not allow a "user" with the group's id.
    assert.equal(isAllowed(c.respond, 'S0SECOPS01'), false);
  });

  test('when either holds a bad value, then start-up stops with one sentence naming the setting and never its value', () => {
    const a = problems({ RESPONSE_ACTIONS: 'revoke,delete-everything' });
    assert.equal(a.length, 1);
    assert.match(a[0]!, /^RESPONSE_ACTIONS must be a comma list of revoke, expected, acknowledge/);
    assert.doesNotMatch(a[0]!, /delete-everything/);
    const b = problems({ RESPONDERS: 'U012ABCDEF,@alice' });
    assert.equal(b.length, 1);
    assert.match(b[0]!, /^RESPONDERS must be a comma list of Slack user ids/);
    assert.doesNotMatch(b[0]!, /alice/);
  });

  test('when the CLI starts with a bad RESPONDERS, then it exits 78 naming the variable', async () => {
    const r = await runCli(['ack', 'otw-x'], { ...BASE, DB_PATH: `${tmpDir()}/db.sqlite`, RESPONDERS: 'alice' });
    assert.equal(r.code, 78);
    assert.match(r.stderr, /configuration error: RESPONDERS must be/);
  });
});

describe('check lines about responding', () => {

  test('when revoke is on for a service app, then check asks Okta with okta.apiTokens.manage alone: not granted fails naming the scope, granted passes, and polling never depends on it', async () => {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const priv = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().replace(/\n/g, '\\n');
    const pub = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const clientId = '0oaFAKErevokeclient1';
    const env = (h: { env: Record<string, string | undefined> }): Record<string, string | undefined> => ({
      ...h.env,
      OKTA_API_TOKEN: undefined,
      OKTA_CLIENT_ID: clientId,
      OKTA_PRIVATE_KEY: priv,
      OKTA_KEY_ID: 'kid-1',
      // The README once said to list the optional scopes here: one not granted must not stop polling.
      OKTA_SCOPES: 'okta.logs.read okta.apiTokens.read okta.apiTokens.manage',
      RESPONSE_ACTIONS: 'revoke',
    });
    const without = await startHarness({ fake: { oauth: { clientId, publicKeyPem: pub, grantScopes: ['okta.logs.read'] } } });
    try {
      const r = await runCli(['check'], env(without));
      assert.match(r.stdout, /^FAIL +response actions +revoke; RESPONSE_ACTIONS allows revoke, but the service app is not granted okta\.apiTokens\.manage/m);
      assert.match(r.stdout, /^ok +okta /m, 'the System Log access is fine');
      without.fake.persist(tokenEvent(1, new Date(Date.now() - 60_000).toISOString()));
      const poll = await runCli(['poll'], env(without));
      assert.equal(poll.code, 0, poll.stderr);
      // Revoking asks for the scope alone: refused at the token endpoint, it is forbidden, not a network failure.
      const revoke = await runCli(['revoke', `otw-${uuidFor(1)}`, '--yes'], env(without));
      assert.equal(revoke.code, 1, revoke.stderr);
      assert.match(revoke.stdout + revoke.stderr, /not granted okta\.apiTokens\.manage/);
      assert.equal(without.fake.requests.filter((r) => r.method === 'DELETE').length, 0);
    } finally {
      await without.close();
    }
    const granted = await startHarness({ fake: { oauth: { clientId, publicKeyPem: pub, grantScopes: ['okta.logs.read', 'okta.apiTokens.manage'] } } });
    try {
      const r = await runCli(['check'], env(granted));
      assert.match(r.stdout, /^ok +response actions +revoke; the service app was granted okta\.apiTokens\.manage/m);
    } finally {
      await granted.close();
    }
  });

  test('when check runs with an API token and revoke on, then it says what the token\'s admin needs, and never prints the token', async () => {
    const h = await startHarness();
    try {
      const r = await runCli(['check'], { ...h.env, RESPONSE_ACTIONS: 'revoke,acknowledge', RESPONDERS: 'U012ABCDEF' });
      assert.match(r.stdout, /^ok +response actions +revoke, acknowledge; revoking uses OKTA_API_TOKEN, .*Super Administrator, or a custom admin role with the okta\.apiTokens\.manage permission/m);
      assert.match(r.stdout, /^ok +responders +RESPONDERS: 1 Slack user\(s\) and 0 user group\(s\) may act in Slack$/m);
      assert.ok(!r.stdout.includes(h.fake.token));
    } finally {
      await h.close();
    }
  });
});

describe('status --alerts: the actions of an alert', () => {
  test('when an alert was acknowledged and refused to a Slack user, then its lines say who, when, the result and the reason, made visible and bounded', async () => {
    const clock = new FakeClock(Date.parse('2026-12-01T10:00:00Z'));
    const h = await startHarness({ clock, env: { NOTIFIERS: 'console' } });
    try {
      h.fake.persist(tokenEvent(1, '2026-12-01T09:59:00Z'));
      await h.tick();
      const alertId = `otw-${uuidFor(1)}`;
      const deps = respondDepsFor(h.app);
      await respond(deps, { target: alertId, action: 'acknowledge', by: { via: 'cli', id: '1000', name: 'ops' }, reason: 'looking\u001b[31m into it' + 'x'.repeat(600) });
      clock.advance(60_000);
      await respond(deps, { target: alertId, action: 'acknowledge', by: { via: 'slack', id: 'U0INTRUDER', name: 'mallory\u202e' } });
      const lines = await alertActionLines(h.app.store, alertId);
      assert.equal(lines.length, 2);
      assert.match(lines[0]!, /^ {4}acknowledge by ops via cli at 2026-12-01T10:00:00\.000Z: recorded: "looking.*into itx+/);
      assert.doesNotMatch(lines[0]!, /\u001b/);
      assert.ok(lines[0]!.length < 400, `bounded: ${lines[0]!.length}`);
      assert.match(lines[1]!, /^ {4}acknowledge by mallory.* via slack \(U0INTRUDER\) at 2026-12-01T10:01:00\.000Z: refused: mallory.* is not in RESPONDERS$/);
      assert.doesNotMatch(lines[1]!, /\u202e/);
      assert.deepEqual(await alertActionLines(h.app.store, 'otw-unknown'), []);
    } finally {
      await h.close();
    }
  });
});
