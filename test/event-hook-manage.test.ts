import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { FakeOkta } from './helpers/fake-okta';
import { runCli, tmpDir } from './helpers/harness';

const SECRET = 'FAKE-event-hook-secret-for-tests-0123456789abcdef';
const HOOK_PATH = '/okta/event-hook';

/**
 * A minimal stand-in for the daemon's receiver: HTTPS on 127.0.0.1 with a self-signed certificate
 * made for the test (Okta calls only https URLs, so the tests do too), answering the verification
 * challenge on HOOK_PATH when the Authorization header is the secret.
 */
class ChallengeServer {
  server: https.Server | null = null;
  origin = '';
  readonly seen: Array<{ path: string; authorization: string | undefined }> = [];
  /** Answers this many requests with 503 first (Okta retries a 5xx once). */
  failNext = 0;
  constructor(private readonly tls: { key: string; cert: string }) {}
  async start(): Promise<void> {
    this.server = https.createServer(this.tls, (req, res) => {
      this.seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
      if (this.failNext > 0) {
        this.failNext--;
        return void res.writeHead(503).end();
      }
      if (req.url !== HOOK_PATH) return void res.writeHead(404).end();
      if (req.headers.authorization !== SECRET) return void res.writeHead(401).end();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ verification: req.headers['x-okta-verification-challenge'] }));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.origin = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('event-hook register, status and remove', () => {
  const dir = tmpDir('otw-hook-');
  let tls: { key: string; cert: string };
  let receiver: ChallengeServer;
  let fake: FakeOkta;
  let dbPath: string;
  let n = 0;

  before(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    tls = { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
    receiver = new ChallengeServer(tls);
    await receiver.start();
  });
  after(async () => {
    await receiver.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await fake?.stop();
    fake = new FakeOkta({ hookCa: tls.cert });
    await fake.start();
    dbPath = path.join(dir, `db-${++n}.sqlite`);
  });
  after(async () => fake?.stop());

  // The receiver's settings, as the daemon beside these commands has them: the challenge server
  // stands in for it (EVENT_HOOK_SECRET is refused without EVENT_HOOK_PORT).
  const receiverEnv = (): Record<string, string> => ({
    EVENT_HOOK_PORT: new URL(receiver.origin).port,
    EVENT_HOOK_SECRET: SECRET,
    EVENT_HOOK_TLS_CERT_FILE: path.join(dir, 'cert.pem'),
    EVENT_HOOK_TLS_KEY_FILE: path.join(dir, 'key.pem'),
  });
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({ OKTA_ORG_URL: fake.origin, OKTA_API_TOKEN: fake.token, DB_PATH: dbPath, ...receiverEnv(), ...extra });
  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(['event-hook', ...args], env(extra));
  const stored = (): { hook_id: string; uri: string } | undefined => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return db.prepare('SELECT hook_id, uri FROM registered_event_hook').get() as { hook_id: string; uri: string } | undefined;
    } finally {
      db.close();
    }
  };
  const hookEvents = (): string[] => {
    const res: string[] = [];
    // The System Log the poller reads: lifecycle changes are recorded there.
    for (const r of (fake as unknown as { stored: Array<{ event: { eventType: string } }> }).stored) res.push(r.event.eventType);
    return res;
  };
  const noSecrets = (r: { stdout: string; stderr: string }): void => {
    for (const s of [SECRET, fake.token]) assert.ok(!(r.stdout + r.stderr).includes(s), `a secret was printed:\n${r.stdout}${r.stderr}`);
  };

  test('when register is run with the receiver reachable, then the hook is created, verified, activated and its id stored', async () => {
    const url = receiver.origin + HOOK_PATH;
    const r = await cli(['register', '--url', url]);
    assert.equal(r.code, 0, r.stderr);
    noSecrets(r);
    const hooks = [...fake.eventHooks.values()];
    assert.equal(hooks.length, 1);
    const h = hooks[0]!;
    assert.deepEqual([h.name, h.status, h.verificationStatus, h.uri, h.authKey, h.secret], ['okta-token-watch', 'ACTIVE', 'VERIFIED', url, 'Authorization', SECRET]);
    assert.deepEqual(h.events, ['system.api_token.create', 'system.api_token.revoke', 'system.api_token.request_outside_allowed_range']);
    assert.equal(stored()?.hook_id, h.id);
    assert.ok(receiver.seen.some((s) => s.authorization === SECRET), 'the challenge GET reached the endpoint with the secret');
    assert.ok(hookEvents().includes('event_hook.verified'));
    assert.match(r.stdout, /created event hook/);

    const s = await cli(['status']);
    assert.equal(s.code, 0, s.stderr);
    noSecrets(s);
    assert.match(s.stdout, new RegExp(`id +${h.id} \\(stored`));
    assert.match(s.stdout, /status +ACTIVE/);
    assert.match(s.stdout, /verification +VERIFIED/);
    assert.match(s.stdout, /event types +system\.api_token\.create, system\.api_token\.revoke, system\.api_token\.request_outside_allowed_range \(match the rule set\)/);
    assert.ok(s.stdout.includes('127.0.0.1'));
  });

  test('when Okta\'s connection is reset as a read of the hooks goes out (a closed keep-alive connection), then the read is sent again once and status succeeds', async () => {
    assert.equal((await cli(['register', '--url', receiver.origin + HOOK_PATH])).code, 0);
    const before = fake.requests.filter((r) => r.path.startsWith('/api/v1/eventHooks')).length;
    fake.fail(1, { kind: 'destroy' }, (p) => p.startsWith('/api/v1/eventHooks/'));
    const s = await cli(['status']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /status +ACTIVE/);
    assert.equal(fake.requests.filter((r) => r.path.startsWith('/api/v1/eventHooks')).length - before, 2, 'the reset read and its one repeat');
  });

  test('when register is run again with another URL, then the same hook is updated in place, not duplicated', async () => {
    assert.equal((await cli(['register', '--url', receiver.origin + HOOK_PATH])).code, 0);
    const id = [...fake.eventHooks.keys()][0]!;
    const url2 = receiver.origin + HOOK_PATH + '?v=2';
    const r = await cli(['register', '--url', url2]);
    // The test receiver answers only the exact path: the update is stored, verification then fails.
    assert.equal(r.code, 1);
    assert.deepEqual([...fake.eventHooks.keys()], [id]);
    assert.equal(fake.eventHooks.get(id)!.uri, url2);
    assert.ok(hookEvents().includes('event_hook.updated'));
    assert.equal(stored()?.hook_id, id);
    const back = await cli(['register', '--url', receiver.origin + HOOK_PATH]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /updated event hook/);
    assert.equal(fake.eventHooks.size, 1);
    assert.equal(fake.eventHooks.get(id)!.verificationStatus, 'VERIFIED');
  });

  test('when the stored id is gone, then register finds our hook by name', async () => {
    assert.equal((await cli(['register', '--url', receiver.origin + HOOK_PATH])).code, 0);
    const id = [...fake.eventHooks.keys()][0]!;
    const db = new Database(dbPath);
    db.prepare("UPDATE registered_event_hook SET hook_id = 'who-gone'").run();
    db.close();
    const r = await cli(['register', '--url', receiver.origin + HOOK_PATH]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...fake.eventHooks.keys()], [id]);
    assert.equal(stored()?.hook_id, id);
  });

  test('when the secret differs from the receiver\'s, then register names the verify step, Okta\'s 400 and the 401 it saw, and what to check', async () => {
    const other = 'FAKE-other-event-hook-secret-for-tests-01234';
    const r = await cli(['register', '--url', receiver.origin + HOOK_PATH], { EVENT_HOOK_SECRET: other });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /failed at step "verify": Okta answered HTTP 400 E0000001: Api validation failed: eventHook; Failed to verify the event hook endpoint: the endpoint answered HTTP 401/);
    assert.match(r.stderr, /EVENT_HOOK_SECRET/);
    assert.ok(!r.stderr.includes(other));
    noSecrets(r);
    assert.equal([...fake.eventHooks.values()][0]!.verificationStatus, 'UNVERIFIED');
    // The half-registered hook is stored, so remove can clean it up.
    assert.ok(stored());
  });

  test('when the endpoint answers the first challenge with a 503, then Okta\'s one retry verifies it; two 503s fail the verify step', async () => {
    receiver.failNext = 1;
    const before = receiver.seen.length;
    const r = await cli(['register', '--url', receiver.origin + HOOK_PATH]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(receiver.seen.length - before, 2);
    receiver.failNext = 2;
    const twice = await cli(['register', '--url', receiver.origin + HOOK_PATH]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /step "verify".*the endpoint answered HTTP 503/);
  });

  test('when the proxy path is wrong, then register says the endpoint answered 404 and points at the path', async () => {
    const r = await cli(['register', '--url', receiver.origin + '/wrong/path']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /step "verify".*the endpoint answered HTTP 404/);
    assert.match(r.stderr, /404 means the path is wrong/);
    noSecrets(r);
  });

  test('when nothing listens at the URL, then register says Okta could not reach it after its retry', async () => {
    const port = await closedPort();
    const r = await cli(['register', '--url', `https://127.0.0.1:${port}${HOOK_PATH}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /step "verify".*could not be reached \(ECONNREFUSED\)/);
    assert.match(r.stderr, /reach the URL over HTTPS from the internet/);
    noSecrets(r);
  });

  test('when the token may not manage event hooks, then register says which role or scope is missing in one sentence', async () => {
    fake.eventHooksForbidden = true;
    const r = await cli(['register', '--url', receiver.origin + HOOK_PATH]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /403 E0000006.*Super Administrator.*okta\.eventHooks\.manage/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(fake.eventHooks.size, 0);
    noSecrets(r);
  });

  test('when --url is not https, then register refuses in one sentence before calling Okta', async () => {
    const r = await cli(['register', '--url', `http://127.0.0.1:1${HOOK_PATH}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--url must be an https:\/\/ URL/);
    assert.equal(fake.requests.filter((q) => q.path.startsWith('/api/v1/eventHooks')).length, 0);
  });

  test('when EVENT_HOOK_SECRET is unset or short, then register stops with exit 78 naming it and not echoing it', async () => {
    const unset = await runCli(['event-hook', 'register', '--url', receiver.origin + HOOK_PATH], { OKTA_ORG_URL: fake.origin, OKTA_API_TOKEN: fake.token, DB_PATH: dbPath });
    assert.equal(unset.code, 78);
    assert.match(unset.stderr, /EVENT_HOOK_SECRET is required/);
    const short = await cli(['register', '--url', receiver.origin + HOOK_PATH], { EVENT_HOOK_SECRET: 'short-secret-value' });
    assert.equal(short.code, 78);
    assert.match(short.stderr, /EVENT_HOOK_SECRET is shorter than 32 characters/);
    assert.ok(!short.stderr.includes('short-secret-value'));
  });

  test('when remove is run, then the hook is deactivated and deleted, the id forgotten, and a second remove has nothing to do', async () => {
    assert.equal((await cli(['register', '--url', receiver.origin + HOOK_PATH])).code, 0);
    const r = await cli(['remove']);
    assert.equal(r.code, 0, r.stderr);
    noSecrets(r);
    assert.equal(fake.eventHooks.size, 0);
    assert.equal(stored(), undefined);
    const events = hookEvents();
    assert.ok(events.indexOf('event_hook.deactivated') >= 0 && events.indexOf('event_hook.deactivated') < events.indexOf('event_hook.deleted'));
    const again = await cli(['remove']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /nothing to remove/);
    const status = await cli(['status']);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /no event hook of ours/);
  });

  test('when check runs with a registered hook that was deactivated, then it prints a FAIL line saying what to run', async () => {
    assert.equal((await cli(['register', '--url', receiver.origin + HOOK_PATH])).code, 0);
    const writes = (): number => fake.requests.filter((q) => q.path.startsWith('/api/v1/eventHooks') && q.method !== 'GET').length;
    const writesBefore = writes();
    const ok = await runCli(['check'], env());
    assert.match(ok.stdout, /ok +event hook +who\w+ is ACTIVE and VERIFIED/);
    const hook = [...fake.eventHooks.values()][0]!;
    hook.status = 'INACTIVE';
    const r = await runCli(['check'], env());
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAIL {2}event hook +who\w+ is INACTIVE and VERIFIED: .*event-hook register --url/);
    noSecrets(r);
    // Read-only: check never changes the hook.
    assert.equal(writes(), writesBefore);
  });
  test('when the credentials are a service app with DPoP, then register works and asks the token endpoint for okta.eventHooks.manage only; without that grant, one sentence says so', async () => {
    const keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privatePem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const publicKeyPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const oauthEnv = (origin: string): Record<string, string> => ({ OKTA_ORG_URL: origin, OKTA_CLIENT_ID: '0oahookapp', OKTA_PRIVATE_KEY: privatePem.replace(/\n/g, '\\n'), OKTA_KEY_ID: 'kid-1', DB_PATH: dbPath, ...receiverEnv() });
    const app = new FakeOkta({ hookCa: tls.cert, oauth: { clientId: '0oahookapp', publicKeyPem, requireDpop: true, grantScopes: ['okta.logs.read', 'okta.eventHooks.manage'] } });
    const bare = new FakeOkta({ hookCa: tls.cert, oauth: { clientId: '0oahookapp', publicKeyPem, requireDpop: true } });
    try {
      await app.start();
      const r = await runCli(['event-hook', 'register', '--url', receiver.origin + HOOK_PATH], oauthEnv(app.origin));
      assert.equal(r.code, 0, r.stderr);
      assert.equal([...app.eventHooks.values()][0]?.verificationStatus, 'VERIFIED');
      assert.ok(app.tokenRequests.length >= 1 && app.tokenRequests.every((t) => t.params.get('scope') === 'okta.eventHooks.manage' && t.dpop));
      assert.ok(app.requests.filter((q) => q.path.startsWith('/api/v1/eventHooks')).every((q) => /^DPoP /.test(String(q.headers.authorization))));
      await bare.start();
      const denied = await runCli(['event-hook', 'register', '--url', receiver.origin + HOOK_PATH], { ...oauthEnv(bare.origin), DB_PATH: dbPath + '-2' });
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /the service app is not granted okta\.eventHooks\.manage: grant it on the app's "Okta API Scopes" tab/);
      assert.equal(denied.stderr.trim().split('\n').length, 1);
      assert.ok(!(r.stdout + r.stderr + denied.stderr).includes('PRIVATE KEY'));
    } finally {
      await app.stop();
      await bare.stop();
    }
  });
});
