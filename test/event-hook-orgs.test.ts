import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createApp, type App } from '../src/app';
import { parseConfig } from '../src/config';
import { Daemon } from '../src/daemon';
import { createLogger } from '../src/logger';
import { HookPusher } from '../src/simulator/hook-pusher';
import { FakeOkta } from './helpers/fake-okta';
import { tokenEvent, uuidFor } from './helpers/events';
import { LineSink, tmpDir } from './helpers/harness';
import { Receiver } from './helpers/receiver';

const TOKEN = 'FAKE-okta-api-token-for-tests';
const STRANGER_SECRET = 'FAKE-event-hook-secret-of-nobody-here-0123456789';
const SECRETS: Record<string, string> = {
  alpha: 'FAKE-event-hook-secret-of-alpha-0123456789abcdef',
  beta: 'FAKE-event-hook-secret-of-beta-0123456789abcdefg',
};

/** A raw request to the receiver; resolves with the status and body. */
function request(port: number, opts: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'POST', path: opts.path, headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * A daemon watching two orgs of ORGS_FILE (alpha, beta), each on its own fake Okta, with its own
 * hook secret and its own webhook destination.
 */
async function withTwoOrgs(fn: (ctx: { app: App; daemon: Daemon; port: number; rcv: Receiver; logs: LineSink }) => Promise<void>, opts: { start?: boolean } = {}): Promise<void> {
  const fakes = { alpha: new FakeOkta({ token: TOKEN }), beta: new FakeOkta({ token: TOKEN }) };
  const origins = { alpha: await fakes.alpha.start(), beta: await fakes.beta.start() };
  const rcv = new Receiver();
  await rcv.start();
  const dir = tmpDir();
  const orgsFile = path.join(dir, 'orgs.yaml');
  const org = (name: 'alpha' | 'beta'): string =>
    `  - name: ${name}\n    url: ${origins[name]}\n    apiToken: { env: OTW_TOKEN }\n    eventHook: { secret: { env: OTW_HOOK_${name.toUpperCase()} } }\n    notify:\n      webhook: { url: { env: OTW_WEBHOOK_${name.toUpperCase()} } }\n`;
  fs.writeFileSync(orgsFile, `orgs:\n${org('alpha')}${org('beta')}`);
  const config = parseConfig(
    {
      ORGS_FILE: orgsFile,
      OTW_TOKEN: TOKEN,
      OTW_HOOK_ALPHA: SECRETS.alpha!,
      OTW_HOOK_BETA: SECRETS.beta!,
      OTW_WEBHOOK_ALPHA: rcv.url('/alpha'),
      OTW_WEBHOOK_BETA: rcv.url('/beta'),
      DB_PATH: path.join(dir, 'otw.sqlite'),
      EVENT_HOOK_PORT: '0',
      POLL_SCHEDULE: '0 0 1 1 *',
      NOTIFIERS: 'webhook',
      WEBHOOK_URL: rcv.url('/base'),
      LOG_LEVEL: 'debug',
    },
    { requireOkta: true },
  );
  const logs = new LineSink();
  const app = await createApp(config, { logger: createLogger(config.log, { stream: logs }) });
  const daemon = new Daemon(app);
  try {
    if (opts.start !== false) await daemon.start();
    await fn({ app, daemon, port: daemon.hookPort!, rcv, logs });
  } finally {
    await daemon.stop();
    await app.close();
    await rcv.stop();
    await fakes.alpha.stop();
    await fakes.beta.stop();
  }
}

async function orgOfEvent(app: App, uuid: string): Promise<string | undefined> {
  const row = await app.store.sql.get<{ org: string }>('SELECT org FROM events WHERE uuid = ?', [uuid]);
  return row?.org;
}

describe('event hook receiver with ORGS_FILE', () => {
  test('when Okta pushes to an org\'s path with that org\'s secret, then the events are stored for that org and alert through its own notifier; another org\'s secret is refused', async () => {
    await withTwoOrgs(async ({ app, port, rcv }) => {
      const now = new Date().toISOString();
      const alpha = new HookPusher({ url: `http://127.0.0.1:${port}/okta/event-hook/alpha`, secret: SECRETS.alpha! });
      const beta = new HookPusher({ url: `http://127.0.0.1:${port}/okta/event-hook/beta`, secret: SECRETS.beta! });
      assert.equal((await alpha.deliver([tokenEvent(1, now)])).delivered, true);
      assert.equal((await beta.deliver([tokenEvent(2, now)])).delivered, true);
      assert.equal(await orgOfEvent(app, uuidFor(1)), 'alpha');
      assert.equal(await orgOfEvent(app, uuidFor(2)), 'beta');

      // Beta's secret on alpha's path, a secret of no org: 401, nothing stored.
      const crossed = await request(port, { path: '/okta/event-hook/alpha', headers: { authorization: SECRETS.beta!, 'content-type': 'application/json' }, body: JSON.stringify({ data: { events: [tokenEvent(3, now)] } }) });
      assert.equal(crossed.status, 401);
      const stranger = await request(port, { path: '/okta/event-hook/beta', headers: { authorization: STRANGER_SECRET, 'content-type': 'application/json' }, body: JSON.stringify({ data: { events: [tokenEvent(3, now)] } }) });
      assert.equal(stranger.status, 401);
      assert.equal(await orgOfEvent(app, uuidFor(3)), undefined);

      await app.dispatcher.runOnce();
      await rcv.waitFor(2);
      const byPath = new Map(rcv.requests.map((r) => [r.path, r.body]));
      assert.deepEqual([...byPath.keys()].sort(), ['/alpha', '/beta']);
      assert.match(byPath.get('/alpha')!, new RegExp(uuidFor(1)));
      assert.match(byPath.get('/beta')!, new RegExp(uuidFor(2)));
    });
  });

  test('when Okta verifies an org\'s hook, then only that org\'s secret gets the challenge back', async () => {
    await withTwoOrgs(async ({ port }) => {
      for (const org of ['alpha', 'beta'] as const) {
        const v = await new HookPusher({ url: `http://127.0.0.1:${port}/okta/event-hook/${org}`, secret: SECRETS[org]! }).verify(`challenge-of-${org}`);
        assert.equal(v.ok, true, JSON.stringify(v.result));
      }
      const other = await request(port, { method: 'GET', path: '/okta/event-hook/beta', headers: { authorization: SECRETS.alpha!, 'x-okta-verification-challenge': 'c' } });
      assert.equal(other.status, 401);
      assert.doesNotMatch(other.body, /verification/);
    });
  });

  test('when a request names an org that is not configured, or the bare EVENT_HOOK_PATH, then 404 without naming any org', async () => {
    await withTwoOrgs(async ({ port, logs }) => {
      for (const p of ['/okta/event-hook/gamma', '/okta/event-hook', '/okta/event-hook/', '/okta/event-hook/alpha/x', '/okta/event-hook/ALPHA']) {
        for (const secret of [SECRETS.alpha!, STRANGER_SECRET]) {
          const r = await request(port, { path: p, headers: { authorization: secret, 'content-type': 'application/json' }, body: '{"data":{"events":[]}}' });
          assert.equal(r.status, 404, p);
          assert.doesNotMatch(r.body, /alpha|beta/, p);
        }
      }
      assert.doesNotMatch(logs.text, new RegExp(SECRETS.alpha!));
    });
  });

  test('when a stop arrives while the daemon is still starting, then it leaves no receiver listening and no schedule behind', async () => {
    await withTwoOrgs(
      async ({ daemon }) => {
        // SIGTERM during start-up (a supervisor's restart, a soak's kill at start): stop() must
        // wait for the start under way, and the start must skip every step after the stop.
        const starting = daemon.start();
        await daemon.stop();
        await starting;
        assert.equal(daemon.hookPort, null, 'the event hook receiver was started after the stop');
        assert.equal(daemon.nextRun(), null, 'a schedule was left running after the stop');
      },
      { start: false },
    );
  });
});
