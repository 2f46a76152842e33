import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { describe, test } from 'node:test';
import { Daemon } from '../src/daemon';
import { ingestPushBatch, startEventHookReceiver } from '../src/ingest/event-hook';
import { HookPusher } from '../src/simulator/hook-pusher';
import { otherEvent, tokenEvent, uuidFor } from './helpers/events';
import { runCli, startHarness, type Harness } from './helpers/harness';
import { rawDb } from './helpers/raw-db';
import { Receiver } from './helpers/receiver';

const SECRET = 'FAKE-event-hook-secret-for-tests-0123456789';

function hookEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { EVENT_HOOK_PORT: '0', EVENT_HOOK_SECRET: SECRET, POLL_SCHEDULE: '0 0 1 1 *', ...extra };
}

/** A raw request to the receiver; resolves with the status and body. */
function request(port: number, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'POST', path: opts.path ?? '/okta/event-hook', headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function envelope(events: unknown[]): string {
  return JSON.stringify({ eventType: 'com.okta.event_hook', eventId: 'e1', data: { events } });
}

async function metricsText(h: Harness): Promise<string> {
  return h.app.metrics.registry.metrics();
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.split(' ')[0] === name);
  return line ? Number(line.split(' ').at(-1)) : NaN;
}

async function withDaemon(env: Record<string, string>, fn: (h: Harness, daemon: Daemon, port: number) => Promise<void>): Promise<void> {
  const h = await startHarness({ env: hookEnv(env) });
  const daemon = new Daemon(h.app);
  try {
    await daemon.start();
    await fn(h, daemon, daemon.hookPort!);
  } finally {
    await daemon.stop();
    await h.close();
  }
}

describe('event hook receiver', () => {
  test('when Okta verifies with the right secret, then it gets its challenge back; with a wrong or missing secret, then 401, counted and never logged', async () => {
    await withDaemon({}, async (h, _d, port) => {
      const pusher = new HookPusher({ url: `http://127.0.0.1:${port}/okta/event-hook`, secret: SECRET });
      const v = await pusher.verify('challenge-"quoted"-</script>\\');
      assert.equal(v.ok, true, JSON.stringify(v.result));

      const wrong = await request(port, { method: 'GET', headers: { authorization: 'guess-of-the-secret-00000000000000', 'x-okta-verification-challenge': 'c' } });
      assert.equal(wrong.status, 401);
      assert.doesNotMatch(wrong.body, /verification/);
      const missing = await request(port, { method: 'POST', body: envelope([]) });
      assert.equal(missing.status, 401);
      const noChallenge = await request(port, { method: 'GET', headers: { authorization: SECRET } });
      assert.equal(noChallenge.status, 400);
      const longChallenge = await request(port, { method: 'GET', headers: { authorization: SECRET, 'x-okta-verification-challenge': 'x'.repeat(600) } });
      assert.equal(longChallenge.status, 400);

      const m = await metricsText(h);
      assert.equal(metric(m, 'otw_hook_requests_rejected_total{org="default",reason="unauthorized"}'), 2);
      assert.doesNotMatch(h.logs.text, /guess-of-the-secret/);
      assert.doesNotMatch(h.logs.text, new RegExp(SECRET));
    });
  });

  test('when a request is not JSON, not the envelope, too large, on another path or method, then 400, 400, 413, 413, 413 (over 1,000 events), 404, 405', async () => {
    await withDaemon({}, async (h, _d, port) => {
      const auth = { authorization: SECRET, 'content-type': 'application/json' };
      assert.equal((await request(port, { headers: auth, body: 'not json' })).status, 400);
      assert.equal((await request(port, { headers: auth, body: JSON.stringify({ data: { events: 'nope' } }) })).status, 400);
      assert.equal((await request(port, { headers: auth, body: JSON.stringify([1, 2]) })).status, 400);
      // Declared too large: refused before a byte of the body is read.
      assert.equal((await request(port, { headers: { ...auth, 'content-length': String(2 * 1024 * 1024) } })).status, 413);
      // Chunked, no length: refused while counting the bytes.
      const big = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/okta/event-hook', headers: auth, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        for (let i = 0; i < 20; i++) req.write(chunk);
        req.end();
      });
      assert.equal(big, 413);
      // Small enough in bytes, but more events than any Okta delivery: too long to commit in 3 s.
      const many = Array.from({ length: 1001 }, (_, i) => ({ uuid: `u${i}`, eventType: 'system.api_token.create' }));
      assert.equal((await request(port, { headers: auth, body: envelope(many) })).status, 413);
      assert.equal((await request(port, { path: '/other', headers: auth, body: envelope([]) })).status, 404);
      assert.equal((await request(port, { method: 'PUT', headers: auth, body: envelope([]) })).status, 405);
      const m = await metricsText(h);
      assert.equal(metric(m, 'otw_hook_requests_rejected_total{org="default",reason="bad_request"}'), 3);
      assert.equal(metric(m, 'otw_hook_requests_rejected_total{org="default",reason="too_large"}'), 3);
      assert.equal(metric(m, 'otw_hook_requests_rejected_total{org="default",reason="not_found"}'), 1);
      assert.equal(metric(m, 'otw_hook_requests_rejected_total{org="default",reason="method"}'), 1);
      assert.equal((await h.app.store.status(0)).eventsSeen, 0);
    });
  });

  test('when more requests than the cap are in flight, then the next one gets 503 at once and the held ones still commit', async () => {
    const h = await startHarness({ env: hookEnv() });
    const deps = { store: h.app.store, detector: h.app.detector, notifiers: ['console'], poll: h.app.config.poll, clock: h.clock, logger: h.app.logger };
    const rx = await startEventHookReceiver({ config: h.app.config.eventHook!, ingest: (e) => ingestPushBatch(deps, e), onAlerts: () => undefined, metrics: h.app.metrics, logger: h.app.logger, clock: h.clock, maxConcurrent: 2 });
    const held: net.Socket[] = [];
    try {
      const body = envelope([tokenEvent(1, h.clock.now().toISOString())]);
      const answers: Array<Promise<string>> = [];
      for (let i = 0; i < 2; i++) {
        // Headers and half the body: the request is in flight until the rest comes.
        const s = net.connect(rx.port, '127.0.0.1');
        held.push(s);
        let got = '';
        s.on('data', (c: Buffer) => (got += c.toString()));
        answers.push(new Promise((resolve) => s.on('end', () => resolve(got))));
        s.write(`POST /okta/event-hook HTTP/1.1\r\nHost: x\r\nAuthorization: ${SECRET}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
      const third = await request(rx.port, { headers: { authorization: SECRET }, body });
      assert.equal(third.status, 503);
      for (const s of held) s.end(body.slice(10));
      const done = await Promise.all(answers);
      for (const a of done) assert.match(a, /^HTTP\/1\.1 200/);
      assert.equal((await h.app.store.eventsBySource()).push, 1);
      assert.equal(metric(await metricsText(h), 'otw_hook_requests_rejected_total{org="default",reason="busy"}'), 1);
    } finally {
      for (const s of held) s.destroy();
      await rx.close();
      await h.close();
    }
  });

  test('when a token event is pushed and then polled, then each notifier alerts once, at once after the push, and the poller adds nothing', async () => {
    const rcv = new Receiver();
    await rcv.start();
    try {
      await withDaemon({ NOTIFIERS: 'webhook,slack', WEBHOOK_URL: rcv.url('/webhook'), SLACK_WEBHOOK_URL: rcv.url('/slack') }, async (h, daemon, port) => {
        const pusher = new HookPusher({ url: `http://127.0.0.1:${port}/okta/event-hook`, secret: SECRET });
        const event = tokenEvent(7, new Date(h.clock.now().getTime() - 2000).toISOString());
        const out = await pusher.deliver([event, otherEvent(8, h.clock.now().toISOString())]);
        assert.equal(out.delivered, true);
        // No tick ran since the push: the dispatcher was kicked by the commit.
        await rcv.waitFor(2);
        h.fake.persist(event);
        await daemon.tick();
        await h.app.dispatcher.runOnce();
        await pusher.deliver([event]); // Okta's duplicate delivery
        await h.app.dispatcher.runOnce();
        assert.deepEqual(rcv.requests.map((r) => r.path).sort(), ['/slack', '/webhook']);
        assert.deepEqual(await h.app.store.eventsBySource(), { push: 1 });
        const m = await metricsText(h);
        assert.equal(metric(m, 'otw_hook_events_total{org="default",result="matched"}'), 2);
        assert.equal(metric(m, 'otw_hook_events_total{org="default",result="ignored"}'), 1);
        assert.equal(metric(m, 'otw_events_by_source{org="default",source="push"}'), 1);
        assert.equal(metric(m, 'otw_hook_event_lag_seconds_count{org="default"}'), 2);
        assert.ok(metric(m, 'otw_hook_last_delivery_timestamp_seconds{org="default"}') > 0);
      });
    } finally {
      await rcv.stop();
    }
  });

  test('when a token event is polled and then pushed, then each notifier alerts once', async () => {
    const rcv = new Receiver();
    await rcv.start();
    try {
      await withDaemon({ NOTIFIERS: 'webhook,slack', WEBHOOK_URL: rcv.url('/webhook'), SLACK_WEBHOOK_URL: rcv.url('/slack') }, async (h, daemon, port) => {
        const event = tokenEvent(9, new Date(h.clock.now().getTime() - 2000).toISOString());
        h.fake.persist(event);
        await daemon.tick();
        await h.app.dispatcher.runOnce();
        await rcv.waitFor(2);
        const pusher = new HookPusher({ url: `http://127.0.0.1:${port}/okta/event-hook`, secret: SECRET });
        assert.equal((await pusher.deliver([event])).delivered, true);
        await h.app.dispatcher.runOnce();
        assert.deepEqual(rcv.requests.map((r) => r.path).sort(), ['/slack', '/webhook']);
        assert.deepEqual(await h.app.store.eventsBySource(), { poll: 1 });
      });
    } finally {
      await rcv.stop();
    }
  });

  test('when events arrived by push and by poll, then status, status --json and /healthz show the split and the last push', async () => {
    await withDaemon({ HEALTH_PORT: '0' }, async (h, daemon, port) => {
      const pusher = new HookPusher({ url: `http://127.0.0.1:${port}/okta/event-hook`, secret: SECRET });
      assert.equal((await pusher.deliver([tokenEvent(61, h.clock.now().toISOString())])).delivered, true);
      h.fake.persist(tokenEvent(62, h.clock.now().toISOString()));
      await daemon.tick();
      await request(port, { headers: { authorization: 'wrong' }, body: '{}' });
      const health = await fetch(`http://127.0.0.1:${daemon.healthPort}/healthz`);
      const body = (await health.json()) as { push: { lastDeliveryAt: string | null; eventsBySource: Record<string, number>; rejected: Record<string, number> } };
      assert.equal(body.push.lastDeliveryAt, h.clock.now().toISOString());
      assert.deepEqual(body.push.eventsBySource, { poll: 1, push: 1 });
      assert.deepEqual(body.push.rejected, { unauthorized: 1 });
      const json = await runCli(['status', '--json'], h.env);
      assert.equal(json.code, 0, json.stderr);
      const s = JSON.parse(json.stdout) as { push: { enabled: boolean; lastReceivedAt: string; eventsBySource: Record<string, number> } };
      assert.deepEqual(s.push, { enabled: true, lastReceivedAt: h.clock.now().toISOString(), eventsBySource: { poll: 1, push: 1 } });
      const text = await runCli(['status'], h.env);
      assert.match(text.stdout, /^events seen +2 \(1 first by poll, 1 first by push\)$/m);
      assert.match(text.stdout, /^push +receiver on; last push delivery /m);
    });
  });

  test('when the commit fails, then Okta gets 500, its one retry commits, and the alert goes out once', async () => {
    const rcv = new Receiver();
    await rcv.start();
    try {
      await withDaemon({ NOTIFIERS: 'webhook', WEBHOOK_URL: rcv.url('/webhook') }, async (h, _d, port) => {
        // A real SQLite failure inside the transaction: a trigger whose function throws for the
        // first two inserts (the event, then its "unreadable" fallback), so the whole commit fails.
        let failures = 2;
        rawDb(h.app.store).function('otw_test_fail', () => {
          if (failures > 0) {
            failures--;
            throw new Error('injected storage failure');
          }
          return 0;
        });
        rawDb(h.app.store).exec(`CREATE TEMP TRIGGER otw_test_fail_push BEFORE INSERT ON events WHEN NEW.source = 'push' BEGIN SELECT otw_test_fail(); END`);
        const pusher = new HookPusher({ url: `http://127.0.0.1:${port}/okta/event-hook`, secret: SECRET });
        const out = await pusher.deliver([tokenEvent(11, h.clock.now().toISOString())]);
        assert.deepEqual(out.attempts.map((a) => a.status), [500, 200]);
        await rcv.waitFor(1);
        await h.app.dispatcher.runOnce();
        assert.equal(rcv.requests.length, 1);
        assert.match(rcv.requests[0]!.body, new RegExp(uuidFor(11)));
        assert.equal(metric(await metricsText(h), 'otw_hook_requests_rejected_total{org="default",reason="commit_failed"}'), 1);
      });
    } finally {
      await rcv.stop();
    }
  });

  test('when the daemon stops with a delivery in flight, then that delivery is committed and answered 200', async () => {
    const h = await startHarness({ env: hookEnv() });
    const daemon = new Daemon(h.app);
    await daemon.start();
    const port = daemon.hookPort!;
    const body = envelope([tokenEvent(21, h.clock.now().toISOString())]);
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (c: Buffer) => (got += c.toString()));
    const answered = new Promise<void>((resolve) => s.on('close', () => resolve()));
    try {
      s.write(`POST /okta/event-hook HTTP/1.1\r\nHost: x\r\nAuthorization: ${SECRET}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
      await new Promise((r) => setTimeout(r, 50));
      const stopped = daemon.stop();
      await new Promise((r) => setTimeout(r, 50));
      s.write(body.slice(5));
      await stopped;
      await answered;
      assert.match(got, /^HTTP\/1\.1 200/);
      assert.equal(await h.app.store.hasEvent(uuidFor(21)), true);
    } finally {
      s.destroy();
      await daemon.stop();
      await h.close();
    }
  });
});

describe('hook pusher (Okta-like)', () => {
  const events = [tokenEvent(1, '2026-11-28T12:00:00.000Z')];

  test('when the receiver times out, then the pusher retries exactly once', async () => {
    const rcv = new Receiver();
    await rcv.start();
    try {
      rcv.answer('hang', 'hang', 'hang');
      const p = new HookPusher({ url: rcv.url('/h'), secret: SECRET, timeoutMs: 200 });
      const out = await p.deliver(events);
      assert.deepEqual(out.attempts.map((a) => a.status), ['timeout', 'timeout']);
      assert.equal(out.delivered, false);
      assert.equal(rcv.requests.length, 2);
    } finally {
      await rcv.stop();
    }
  });

  test('when the receiver answers 500, then one retry (which may succeed); when it answers 400, then none', async () => {
    const rcv = new Receiver();
    await rcv.start();
    try {
      const p = new HookPusher({ url: rcv.url('/h'), secret: SECRET });
      rcv.answer({ status: 500 }, { status: 200 });
      assert.deepEqual((await p.deliver(events)).attempts.map((a) => a.status), [500, 200]);
      rcv.answer({ status: 503 }, { status: 502 });
      const twice = await p.deliver(events);
      assert.deepEqual(twice.attempts.map((a) => a.status), [503, 502]);
      assert.equal(twice.delivered, false);
      rcv.requests.length = 0;
      rcv.answer({ status: 400 });
      assert.deepEqual((await p.deliver(events)).attempts.map((a) => a.status), [400]);
      rcv.answer({ status: 401 });
      assert.deepEqual((await p.deliver(events)).attempts.map((a) => a.status), [401]);
      const body = rcv.requests[0]!.json as { eventType: string; source: string; eventId: string; data: { events: unknown[] } };
      assert.equal(body.eventType, 'com.okta.event_hook');
      assert.match(body.source, /\/api\/v1\/eventHooks\//);
      assert.equal(body.data.events.length, 1);
      assert.equal(rcv.requests[0]!.headers.authorization, SECRET);
    } finally {
      await rcv.stop();
    }
  });

  test('when duplicates and disorder are asked for, then every batch is sent, some twice, not in order', async () => {
    const rcv = new Receiver();
    await rcv.start();
    try {
      let seed = 1;
      const random = (): number => ((seed = (seed * 48271) % 2147483647) / 2147483647);
      const p = new HookPusher({ url: rcv.url('/h'), secret: SECRET, random });
      const many = Array.from({ length: 40 }, (_, i) => tokenEvent(i, '2026-11-28T12:00:00.000Z'));
      const out = await p.pushAll(many, { batchSize: 4, duplicateRate: 0.5, outOfOrder: true });
      const uuids = rcv.requests.flatMap((r) => (r.json as { data: { events: Array<{ uuid: string }> } }).data.events.map((e) => e.uuid));
      assert.deepEqual([...new Set(uuids)].sort(), many.map((e) => e.uuid as string).sort());
      assert.ok(out.length > 10, `expected duplicates, got ${out.length} deliveries`);
      assert.notDeepEqual(uuids.slice(0, 40), many.map((e) => e.uuid));
    } finally {
      await rcv.stop();
    }
  });

  test('when the fake Okta persists events with a pusher attached, then the eligible ones are pushed', async () => {
    const h = await startHarness({ env: hookEnv() });
    const daemon = new Daemon(h.app);
    try {
      await daemon.start();
      const pusher = new HookPusher({ url: `http://127.0.0.1:${daemon.hookPort}/okta/event-hook`, secret: SECRET });
      h.fake.pushTo(pusher);
      h.fake.persist(tokenEvent(31, h.clock.now().toISOString()), otherEvent(32, h.clock.now().toISOString()));
      await pusher.idle();
      assert.equal(pusher.deliveries.length, 1);
      assert.equal(pusher.deliveries[0]!.events, 1);
      assert.equal(await h.app.store.hasEvent(uuidFor(31)), true);
    } finally {
      await daemon.stop();
      await h.close();
    }
  });
});

describe('event hook receiver: a client that never finishes its body', () => {
  test('when a client sends half a body and goes away, then stop() does not wait for it', async () => {
    const h = await startHarness({ env: hookEnv() });
    const daemon = new Daemon(h.app);
    await daemon.start();
    const s = net.connect(daemon.hookPort!, '127.0.0.1');
    try {
      s.write(`POST /okta/event-hook HTTP/1.1\r\nHost: x\r\nAuthorization: ${SECRET}\r\nContent-Length: 1000\r\n\r\n{"data":`);
      await new Promise((r) => setTimeout(r, 50));
      s.destroy();
      await new Promise((r) => setTimeout(r, 50));
      await daemon.stop();
      assert.equal((await h.app.store.status(0)).eventsSeen, 0);
      // A client hanging up is not our failure: nothing counted as a failed commit, nothing logged as an error.
      assert.equal(metric(await metricsText(h), 'otw_hook_requests_rejected_total{org="default",reason="commit_failed"}'), 0);
      assert.deepEqual(h.logs.lines.filter((l) => l.includes('"level":"error"')), []);
    } finally {
      s.destroy();
      await daemon.stop();
      await h.close();
    }
  });
});

describe('event hook receiver under a flood', () => {
  test('when hundreds of bad and good requests arrive at once, then ticks, /healthz and deliveries still work and every answer is 200, 401 or 503', async () => {
    const rcv = new Receiver();
    await rcv.start();
    try {
      // Every alert one by one (no summary): this test is about the flood, not MAX_ALERTS_PER_RUN.
      await withDaemon({ HEALTH_PORT: '0', NOTIFIERS: 'webhook', WEBHOOK_URL: rcv.url('/webhook'), MAX_ALERTS_PER_RUN: '100000' }, async (h, daemon, port) => {
        const good = (i: number): string => envelope(Array.from({ length: 50 }, (_, j) => tokenEvent(1000 + i * 50 + j, h.clock.now().toISOString())));
        const flood = [
          ...Array.from({ length: 150 }, () => request(port, { headers: { authorization: 'nope' }, body: '{}' })),
          ...Array.from({ length: 30 }, (_, i) => request(port, { headers: { authorization: SECRET }, body: good(i) })),
        ];
        h.fake.persist(tokenEvent(5000, h.clock.now().toISOString()));
        const [tick, health] = await Promise.all([daemon.tick().then(() => daemon.lastResult), fetch(`http://127.0.0.1:${daemon.healthPort}/healthz`)]);
        assert.equal(tick?.ok, true);
        assert.equal(health.status, 200);
        const answers = await Promise.allSettled(flood);
        for (const a of answers) if (a.status === 'fulfilled') assert.ok([200, 401, 503].includes(a.value.status), String(a.value.status));
        const committed = answers.slice(150).filter((a) => a.status === 'fulfilled' && a.value.status === 200).length;
        assert.ok(committed > 0, 'some good deliveries got through');
        await h.app.dispatcher.runOnce();
        // Every alert of a committed event was delivered once; the polled one too.
        assert.equal(rcv.requests.length, (await h.app.store.status(0)).alertsRaised);
      });
    } finally {
      await rcv.stop();
    }
  });
});

describe('event hook receiver: clients that never finish their headers', () => {
  test('when more half-open sockets than maxConnections never send their headers, then they are cut at the headers timeout and a good request gets through', async () => {
    const h = await startHarness({ env: hookEnv() });
    const deps = { store: h.app.store, detector: h.app.detector, notifiers: ['console'], poll: h.app.config.poll, clock: h.clock, logger: h.app.logger };
    // maxConcurrent 2: maxConnections is 16.
    const rx = await startEventHookReceiver({ config: h.app.config.eventHook!, ingest: (e) => ingestPushBatch(deps, e), onAlerts: () => undefined, metrics: h.app.metrics, logger: h.app.logger, clock: h.clock, maxConcurrent: 2, headersTimeoutMs: 1_000, requestTimeoutMs: 1_500 });
    const slow: net.Socket[] = [];
    try {
      for (let i = 0; i < 24; i++) {
        const s = net.connect(rx.port, '127.0.0.1');
        // Never closes its side, never finishes its headers: only the receiver can free the slot.
        s.on('error', () => undefined);
        s.write('POST /okta/event-hook HTTP/1.1\r\nHost: x\r\n');
        slow.push(s);
      }
      await new Promise((r) => setTimeout(r, 3_500));
      const v = await request(rx.port, { method: 'GET', headers: { authorization: SECRET, 'x-okta-verification-challenge': 'still-here' } });
      assert.equal(v.status, 200);
      assert.deepEqual(JSON.parse(v.body), { verification: 'still-here' });
      assert.ok(metric(await metricsText(h), 'otw_hook_requests_rejected_total{org="default",reason="timeout"}') >= 1);
    } finally {
      for (const s of slow) s.destroy();
      await rx.close();
      await h.close();
    }
  });
});

describe('MAX_ALERTS_PER_RUN and push', () => {
  test('when a token-making loop is pushed a few events per delivery, then only MAX_ALERTS_PER_RUN alerts go out one by one and the rest wait for the next tick\'s one summary', async () => {
    const rcv = new Receiver();
    await rcv.start();
    try {
      await withDaemon({ MAX_ALERTS_PER_RUN: '5', NOTIFIERS: 'webhook', WEBHOOK_URL: rcv.url('/webhook') }, async (h, daemon, port) => {
        for (let i = 0; i < 8; i++) {
          const events = Array.from({ length: 5 }, (_, j) => tokenEvent(2000 + i * 5 + j, h.clock.now().toISOString()));
          assert.equal((await request(port, { headers: { authorization: SECRET }, body: envelope(events) })).status, 200);
        }
        await h.app.dispatcher.runOnce();
        assert.equal(rcv.requests.length, 5, 'five alerts one by one, not forty');
        await daemon.tick();
        await h.app.dispatcher.runOnce();
        assert.equal(rcv.requests.length, 6, 'then one summary');
        const summary = JSON.parse(rcv.requests[5]!.body) as { type?: string; kind?: string; summary?: { count: number } };
        assert.equal(summary.summary?.count, 35, JSON.stringify(summary).slice(0, 300));
      });
    } finally {
      await rcv.stop();
    }
  });
});

describe('check and the push receiver', () => {
  test('when the daemon\'s receiver answers, then check says so; with another secret, then FAIL; with nothing listening, then WARN', async () => {
    await withDaemon({}, async (h, _d, port) => {
      const env = { OKTA_ORG_URL: h.env.OKTA_ORG_URL!, OKTA_API_TOKEN: h.env.OKTA_API_TOKEN!, DB_PATH: h.app.config.store.dbPath, NOTIFIERS: 'console', EVENT_HOOK_PORT: String(port), EVENT_HOOK_SECRET: SECRET };
      const ok = await runCli(['check'], env);
      assert.match(ok.stdout, /^ok +push receiver +answers Okta's verification at http:\/\/127\.0\.0\.1:\d+\/okta\/event-hook$/m, ok.stdout + ok.stderr);
      const other = await runCli(['check'], { ...env, EVENT_HOOK_SECRET: 'FAKE-other-event-hook-secret-for-tests-01234' });
      assert.equal(other.code, 1);
      assert.match(other.stdout, /^FAIL +push receiver .*refused this EVENT_HOOK_SECRET/m);
      assert.doesNotMatch(other.stdout + other.stderr, /another-secret|hook-secret-0123/);
    });
    const closed = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const h = await startHarness();
    try {
      const r = await runCli(['check'], { OKTA_ORG_URL: h.env.OKTA_ORG_URL!, OKTA_API_TOKEN: h.env.OKTA_API_TOKEN!, DB_PATH: h.app.config.store.dbPath, NOTIFIERS: 'console', EVENT_HOOK_PORT: String(closed), EVENT_HOOK_SECRET: SECRET });
      assert.match(r.stdout, /^WARN +push receiver +settings valid; nothing answers at .*ECONNREFUSED.*start the daemon/m, r.stdout);
    } finally {
      await h.close();
    }
  });
});
