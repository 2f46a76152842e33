import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tokenEvent } from './helpers/events';
import { FakeOkta } from './helpers/fake-okta';
import { runCli, startHarness, tmpDir } from './helpers/harness';

/*
 * `okta-token-watch tokens` through the real CLI (a child process) against the fake Okta's API
 * Tokens API over HTTP, with a real database written by a real tick.
 */

const HOSTILE = 'evil\u001b[2J\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007 \u202Egnp.exe\nFAKE LINE alerted   yes';

function envFor(fake: FakeOkta, dbPath: string): Record<string, string> {
  return { OKTA_ORG_URL: fake.origin, OKTA_API_TOKEN: fake.token, DB_PATH: dbPath, LOG_LEVEL: 'error' };
}

describe('okta-token-watch tokens', () => {
  test('when the org has 250 tokens and this program alerted on one, then both pages are read and the alerted one, its owner\'s login and the unrestricted ones are shown', async () => {
    const h = await startHarness();
    try {
      // Token 1 is made by a create event the tick alerts on; the rest were made before the install.
      const created = tokenEvent(1, new Date(h.clock.now().getTime() - 60_000).toISOString());
      h.fake.persist(created);
      assert.equal((await h.tick()).newAlerts, 1);
      h.fake.addApiTokenFromEvent(created);
      for (let i = 2; i <= 250; i++) {
        h.fake.addApiToken({ id: `00Tbulk${String(i).padStart(13, '0')}`, name: `bulk ${i}`, ...(i % 2 === 0 ? { network: { connection: 'ZONE', include: ['nzo1corp'], exclude: [] } } : {}) });
      }
      const r = await runCli(['tokens', '--json'], h.env);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { count: number; unrestricted: number; truncated: boolean; alertsKnown: boolean; tokens: Array<Record<string, any>> };
      const listCalls = h.fake.requests.filter((q) => q.path === '/api/v1/api-tokens');
      assert.equal(listCalls.length, 2, 'two pages of at most 200');
      assert.ok(listCalls[1]!.query.get('after'), 'the second page comes from the Link next');
      assert.equal(out.count, 250);
      assert.equal(out.truncated, false);
      assert.equal(out.alertsKnown, true);
      assert.equal(new Set(out.tokens.map((t) => t.id)).size, 250);
      const first = out.tokens[0]!;
      assert.equal(first.id, '00T00000000000000001');
      assert.equal(first.name, 'token-1');
      assert.equal(first.userId, '00u00000000000000001');
      assert.equal(first.ownerLogin, 'admin1@example.com');
      assert.equal(first.unrestricted, true);
      assert.deepEqual(first.network, { connection: 'ANYWHERE', include: [], exclude: [] });
      assert.equal(first.tokenWindow, 'P30D');
      assert.match(first.alerted.alertId, /^otw-/);
      assert.equal(out.tokens[1]!.alerted, null);
      assert.equal(out.unrestricted, 1 + 124);

      const text = await runCli(['tokens'], h.env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^250 active API token\(s\); 125 with no network restriction/);
      assert.match(text.stdout, /! "token-1" 00T00000000000000001\n\s+owner\s+00u00000000000000001 \(admin1@example\.com\)/);
      assert.match(text.stdout, /alerted\s+yes, otw-/);
      assert.match(text.stdout, /  "bulk 2" 00Tbulk0000000000002\n(.*\n){2}\s+network\s+ZONE: nzo1corp\n\s+alerted\s+no/);
    } finally {
      await h.close();
    }
  });

  test('when a token name carries terminal escapes, a bidi override and a line break, then neither output lets them through and --json keeps the exact name', async () => {
    const fake = new FakeOkta();
    await fake.start();
    try {
      fake.addApiToken({ id: '00Thostile0000000001', name: HOSTILE, clientName: 'x\u001b[31m', network: { connection: 'ZONE', include: ['zone\u202Eevil'], exclude: [] } });
      // Attacker-controlled JSON types: a record that is not a token is dropped, a number name is no name.
      fake.apiTokens.set('bad', 'not a token' as unknown as Record<string, unknown>);
      fake.addApiToken({ id: '00Tnumbername0000001', name: 42 as unknown as string });
      const env = envFor(fake, path.join(tmpDir(), 'none.sqlite'));
      const text = await runCli(['tokens'], env);
      assert.equal(text.code, 0, text.stderr);
      assert.doesNotMatch(text.stdout, /[\u001b\u0007\u202E]/);
      assert.ok(!text.stdout.split('\n').some((l) => l.startsWith('FAKE LINE')), 'a line break in a name starts no line');
      assert.match(text.stdout, /<U\+202E>/);
      assert.match(text.stdout, /alerted\s+unknown/);
      assert.match(text.stdout, /"\(no name\)" 00Tnumbername0000001/);
      assert.match(text.stdout, /1 record\(s\) in Okta's answer were not readable tokens/);

      const json = await runCli(['tokens', '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      assert.doesNotMatch(json.stdout, /[\u001b\u0007\u202E\n]FAKE/);
      assert.doesNotMatch(json.stdout, /[\u001b\u0007\u202E]/);
      const out = JSON.parse(json.stdout) as { alertsKnown: boolean; unreadable: number; tokens: Array<Record<string, any>> };
      assert.equal(out.tokens[0]!.name, HOSTILE);
      assert.equal(out.tokens[1]!.name, null);
      assert.equal(out.unreadable, 1);
      assert.equal(out.alertsKnown, false);
    } finally {
      await fake.stop();
    }
  });

  test('when the API token\'s admin may not read API tokens (403 E0000006), then one sentence names okta.apiTokens.read and the exit code is 1', async () => {
    const fake = new FakeOkta();
    await fake.start();
    try {
      fake.addApiToken({ id: '00Tsecret00000000001', name: 'should not show' });
      fake.apiTokensForbidden = true;
      const r = await runCli(['tokens'], envFor(fake, path.join(tmpDir(), 'none.sqlite')));
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^okta-token-watch: cannot list API tokens: the Okta credentials lack okta\.apiTokens\.read \(Okta answered 403\)/);
      assert.ok(!r.stderr.includes(fake.token));
    } finally {
      await fake.stop();
    }
  });

  test('when the service app is not granted okta.apiTokens.read, then it asks for that scope alone and says in one sentence what to grant, exit 1', async () => {
    const keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const fake = new FakeOkta({ oauth: { clientId: '0oatokenscli', publicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(), grantScopes: ['okta.logs.read'] } });
    await fake.start();
    try {
      const env = {
        OKTA_ORG_URL: fake.origin,
        OKTA_CLIENT_ID: '0oatokenscli',
        OKTA_PRIVATE_KEY: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().replace(/\n/g, '\\n'),
        OKTA_KEY_ID: 'kid-1',
        DB_PATH: path.join(tmpDir(), 'none.sqlite'),
        LOG_LEVEL: 'error',
      };
      const r = await runCli(['tokens'], env);
      assert.equal(r.code, 1);
      assert.equal(fake.tokenRequests.at(-1)!.params.get('scope'), 'okta.apiTokens.read');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /the service app lacks okta\.apiTokens\.read; grant it on the app's "Okta API Scopes" tab/);
      assert.doesNotMatch(r.stderr, /BEGIN|PRIVATE/);

      // Granted: the same command lists.
      fake.opts.oauth!.grantScopes = ['okta.logs.read', 'okta.apiTokens.read'];
      fake.addApiToken({ id: '00Tok000000000000001', name: 'ok' });
      const ok = await runCli(['tokens', '--json'], env);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal((JSON.parse(ok.stdout) as { count: number }).count, 1);
    } finally {
      await fake.stop();
    }
  });
});
