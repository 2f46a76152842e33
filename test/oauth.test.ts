import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tokenEvent } from './helpers/events';
import { startHarness, tmpDir } from './helpers/harness';

const keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const CLIENT_ID = '0oa1exampleclient123';

function oauthEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { OKTA_API_TOKEN: undefined, OKTA_CLIENT_ID: CLIENT_ID, OKTA_PRIVATE_KEY: privatePem.replace(/\n/g, '\\n'), OKTA_KEY_ID: 'kid-1', ...extra };
}

describe('OAuth service app (private_key_jwt)', () => {
  test('when configured with a private key, then the tick gets an access token with okta.logs.read and reads the log with it', async () => {
    const h = await startHarness({ env: oauthEnv(), fake: { oauth: { clientId: CLIENT_ID, publicKeyPem: publicPem } } });
    try {
      h.fake.persist(tokenEvent(1, new Date(h.clock.now().getTime() - 1000).toISOString()));
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(r.newAlerts, 1);
      // One access token for the System Log; the token lookup asks for its own scope on its own
      // connection, so a missing okta.apiTokens.read grant can never stop the reads.
      assert.deepEqual(h.fake.tokenRequests.map((t) => t.params.get('scope')).sort(), ['okta.apiTokens.read', 'okta.logs.read']);
      const params = h.fake.tokenRequests.find((t) => t.params.get('scope') === 'okta.logs.read')!.params;
      assert.equal(params.get('grant_type'), 'client_credentials');
      assert.equal(params.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      const header = JSON.parse(Buffer.from(params.get('client_assertion')!.split('.')[0]!, 'base64url').toString()) as { kid?: string };
      assert.equal(header.kid, 'kid-1');
      assert.match(String(h.fake.logRequests()[0]!.headers.authorization), /^Bearer at-/);
      assert.doesNotMatch(h.logs.text, /BEGIN PRIVATE KEY|at-[0-9a-f]{32}/);
    } finally {
      await h.close();
    }
  });

  test('when the org requires DPoP, then the nonce round trip happens and requests carry a DPoP proof', async () => {
    const h = await startHarness({ env: oauthEnv(), fake: { oauth: { clientId: CLIENT_ID, publicKeyPem: publicPem, requireDpop: true } } });
    try {
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(h.fake.tokenRequests.length, 2, 'first request asks for a nonce, the second uses it');
      const req = h.fake.logRequests()[0]!;
      assert.match(String(req.headers.authorization), /^DPoP at-/);
      assert.ok(req.headers.dpop, 'a DPoP proof is sent');
    } finally {
      await h.close();
    }
  });

  test('when the key file is given, then it is read from OKTA_PRIVATE_KEY_FILE', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'key.pem');
    fs.writeFileSync(file, privatePem, { mode: 0o600 });
    const h = await startHarness({ env: oauthEnv({ OKTA_PRIVATE_KEY: '', OKTA_PRIVATE_KEY_FILE: file }), fake: { oauth: { clientId: CLIENT_ID, publicKeyPem: publicPem } } });
    try {
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
    } finally {
      await h.close();
    }
  });

  test('when the token endpoint rejects the client, then the tick error says invalid_client instead of "Bearer undefined"', async () => {
    const h = await startHarness({ env: oauthEnv({ OKTA_CLIENT_ID: '0oaWRONGclient' }), fake: { oauth: { clientId: CLIENT_ID, publicKeyPem: publicPem } } });
    try {
      const r = await h.tick();
      assert.equal(r.ok, false);
      assert.match(r.error!, /token endpoint refused the service app \(invalid_client: .*unknown client/);
      assert.equal(h.fake.logRequests().length, 0, 'no System Log request went out without a token');
    } finally {
      await h.close();
    }
  });

  test('when the app lacks the scope, then the error names invalid_scope', async () => {
    const h = await startHarness({ env: oauthEnv(), fake: { oauth: { clientId: CLIENT_ID, publicKeyPem: publicPem, grantScopes: ['okta.users.read'] } } });
    try {
      const r = await h.tick();
      assert.equal(r.ok, false);
      assert.match(r.error!, /invalid_scope.*okta\.logs\.read/);
    } finally {
      await h.close();
    }
  });
});
