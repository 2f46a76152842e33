import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseConfig, type Env } from '../src/config';
import { ConfigError } from '../src/errors';
import { Daemon } from '../src/daemon';
import { HookPusher } from '../src/simulator/hook-pusher';
import { tokenEvent, uuidFor } from './helpers/events';
import { runCli, startHarness, tmpDir } from './helpers/harness';

const SECRET = 'FAKE-event-hook-secret-for-tests-0123456789';
const BASE: Env = { OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: 'FAKE-okta-api-token-for-tests' };

function problems(env: Env): string[] {
  try {
    parseConfig({ ...BASE, ...env }, { requireOkta: true });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('event hook settings', () => {
  test('when EVENT_HOOK_PORT is unset, then push is off; when set with a good secret, then the defaults apply', () => {
    assert.equal(parseConfig(BASE, { requireOkta: true }).eventHook, null);
    const c = parseConfig({ ...BASE, EVENT_HOOK_PORT: '8466', EVENT_HOOK_SECRET: SECRET }, { requireOkta: true });
    assert.deepEqual(c.eventHook, { host: '127.0.0.1', port: 8466, path: '/okta/event-hook', secret: SECRET, tls: null });
    assert.ok(c.secrets.includes(SECRET), 'the secret is redacted from logs');
  });

  test('when a push setting is wrong, then one sentence names the setting and never the secret', () => {
    const short = 'short-secret-value';
    const cases: Array<[Env, RegExp]> = [
      [{ EVENT_HOOK_PORT: '8466' }, /^EVENT_HOOK_SECRET is not set/],
      [{ EVENT_HOOK_PORT: '8466', EVENT_HOOK_SECRET: short }, /^EVENT_HOOK_SECRET is shorter than 32 characters/],
      [{ EVENT_HOOK_PORT: 'http', EVENT_HOOK_SECRET: SECRET }, /^EVENT_HOOK_PORT must be a whole number/],
      [{ EVENT_HOOK_SECRET: SECRET }, /^EVENT_HOOK_SECRET is set but EVENT_HOOK_PORT is not/],
      [{ EVENT_HOOK_PORT: '8466', EVENT_HOOK_SECRET: SECRET, EVENT_HOOK_PATH: 'no-slash' }, /^EVENT_HOOK_PATH must be a URL path/],
      [{ EVENT_HOOK_PORT: '8466', EVENT_HOOK_SECRET: SECRET, EVENT_HOOK_TLS_CERT_FILE: '/nonexistent/cert.pem' }, /^EVENT_HOOK_TLS_KEY_FILE is not set/],
      [{ EVENT_HOOK_PORT: '8466', EVENT_HOOK_SECRET: SECRET, EVENT_HOOK_TLS_CERT_FILE: '/nonexistent/cert.pem', EVENT_HOOK_TLS_KEY_FILE: '/nonexistent/key.pem' }, /^EVENT_HOOK_TLS_CERT_FILE "\/nonexistent\/cert.pem" does not exist/],
      [{ EVENT_HOOK_PORT: '9464', HEALTH_PORT: '9464', EVENT_HOOK_SECRET: SECRET }, /^EVENT_HOOK_PORT is the same as HEALTH_PORT/],
    ];
    for (const [env, expected] of cases) {
      const p = problems(env);
      assert.equal(p.length >= 1, true, JSON.stringify(env));
      assert.match(p[0]!, expected);
      for (const line of p) {
        assert.ok(!line.includes(SECRET) && !line.includes(short), `no secret in: ${line}`);
      }
    }
  });

  test('when the TLS files are readable but not a PEM certificate and key, then one sentence names both settings', () => {
    const dir = tmpDir();
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    fs.writeFileSync(cert, 'not a certificate');
    fs.writeFileSync(key, 'not a key either');
    const p = problems({ EVENT_HOOK_PORT: '8466', EVENT_HOOK_SECRET: SECRET, EVENT_HOOK_TLS_CERT_FILE: cert, EVENT_HOOK_TLS_KEY_FILE: key });
    assert.deepEqual(p, ['EVENT_HOOK_TLS_CERT_FILE and EVENT_HOOK_TLS_KEY_FILE must be a PEM certificate and its matching unencrypted PEM private key.']);
  });

  test('when run starts with a short EVENT_HOOK_SECRET, then it exits 78 naming the setting, never its value', async () => {
    const dir = tmpDir();
    const secret = 'too-short-but-secret-xyz';
    const r = await runCli(['run'], { ...BASE, DB_PATH: path.join(dir, 'db.sqlite'), EVENT_HOOK_PORT: '0', EVENT_HOOK_SECRET: secret });
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /EVENT_HOOK_SECRET is shorter than 32 characters/);
    assert.ok(!(r.stdout + r.stderr).includes(secret));
  });

  test('when TLS files are set, then the receiver serves HTTPS and a pusher trusting the certificate delivers', async () => {
    const dir = tmpDir();
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const h = await startHarness({ env: { EVENT_HOOK_PORT: '0', EVENT_HOOK_SECRET: SECRET, EVENT_HOOK_TLS_CERT_FILE: cert, EVENT_HOOK_TLS_KEY_FILE: key, POLL_SCHEDULE: '0 0 1 1 *' } });
    const daemon = new Daemon(h.app);
    try {
      await daemon.start();
      const pusher = new HookPusher({ url: `https://127.0.0.1:${daemon.hookPort}/okta/event-hook`, secret: SECRET, ca: fs.readFileSync(cert) });
      assert.equal((await pusher.verify()).ok, true);
      assert.equal((await pusher.deliver([tokenEvent(51, h.clock.now().toISOString())])).delivered, true);
      assert.equal(await h.app.store.hasEvent(uuidFor(51)), true);
    } finally {
      await daemon.stop();
      await h.close();
    }
  });
});
