import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import type { DeliveryConfig } from '../src/config';
import { createLogger, registerSecrets } from '../src/logger';
import { Dispatcher } from '../src/notify/dispatcher';
import { buildSampleAlert } from '../src/notify/sample-alert';
import { SlackNotifier } from '../src/notify/slack';
import { verifiedWebhookId, verifyWebhookSignature, WebhookNotifier } from '../src/notify/webhook';
import type { OktaLogEvent } from '../src/okta/log-event';
import { openStore } from '../src/store/open';
import { Store } from '../src/store/store';
import { tokenEvent, uuidFor } from './helpers/events';
import { LineSink, ROOT, tmpDir } from './helpers/harness';
import { Receiver } from './helpers/receiver';

const DELIVERY: DeliveryConfig = { maxAttempts: 10, maxAgeMs: 48 * 3600_000, intervalMs: 15_000 };
const BOT_TOKEN = 'xoxb-FAKE-echoed-bot-token-for-tests';
const SECRET = 'whsec-FAKE-0123456789abcdef0123456789';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function receiver(): Promise<Receiver> {
  const r = new Receiver();
  await r.start();
  cleanups.push(() => r.stop());
  return r;
}

async function storeWithAlert(clock: FakeClock, notifier: string): Promise<Store> {
  const store = (await openStore({ dbPath: path.join(tmpDir(), 'otw.sqlite') })).store;
  cleanups.push(() => store.close());
  const now = clock.now();
  await store.insertEvent(tokenEvent(1, new Date(now.getTime() - 60_000).toISOString()) as unknown as OktaLogEvent, 'poll', now, null);
  await store.insertAlert(buildSampleAlert({ now, uuid: uuidFor(1), tokenName: 'token-1', source: 'poll' }), null, [notifier], { deferToSummary: false, now });
  return store;
}

describe('Slack API errors', () => {
  test('when a fake Slack API echoes the bot token in its error, then neither the stored error nor the logs carry it, not even stripped of punctuation', async () => {
    registerSecrets([BOT_TOKEN]);
    const api = await receiver();
    api.answer({ status: 200, body: JSON.stringify({ ok: false, error: `invalid_auth for ${BOT_TOKEN}` }) });
    const clock = new FakeClock();
    const store = await storeWithAlert(clock, 'slack');
    const logs = new LineSink();
    const slack = new SlackNotifier({ transport: 'bot', token: BOT_TOKEN, channel: 'C0123456789', apiUrl: api.url('/api') }, { timeoutMs: 2000 });
    const d = new Dispatcher(store, [slack], DELIVERY, createLogger({ level: 'debug', format: 'json' }, { stream: logs }), clock);
    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 0, failed: 1 });
    const stored = (await store.sql.get<{ e: string }>('SELECT last_error AS e FROM deliveries'))!.e;
    const stripped = BOT_TOKEN.replace(/[^a-z0-9_]/gi, '');
    for (const text of [stored, logs.text]) {
      assert.ok(!text.includes(BOT_TOKEN), text);
      assert.ok(!text.includes(stripped), `the stripped token is in: ${text}`);
      assert.ok(!text.includes('echoedbottoken'), `part of the token is in: ${text}`);
    }
    assert.match(stored, /Slack chat\.postMessage refused the message: invalid_auth/);
  });
});

describe('webhook deduplication', () => {
  test('when a captured signed request is replayed with another Idempotency-Key, then the signature still verifies (the header is not signed) but the id to deduplicate on is the signed body\'s', async () => {
    const clock = new FakeClock();
    const r = await receiver();
    const alert = buildSampleAlert({ now: clock.now(), uuid: uuidFor(7), tokenName: 'token-7', source: 'poll' });
    await new WebhookNotifier({ url: r.url('/in'), secret: SECRET }, { timeoutMs: 2000, now: () => clock.now() }).send({ kind: 'alert', alert });
    const req = r.requests[0]!;
    const ts = String(req.headers['x-otw-timestamp']);
    const sig = String(req.headers['x-otw-signature']);
    assert.equal(req.headers['idempotency-key'], alert.id, 'the header repeats the id');

    // The replay, sent to a real receiver that follows the README: verify, then drop repeats of the id.
    const processed: string[] = [];
    const seen = new Set<string>();
    const server = http.createServer((q, s) => {
      const chunks: Buffer[] = [];
      q.on('data', (c: Buffer) => chunks.push(c));
      q.on('end', () => {
        const id = verifiedWebhookId(SECRET, q.headers['x-otw-timestamp'] as string, Buffer.concat(chunks), q.headers['x-otw-signature'] as string, clock.now());
        if (id === null) return void s.writeHead(401).end();
        if (!seen.has(id)) {
          seen.add(id);
          processed.push(id);
        }
        s.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const post = (key: string, body = req.body): Promise<number> =>
      fetch(`http://127.0.0.1:${port}/in`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key, 'X-OTW-Timestamp': ts, 'X-OTW-Signature': sig },
        body,
      }).then((res) => res.status);
    assert.equal(await post(alert.id), 200);
    assert.equal(verifyWebhookSignature(SECRET, ts, req.body, sig, clock.now()), true, 'a changed header does not break the signature');
    assert.equal(await post('otw-attacker-chosen-key'), 200);
    assert.equal(await post(alert.id, req.body.replace(alert.id, 'otw-other-id')), 401, 'the body id is covered by the signature');
    assert.deepEqual(processed, [alert.id], 'processed once');
  });

  test('when the README explains verification, then it tells receivers to deduplicate on the signed body\'s id, not on the unsigned header', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Webhook payload and signature'), readme.indexOf('\n## ', readme.indexOf('### Webhook payload and signature')));
    assert.match(section, /Drop repeats of the body's `id`/);
    assert.match(section, /`Idempotency-Key`[^.]*not (covered by|part of) the signature/);
    assert.doesNotMatch(section, /Drop repeats of an `Idempotency-Key`/);
  });
});
