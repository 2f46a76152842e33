import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { SdkOktaHttp } from '../src/okta/client';
import { OktaRequestError } from '../src/okta/http';
import { tokenEvent, uuidFor } from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';

const iso = (h: Harness, offsetMs = 0): string => new Date(h.clock.now().getTime() + offsetMs).toISOString();

/** A server standing in for an attacker's host: records whatever reaches it. */
async function evilServer(): Promise<{ origin: string; requests: http.IncomingHttpHeaders[]; close(): Promise<void> }> {
  const requests: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('[]');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function storeCounts(h: Harness): Promise<{ events: number; alerts: number; cursor: string | null }> {
  const n = (sql: string): number => (rawDb(h.app.store).prepare(sql).get() as { n: number }).n;
  return { events: n('SELECT COUNT(*) AS n FROM events'), alerts: n('SELECT COUNT(*) AS n FROM alerts'), cursor: (await h.app.store.getCursor())?.url ?? null };
}

describe('Okta failures', () => {
  test('when Okta answers 429, then the tick waits until X-Rate-Limit-Reset and then succeeds', async () => {
    const h = await startHarness();
    try {
      h.fake.persist(tokenEvent(1, iso(h, -1000)));
      h.fake.exhaustRateLimit(30_000);
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(r.newAlerts, 1);
      assert.equal(h.fake.logRequests()[0]!.status, 429);
      // Reset is whole seconds: the wait is the time to the reset (rounded up) plus one second.
      const waited = h.clock.sleeps[0]!;
      assert.ok(waited >= 30_000 && waited <= 32_000, `waited ${waited} ms`);
    } finally {
      await h.close();
    }
  });

  test('when the rate-limit reset is further away than OKTA_MAX_RATE_LIMIT_WAIT, then the tick fails and changes nothing', async () => {
    const h = await startHarness({ env: { OKTA_MAX_RATE_LIMIT_WAIT: '10s' } });
    try {
      h.fake.persist(tokenEvent(1, iso(h, -1000)));
      h.fake.exhaustRateLimit(50_000);
      const before = await storeCounts(h);
      const r = await h.tick();
      assert.equal(r.ok, false);
      assert.match(r.error!, /rate limit/);
      assert.deepEqual(await storeCounts(h), before);
    } finally {
      await h.close();
    }
  });

  test('when less than 10% of the rate limit remains, then paging pauses until the reset', async () => {
    const h = await startHarness({ env: { MAX_ALERTS_PER_RUN: '5000' } });
    try {
      for (let i = 0; i < 1500; i++) h.fake.persist(tokenEvent(i, iso(h, -10_000)));
      h.fake.remainingOverride = 3; // of 50: other integrations used the bucket
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.ok(h.clock.sleeps.length >= 1, 'paused at least once');
      assert.ok(h.clock.sleeps[0]! > 1000 && h.clock.sleeps[0]! <= 62_000, `paused ${h.clock.sleeps[0]} ms`);
      assert.equal(r.newAlerts, 1500);
    } finally {
      await h.close();
    }
  });

  test('when Okta answers 500 twice, then the request is retried with backoff and the tick succeeds', async () => {
    const h = await startHarness();
    try {
      h.fake.persist(tokenEvent(1, iso(h, -1000)));
      h.fake.failStatus(2, 500);
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.deepEqual(h.fake.logRequests().map((q) => q.status), [500, 500, 200, 200]);
      assert.equal(h.clock.sleeps.length, 2);
      assert.ok(h.clock.sleeps[1]! >= 1000 && h.clock.sleeps[1]! <= 2000, 'second backoff is between 1 and 2 s');
      assert.equal(r.newAlerts, 1);
    } finally {
      await h.close();
    }
  });

  test('when the connection drops and then Okta hangs past the timeout, then both are retried', async () => {
    const h = await startHarness({ env: { OKTA_REQUEST_TIMEOUT: '300ms' } });
    try {
      h.fake.persist(tokenEvent(1, iso(h, -1000)));
      // A GET whose connection is reset is sent again once by the HTTP layer (a kept-alive
      // connection closed by the server); a second reset in a row reaches the reader's retries.
      h.fake.fail(2, { kind: 'destroy' });
      h.fake.fail(1, { kind: 'hang', ms: 1500 });
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(r.newAlerts, 1);
      assert.match(h.logs.text, /cannot reach Okta/);
      assert.match(h.logs.text, /no answer from Okta within/);
    } finally {
      await h.close();
    }
  });

  test('when Okta keeps failing with 5xx, then the tick fails after the retries and the store is unchanged', async () => {
    const h = await startHarness({ env: { OKTA_MAX_RETRIES: '2' } });
    try {
      h.fake.persist(tokenEvent(1, iso(h, -1000)));
      await h.tick();
      h.fake.persist(tokenEvent(2, iso(h, -500)));
      const before = await storeCounts(h);
      h.fake.failStatus(3, 503);
      const r = await h.tick();
      assert.equal(r.ok, false);
      assert.match(r.error!, /HTTP 503.*gave up after 3 attempts/);
      assert.deepEqual(await storeCounts(h), before);
      assert.equal((await h.app.store.lastTick())!.result, 'failed');
      // The failed tick still counts the requests it spent (they cost rate limit).
      assert.equal(r.requests, 3);
      assert.equal((await h.app.store.lastTick())!.requests, 3);
      // The next tick resumes from the same cursor and gets the event.
      const r2 = await h.tick();
      assert.equal(r2.newAlerts, 1);
    } finally {
      await h.close();
    }
  });

  test('when the token is invalid, then the tick fails with a sentence naming OKTA_API_TOKEN', async () => {
    const h = await startHarness({ env: { OKTA_API_TOKEN: 'wrong-token-value-123456' } });
    try {
      const r = await h.tick();
      assert.equal(r.ok, false);
      assert.match(r.error!, /rejected the credentials \(401 E0000011\).*OKTA_API_TOKEN/);
      assert.doesNotMatch(h.logs.text, /wrong-token-value-123456/);
    } finally {
      await h.close();
    }
  });

  test('when a next link points to another origin, then the tick fails, stores nothing, and that origin receives no request', async () => {
    const h = await startHarness();
    const evil = await evilServer();
    try {
      h.fake.persist(tokenEvent(1, iso(h, -1000)));
      h.fake.fail(1, { kind: 'next-origin', origin: evil.origin });
      const before = await storeCounts(h);
      const r = await h.tick();
      assert.equal(r.ok, false);
      assert.match(r.error!, /refusing to follow/);
      assert.equal(evil.requests.length, 0);
      assert.deepEqual(await storeCounts(h), before);
    } finally {
      await evil.close();
      await h.close();
    }
  });

  test('when asked for a URL on another origin, then the Okta client refuses before sending the Authorization header', async () => {
    const h = await startHarness();
    const evil = await evilServer();
    try {
      const client = new SdkOktaHttp(h.app.config.okta!);
      await assert.rejects(client.get(`${evil.origin}/api/v1/logs`), (e: unknown) => e instanceof OktaRequestError && e.kind === 'refused-origin');
      assert.equal(evil.requests.length, 0);
    } finally {
      await evil.close();
      await h.close();
    }
  });

  test('when okta.yaml and OKTA_CLIENT_* variables point elsewhere, then the SDK still uses only the configured org and token', async () => {
    const evil = await evilServer();
    const saved = { ...process.env };
    const { tmpDir } = await import('./helpers/harness');
    const fs = await import('node:fs');
    const path = await import('node:path');
    const home = tmpDir('otw-home-');
    fs.mkdirSync(path.join(home, '.okta'));
    fs.writeFileSync(path.join(home, '.okta', 'okta.yaml'), `okta:\n  client:\n    orgUrl: ${evil.origin}\n    token: yaml-token-should-not-be-used\n    authorizationMode: SSWS\n`);
    process.env.HOME = home;
    process.env.OKTA_CLIENT_ORGURL = evil.origin;
    process.env.OKTA_CLIENT_TOKEN = 'env-token-should-not-be-used';
    process.env.OKTA_CLIENT_AUTHORIZATIONMODE = 'PrivateKey';
    const h = await startHarness();
    try {
      h.fake.persist(tokenEvent(1, iso(h, -1000)));
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(h.fake.logRequests()[0]!.headers.authorization, `SSWS ${h.fake.token}`);
      assert.equal(evil.requests.length, 0);
    } finally {
      process.env = saved;
      await evil.close();
      await h.close();
    }
  });

  test('when a tick is stopped by a signal while waiting to retry, then it stops, stores nothing and keeps the cursor', async () => {
    const h = await startHarness();
    try {
      h.fake.persist(tokenEvent(1, iso(h, -1000)));
      await h.tick();
      const before = await storeCounts(h);
      h.fake.persist(tokenEvent(2, iso(h, -500)));
      h.fake.failStatus(1, 502);
      const ac = new AbortController();
      // The signal arrives while the reader sleeps before its retry.
      const sleep = h.clock.sleep.bind(h.clock);
      h.clock.sleep = async (ms: number) => {
        ac.abort();
        await sleep(ms);
      };
      const r = await h.tick(ac.signal);
      assert.equal(r.ok, false);
      assert.match(r.error!, /stopped while waiting to retry/);
      assert.equal(h.fake.logRequests().at(-1)!.status, 502, 'no request after the signal');
      assert.deepEqual(await storeCounts(h), before);
    } finally {
      await h.close();
    }
  });

  test('when the org answers with a redirect to another origin, then it is not followed and the token goes nowhere else', async () => {
    const h = await startHarness();
    const evil = await evilServer();
    try {
      h.fake.fail(1, { kind: 'redirect', location: `${evil.origin}/steal` });
      const r = await h.tick();
      assert.equal(r.ok, false);
      assert.match(r.error!, /HTTP 302/);
      assert.equal(evil.requests.length, 0);
    } finally {
      await evil.close();
      await h.close();
    }
  });

  test('when a tick fails after committing pages with more alerts than MAX_ALERTS_PER_RUN, then the excess is still queued as a summary', async () => {
    const h = await startHarness({ env: { MAX_ALERTS_PER_RUN: '2', OKTA_MAX_RETRIES: '0' } });
    try {
      for (let i = 0; i < 5; i++) h.fake.persist(tokenEvent(i, iso(h, -1000 + i)));
      h.fake.failAt(2, { kind: 'status', status: 503, errorCode: 'E0000010', errorSummary: 'Service is in read only mode' });
      const r = await h.tick();
      assert.equal(r.ok, false);
      assert.equal(r.summarized, 3);
      const lines = h.stdout.json();
      assert.equal(lines.filter((l) => l.type === 'okta-token-watch.alert').length, 2);
      assert.equal(lines.filter((l) => l.type === 'okta-token-watch.summary').length, 1);
      assert.equal(lines.find((l) => l.type === 'okta-token-watch.summary')!.count, 3);
    } finally {
      await h.close();
    }
  });

});
