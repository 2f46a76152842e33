import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { EmailNotifier } from '../src/notify/email';
import { buildSampleAlert } from '../src/notify/sample-alert';
import { SlackNotifier } from '../src/notify/slack';
import { formatWebhook, verifyWebhookSignature, WebhookNotifier } from '../src/notify/webhook';
import { Receiver } from './helpers/receiver';
import { SmtpReceiver } from './helpers/smtp';
import { rejection } from './helpers/rejection';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function receiver(): Promise<Receiver> {
  const r = new Receiver();
  await r.start();
  cleanups.push(() => r.stop());
  return r;
}

const alert = buildSampleAlert();
const BOT_TOKEN = 'xoxb-FAKE-transport-bot-token';

describe('Slack transport', () => {
  test('when the webhook accepts the message, then one JSON Block Kit POST arrives', async () => {
    const r = await receiver();
    await new SlackNotifier({ transport: 'webhook', webhookUrl: r.url('/services/T/B/X') }, { timeoutMs: 2000 }).send({ kind: 'alert', alert });
    assert.equal(r.requests.length, 1);
    assert.equal(r.requests[0]?.method, 'POST');
    assert.equal(r.requests[0]?.path, '/services/T/B/X');
    assert.match(String(r.requests[0]?.headers['content-type']), /application\/json/);
    assert.equal((r.requests[0]?.json as { blocks: unknown[] }).blocks.length, 10);
  });

  test('when the webhook answers 500, 429 or 404, then the errors are retryable, retryable with Retry-After, and permanent', async () => {
    const r = await receiver();
    r.answer({ status: 500, body: 'oops' }, { status: 429, body: 'rate_limited', headers: { 'Retry-After': '30' } }, { status: 404, body: 'no_service' }, { status: 410, body: 'channel_is_archived' });
    const s = new SlackNotifier({ transport: 'webhook', webhookUrl: r.url('/services/T/B/SECRET') }, { timeoutMs: 2000 });
    const e500 = await rejection(s.send({ kind: 'alert', alert }));
    assert.equal(e500.retryable, true);
    const e429 = await rejection(s.send({ kind: 'alert', alert }));
    assert.deepEqual([e429.retryable, e429.retryAfterMs], [true, 30_000]);
    const e404 = await rejection(s.send({ kind: 'alert', alert }));
    assert.equal(e404.retryable, false);
    assert.equal(e404.message, 'SLACK_WEBHOOK_URL refused the message (HTTP 404): no_service');
    const e410 = await rejection(s.send({ kind: 'alert', alert }));
    assert.equal(e410.retryable, false);
    for (const e of [e500, e429, e404, e410]) assert.doesNotMatch(e.message, /SECRET|127\.0\.0\.1/);
  });

  test('when the webhook redirects, then the redirect is not followed and the error is permanent', async () => {
    const r = await receiver();
    const elsewhere = await receiver();
    r.answer({ status: 302, headers: { Location: elsewhere.url('/steal') } });
    const e = await rejection(new SlackNotifier({ transport: 'webhook', webhookUrl: r.url('/hook') }, { timeoutMs: 2000 }).send({ kind: 'alert', alert }));
    assert.equal(e.retryable, false);
    assert.match(e.message, /redirect \(HTTP 302\), which is not followed/);
    assert.equal(elsewhere.requests.length, 0);
  });

  test('when nothing listens or the answer never comes, then the error is retryable', async () => {
    const r = await receiver();
    const port = r.port;
    await r.stop();
    const refused = await rejection(new SlackNotifier({ transport: 'webhook', webhookUrl: `http://127.0.0.1:${port}/hook` }, { timeoutMs: 2000 }).send({ kind: 'alert', alert }));
    assert.equal(refused.retryable, true);
    assert.match(refused.message, /ECONNREFUSED/);
    const slow = await receiver();
    slow.answer('hang');
    const hung = await rejection(new SlackNotifier({ transport: 'webhook', webhookUrl: slow.url('/hook') }, { timeoutMs: 300 }).send({ kind: 'alert', alert }));
    assert.equal(hung.retryable, true);
    assert.match(hung.message, /timed out/);
  });

  test('when a bot posts, then chat.postMessage gets the token, the channel and the blocks; ok:false errors are classified', async () => {
    const api = await receiver();
    api.answer(
      { status: 200, body: '{"ok":true,"ts":"1.2"}' },
      { status: 200, body: '{"ok":false,"error":"ratelimited"}', headers: { 'Retry-After': '3' } },
      { status: 200, body: '{"ok":false,"error":"internal_error"}' },
      { status: 200, body: '{"ok":false,"error":"channel_not_found"}' },
      { status: 200, body: '{"ok":false,"error":"invalid_auth"}' },
      { status: 429, body: '', headers: { 'Retry-After': '9' } },
    );
    const s = new SlackNotifier({ transport: 'bot', token: BOT_TOKEN, channel: 'C0123456789', apiUrl: api.url('/api') }, { timeoutMs: 2000 });
    await s.send({ kind: 'alert', alert });
    const req = api.requests[0]!;
    assert.equal(req.path, '/api/chat.postMessage');
    assert.equal(req.headers.authorization, `Bearer ${BOT_TOKEN}`);
    const body = req.json as { channel: string; blocks: unknown[]; text: string; unfurl_links: boolean };
    assert.equal(body.channel, 'C0123456789');
    assert.equal(body.blocks.length, 10);
    assert.equal(body.unfurl_links, false);

    const limited = await rejection(s.send({ kind: 'alert', alert }));
    assert.deepEqual([limited.retryable, limited.retryAfterMs, limited.message], [true, 3000, 'Slack chat.postMessage refused the message: ratelimited']);
    assert.equal((await rejection(s.send({ kind: 'alert', alert }))).retryable, true);
    const notFound = await rejection(s.send({ kind: 'alert', alert }));
    assert.equal(notFound.retryable, false);
    assert.match(notFound.message, /channel_not_found \(check SLACK_CHANNEL/);
    const badAuth = await rejection(s.send({ kind: 'alert', alert }));
    assert.equal(badAuth.retryable, false);
    assert.match(badAuth.message, /invalid_auth/);
    const http429 = await rejection(s.send({ kind: 'alert', alert }));
    assert.deepEqual([http429.retryable, http429.retryAfterMs], [true, 9000]);
    for (const e of [limited, notFound, badAuth, http429]) assert.doesNotMatch(e.message, /xoxb/);
  });

  test('when the bot API redirects, then the token is not carried to the other host', async () => {
    const api = await receiver();
    const elsewhere = await receiver();
    api.answer({ status: 307, headers: { Location: elsewhere.url('/api/chat.postMessage') } });
    const s = new SlackNotifier({ transport: 'bot', token: BOT_TOKEN, channel: 'C0123456789', apiUrl: api.url('/api') }, { timeoutMs: 2000 });
    assert.equal((await rejection(s.send({ kind: 'alert', alert }))).retryable, false);
    assert.equal(elsewhere.requests.length, 0);
  });

  test('when check() runs for a bot, then auth.test is called', async () => {
    const api = await receiver();
    api.answer({ status: 200, body: '{"ok":false,"error":"token_revoked"}' });
    const s = new SlackNotifier({ transport: 'bot', token: BOT_TOKEN, channel: 'C0123456789', apiUrl: api.url('/api') }, { timeoutMs: 2000 });
    const e = await rejection(s.check!());
    assert.match(e.message, /auth\.test refused the message: token_revoked/);
    assert.equal(api.requests[0]?.path, '/api/auth.test');
    assert.equal(new SlackNotifier({ transport: 'webhook', webhookUrl: api.url('/x') }, { timeoutMs: 2000 }).check, undefined);
  });
});

describe('webhook transport', () => {
  const SECRET = 'whsec-0123456789abcdef0123456789abcdef';

  test('when a secret is set, then the request is signed over timestamp and body and the signature verifies', async () => {
    const clock = new FakeClock();
    const r = await receiver();
    await new WebhookNotifier({ url: r.url('/in?key=abc'), secret: SECRET }, { timeoutMs: 2000, now: () => clock.now() }).send({ kind: 'alert', alert });
    const req = r.requests[0]!;
    const ts = String(req.headers['x-otw-timestamp']);
    const sig = String(req.headers['x-otw-signature']);
    assert.equal(ts, String(Math.floor(clock.now().getTime() / 1000)));
    assert.match(sig, /^sha256=[0-9a-f]{64}$/);
    assert.equal(req.headers['idempotency-key'], alert.id);
    assert.equal(req.path, '/in?key=abc');
    assert.equal(req.body, formatWebhook({ kind: 'alert', alert }), 'the exact signed bytes arrive');
    assert.equal(verifyWebhookSignature(SECRET, ts, req.body, sig, clock.now()), true);
    assert.equal(verifyWebhookSignature(SECRET, ts, Buffer.from(req.body), sig, clock.now()), true);

    assert.equal(verifyWebhookSignature(SECRET, ts, req.body.replace('terraform-ci', 'terraform-cj'), sig, clock.now()), false, 'tampered body');
    assert.equal(verifyWebhookSignature(SECRET, String(Number(ts) - 1), req.body, sig, clock.now()), false, 'other timestamp');
    assert.equal(verifyWebhookSignature('another-secret-of-enough-length', ts, req.body, sig, clock.now()), false, 'wrong secret');
    assert.equal(verifyWebhookSignature(SECRET, ts, req.body, sig, clock.now().getTime() + 301_000), false, 'replayed after the tolerance');
    assert.equal(verifyWebhookSignature(SECRET, ts, req.body, sig, clock.now().getTime() + 299_000), true, 'within the tolerance');
    assert.equal(verifyWebhookSignature(SECRET, ts, req.body, sig, clock.now().getTime() + 3600_000, 7200), true, 'custom tolerance');
    assert.equal(verifyWebhookSignature(SECRET, undefined, req.body, sig, clock.now()), false);
    assert.equal(verifyWebhookSignature(SECRET, ts, req.body, 'sha256=zz', clock.now()), false);
  });

  test('when no secret is set, then no signature headers are sent', async () => {
    const r = await receiver();
    await new WebhookNotifier({ url: r.url('/in'), secret: null }, { timeoutMs: 2000 }).send({ kind: 'alert', alert, test: true });
    assert.equal(r.requests[0]?.headers['x-otw-signature'], undefined);
    assert.equal(r.requests[0]?.headers['x-otw-timestamp'], undefined);
    assert.equal((r.requests[0]?.json as { test: boolean }).test, true);
  });

  test('when the receiver answers 408, 503 or 400, then the first two are retryable and 400 is permanent', async () => {
    const r = await receiver();
    r.answer({ status: 408 }, { status: 503, headers: { 'Retry-After': new Date(Date.now() + 120_000).toUTCString() } }, { status: 400, body: 'bad payload' });
    const w = new WebhookNotifier({ url: r.url('/in'), secret: null }, { timeoutMs: 2000 });
    assert.equal((await rejection(w.send({ kind: 'alert', alert }))).retryable, true);
    const e503 = await rejection(w.send({ kind: 'alert', alert }));
    assert.equal(e503.retryable, true);
    assert.ok(e503.retryAfterMs !== undefined && e503.retryAfterMs > 100_000 && e503.retryAfterMs <= 120_000, 'HTTP-date Retry-After');
    const e400 = await rejection(w.send({ kind: 'alert', alert }));
    assert.deepEqual([e400.retryable, e400.message], [false, 'WEBHOOK_URL refused the message (HTTP 400): bad payload']);
  });
});

describe('email transport', () => {
  async function smtp(): Promise<SmtpReceiver> {
    const s = new SmtpReceiver();
    await s.start();
    cleanups.push(() => s.stop());
    return s;
  }
  const config = (port: number, to = ['secops@example.com', 'oncall@example.com']) => ({
    smtp: { host: '127.0.0.1', port, secure: false, requireTls: false, user: null, password: null },
    from: 'Token Watch <otw@example.com>',
    to,
  });

  test('when a hostile alert is mailed, then the real server receives one message with clean headers and only the configured recipients', async () => {
    const s = await smtp();
    const a = buildSampleAlert();
    a.token = { id: '1', name: 'x\r\nBcc: victim@evil.example\r\nSubject: spoofed' };
    await new EmailNotifier(config(s.port), { timeoutMs: 2000 }).send({ kind: 'alert', alert: a });
    assert.equal(s.messages.length, 1);
    const m = s.messages[0]!;
    assert.deepEqual(m.to, ['secops@example.com', 'oncall@example.com']);
    assert.equal(m.from, 'otw@example.com');
    assert.equal(m.header('Subject'), '[okta-token-watch] medium: API token "x Bcc: victim@evil.example Subject: spoofed" created by jordan.admin@example.com');
    assert.equal(m.header('Bcc'), undefined);
    assert.equal(m.raw.match(/^Subject:/gim)?.length, 1);
    assert.match(m.raw, /Content-Type: multipart\/alternative/);
    assert.match(m.raw, /Content-Type: text\/plain/);
    assert.match(m.raw, /Content-Type: text\/html/);
    assert.equal(m.header('X-OTW-Notification-Id'), a.id);
  });

  test('when one recipient is rejected, then the error is permanent and names the recipient', async () => {
    const s = await smtp();
    s.rejectRecipients.add('oncall@example.com');
    const e = await rejection(new EmailNotifier(config(s.port), { timeoutMs: 2000 }).send({ kind: 'alert', alert }));
    assert.equal(e.retryable, false);
    assert.match(e.message, /accepted 1 recipient\(s\) but rejected oncall@example\.com.*no such mailbox/);
    assert.equal(s.messages.length, 1, 'the accepted recipient got it');
  });

  test('when every recipient is deferred with 450, then the error is retryable; with 550 it is permanent', async () => {
    const s = await smtp();
    s.failures.push({ at: 'rcpt', code: 450, message: '4.2.0 greylisted' }, { at: 'rcpt', code: 550, message: '5.1.1 unknown user' });
    const n = new EmailNotifier(config(s.port, ['secops@example.com']), { timeoutMs: 2000 });
    const e450 = await rejection(n.send({ kind: 'alert', alert }));
    assert.equal(e450.retryable, true);
    assert.match(e450.message, /450.*greylisted/);
    const e550 = await rejection(n.send({ kind: 'alert', alert }));
    assert.equal(e550.retryable, false);
    assert.match(e550.message, /550.*unknown user/);
  });

  test('when TLS is required and the server offers no STARTTLS, then the error is permanent and names SMTP_REQUIRE_TLS', async () => {
    const s = await smtp();
    const c = config(s.port);
    const e = await rejection(new EmailNotifier({ ...c, smtp: { ...c.smtp, requireTls: true } }, { timeoutMs: 2000 }).send({ kind: 'alert', alert }));
    assert.equal(e.retryable, false);
    assert.match(e.message, /SMTP_REQUIRE_TLS/);
    assert.equal(s.messages.length, 0);
  });
});
