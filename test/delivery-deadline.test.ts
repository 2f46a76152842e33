import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import type { DeliveryConfig } from '../src/config';
import { nullLogger } from '../src/logger';
import { Dispatcher } from '../src/notify/dispatcher';
import { EmailNotifier } from '../src/notify/email';
import type { Notifier } from '../src/notify/notifier';
import { buildSampleAlert } from '../src/notify/sample-alert';
import { WebhookNotifier } from '../src/notify/webhook';
import type { OktaLogEvent } from '../src/okta/log-event';
import { openDatabase } from '../src/store/db';
import type { Store } from '../src/store/store';
import { rawDb, storeOn } from './helpers/raw-db';
import { tokenEvent, uuidFor } from './helpers/events';
import { runCli, tmpDir } from './helpers/harness';

const DELIVERY: DeliveryConfig = { maxAttempts: 10, maxAgeMs: 48 * 3600_000, intervalMs: 15_000 };

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Resolves true when p settles within ms, false otherwise (a bound on waiting, not a speed check). */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

type Mode = 'trickle' | 'hang' | 'ok';

/** What a stalling server saw of one connection. */
interface Seen {
  /** Resolves when the client closed the connection. */
  closed: Promise<void>;
  /** True once the server finished its answer (it never does in 'trickle' and 'hang'). */
  answered: boolean;
}

/**
 * A webhook receiver on 127.0.0.1 that, per request, answers at once ('ok'), never ('hang'), or
 * sends its headers and then one byte every 100 ms for ever ('trickle').
 */
async function stallingHttp(modes: Mode[]): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const mode = modes.shift() ?? 'ok';
    let closed!: () => void;
    const s: Seen = { closed: new Promise<void>((r) => (closed = r)), answered: false };
    seen.push(s);
    let timer: NodeJS.Timeout | undefined;
    req.socket.on('close', () => {
      clearInterval(timer);
      closed();
    });
    req.resume();
    req.on('end', () => {
      if (mode === 'ok') {
        res.writeHead(200).end('ok');
        s.answered = true;
      } else if (mode === 'trickle') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.flushHeaders();
        timer = setInterval(() => res.write('.'), 100);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, seen };
}

/**
 * A hand-written SMTP server on 127.0.0.1. After the message data it answers 250 at once ('ok'),
 * never ('hang'), or trickles "250-" continuation lines every 100 ms and never the final line.
 */
async function stallingSmtp(modes: Mode[]): Promise<{ port: number; seen: Seen[]; accepted: () => number }> {
  const seen: Seen[] = [];
  let accepted = 0;
  const server = net.createServer((socket) => {
    const mode = modes.shift() ?? 'ok';
    let closed!: () => void;
    const s: Seen = { closed: new Promise<void>((r) => (closed = r)), answered: false };
    seen.push(s);
    let timer: NodeJS.Timeout | undefined;
    socket.on('close', () => {
      clearInterval(timer);
      closed();
    });
    socket.on('error', () => undefined);
    let buffer = '';
    let inData = false;
    socket.write('220 stall.test ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buffer = buffer.slice(end + 5);
          inData = false;
          if (mode === 'ok') {
            accepted++;
            s.answered = true;
            socket.write('250 queued\r\n');
          } else if (mode === 'trickle') {
            timer = setInterval(() => socket.write('250-still working\r\n'), 100);
          }
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffer.slice(0, nl).toUpperCase();
        buffer = buffer.slice(nl + 2);
        if (line.startsWith('EHLO')) socket.write('250-stall.test\r\n250 8BITMIME\r\n');
        else if (line.startsWith('HELO')) socket.write('250 stall.test\r\n');
        else if (line.startsWith('MAIL') || line.startsWith('RCPT') || line.startsWith('RSET')) socket.write('250 OK\r\n');
        else if (line.startsWith('DATA')) {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
        else socket.write('502 not here\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, seen, accepted: () => accepted };
}

async function setup(notifier: Notifier, sendTimeoutMs: number): Promise<{ store: Store; clock: FakeClock; dispatcher: Dispatcher }> {
  const clock = new FakeClock();
  const store = storeOn(openDatabase(path.join(tmpDir(), 'otw.sqlite')));
  cleanups.push(() => store.close());
  const now = clock.now();
  await store.insertEvent(tokenEvent(1, new Date(now.getTime() - 60_000).toISOString()) as unknown as OktaLogEvent, 'poll', now, null);
  await store.insertAlert(buildSampleAlert({ now, uuid: uuidFor(1), tokenName: 'token-1', source: 'poll' }), null, [notifier.name], { deferToSummary: false, now });
  const dispatcher = new Dispatcher(store, [notifier], DELIVERY, nullLogger(), clock, { random: () => 0, sendTimeoutMs });
  return { store, clock, dispatcher };
}

function row(store: Store): { status: string; attempts: number; nextAt: string; lastError: string | null } {
  return rawDb(store).prepare('SELECT status, attempts, next_attempt_at AS nextAt, last_error AS lastError FROM deliveries').get() as {
    status: string;
    attempts: number;
    nextAt: string;
    lastError: string | null;
  };
}

/** The row failed once with a timeout, the retry really happens, and the second try delivers it. */
async function assertRetriedThenSent(store: Store, clock: FakeClock, dispatcher: Dispatcher): Promise<void> {
  const r = row(store);
  assert.equal(r.status, 'pending');
  assert.equal(r.attempts, 1);
  assert.match(r.lastError ?? '', /timed out|in time|no answer within/);
  clock.set(r.nextAt);
  assert.deepEqual(await dispatcher.runOnce(), { sent: 1, retried: 0, failed: 0 });
  assert.equal(row(store).status, 'sent');
}

describe('a send that outlives its deadline', () => {
  test('when a webhook receiver sends its headers and then trickles a byte every 100 ms, then NOTIFY_TIMEOUT ends the whole request, the receiver sees the connection close, and the retry delivers once', async () => {
    const receiver = await stallingHttp(['trickle', 'ok']);
    // NOTIFY_TIMEOUT 400 ms; the dispatcher's own limit far beyond it.
    const { store, clock, dispatcher } = await setup(new WebhookNotifier({ url: receiver.url, secret: null }, { timeoutMs: 400 }), 5000);
    assert.deepEqual(await dispatcher.runOnce(), { sent: 0, retried: 1, failed: 0 });
    assert.ok(await within(receiver.seen[0]!.closed, 2000), 'the trickling request was aborted');
    assert.equal(receiver.seen[0]!.answered, false);
    await assertRetriedThenSent(store, clock, dispatcher);
    assert.equal(receiver.seen.length, 2);
  });

  test('when a webhook receiver never answers, then the dispatcher\'s deadline aborts the request before it counts as failed', async () => {
    const receiver = await stallingHttp(['hang', 'ok']);
    // The notifier's own limit is long: only the dispatcher's deadline can end this send.
    const { store, clock, dispatcher } = await setup(new WebhookNotifier({ url: receiver.url, secret: null }, { timeoutMs: 60_000 }), 400);
    assert.deepEqual(await dispatcher.runOnce(), { sent: 0, retried: 1, failed: 0 });
    assert.ok(await within(receiver.seen[0]!.closed, 2000), 'the hanging request was aborted');
    await assertRetriedThenSent(store, clock, dispatcher);
    assert.equal(receiver.seen.length, 2);
  });

  test('when an SMTP server trickles continuation lines after the message data, then NOTIFY_TIMEOUT closes the session and the retry delivers once', async () => {
    const smtp = await stallingSmtp(['trickle', 'ok']);
    const email = new EmailNotifier(
      { smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false, user: null, password: null }, from: 'otw@example.com', to: ['secops@example.com'] },
      { timeoutMs: 400 },
    );
    const { store, clock, dispatcher } = await setup(email, 5000);
    assert.deepEqual(await dispatcher.runOnce(), { sent: 0, retried: 1, failed: 0 });
    assert.ok(await within(smtp.seen[0]!.closed, 2000), 'the trickling SMTP session was closed');
    await assertRetriedThenSent(store, clock, dispatcher);
    assert.equal(smtp.accepted(), 1);
  });

  test('when an SMTP server never answers the message data, then the dispatcher\'s deadline closes the session', async () => {
    const smtp = await stallingSmtp(['hang', 'ok']);
    const email = new EmailNotifier(
      { smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false, user: null, password: null }, from: 'otw@example.com', to: ['secops@example.com'] },
      { timeoutMs: 60_000 },
    );
    const { store, clock, dispatcher } = await setup(email, 400);
    assert.deepEqual(await dispatcher.runOnce(), { sent: 0, retried: 1, failed: 0 });
    assert.ok(await within(smtp.seen[0]!.closed, 2000), 'the hanging SMTP session was closed');
    await assertRetriedThenSent(store, clock, dispatcher);
    assert.equal(smtp.accepted(), 1);
  });
});

describe('an answer that arrives while the event loop is blocked', () => {
  test('when the receiver answers at once but the process is blocked past NOTIFY_TIMEOUT (as by a SQLite busy wait), then the answer is read and the send counts as delivered, not retried', async () => {
    let requests = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests++;
        res.writeHead(200).end('ok');
        // The answer is on its way; now the whole process stalls for longer than NOTIFY_TIMEOUT,
        // the way a write waiting on a locked database does (better-sqlite3 waits synchronously).
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const { store, dispatcher } = await setup(new WebhookNotifier({ url, secret: null }, { timeoutMs: 300 }), 5000);
    assert.deepEqual(await dispatcher.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.equal(row(store).status, 'sent');
    assert.equal(requests, 1);
  });
});

describe('NOTIFY_TIMEOUT', () => {
  test('when NOTIFY_TIMEOUT is longer than the delivery claim allows, then the CLI exits 78 naming NOTIFY_TIMEOUT', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'test.env'), '');
    const r = await runCli(['status', '--env-file', path.join(dir, 'test.env')], { NOTIFY_TIMEOUT: '5m', DB_PATH: path.join(dir, 'otw.sqlite') });
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /configuration error: NOTIFY_TIMEOUT must be at most 2m/);
    const ok = await runCli(['status', '--env-file', path.join(dir, 'test.env')], { NOTIFY_TIMEOUT: '2m', DB_PATH: path.join(dir, 'otw.sqlite') });
    assert.doesNotMatch(ok.stderr, /NOTIFY_TIMEOUT/, 'the bound itself is accepted');
  });
});
