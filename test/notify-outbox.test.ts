import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import type { DeliveryConfig } from '../src/config';
import type { Alert } from '../src/detect/alert';
import { buildSummary, SUMMARY_BOUNDS } from '../src/detect/summary';
import { createLogger, type Logger } from '../src/logger';
import type { EmailConfig } from '../src/notify/config';
import { Dispatcher, retryDelayMs } from '../src/notify/dispatcher';
import { EmailNotifier } from '../src/notify/email';
import type { Notifier } from '../src/notify/notifier';
import { buildSampleAlert, buildSampleSummary } from '../src/notify/sample-alert';
import { SlackNotifier } from '../src/notify/slack';
import { runTestNotify } from '../src/notify/test-notify';
import { WebhookNotifier } from '../src/notify/webhook';
import type { OktaLogEvent } from '../src/okta/log-event';
import { openDatabase } from '../src/store/db';
import type { Store } from '../src/store/store';
import { rawDb, storeOn } from './helpers/raw-db';
import { tokenEvent, uuidFor } from './helpers/events';
import { LineSink, tmpDir } from './helpers/harness';
import { Receiver } from './helpers/receiver';
import { SmtpReceiver } from './helpers/smtp';

const DELIVERY: DeliveryConfig = { maxAttempts: 10, maxAgeMs: 48 * 3600_000, intervalMs: 15_000 };
// Jitter at its minimum: waits are exactly half the exponential step (15 s, 30 s, 60 s...).
const NO_JITTER = { random: () => 0 };

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function openStore(file = path.join(tmpDir(), 'otw.sqlite')): { store: Store; file: string } {
  const store = storeOn(openDatabase(file));
  cleanups.push(() => store.close());
  return { store, file };
}

function logSink(): { logger: Logger; logs: LineSink } {
  const logs = new LineSink();
  return { logger: createLogger({ level: 'debug', format: 'json' }, { stream: logs }), logs };
}

/** Stores event n and its alert, with one pending delivery per notifier. */
async function addAlert(store: Store, n: number, notifiers: string[], now: Date, deferToSummary = false): Promise<Alert> {
  const uuid = uuidFor(n);
  await store.insertEvent(tokenEvent(n, new Date(now.getTime() - 60_000).toISOString()) as unknown as OktaLogEvent, 'poll', now, null);
  const alert = buildSampleAlert({ now, uuid, tokenName: `token-${n}`, source: 'poll' });
  await store.insertAlert(alert, null, notifiers, { deferToSummary, now });
  return alert;
}

interface Row {
  id: number;
  notifier: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
}
function rows(store: Store): Row[] {
  return rawDb(store).prepare('SELECT id, notifier, status, attempts, next_attempt_at, last_error FROM deliveries ORDER BY id').all() as Row[];
}

async function receiver(): Promise<Receiver> {
  const r = new Receiver();
  await r.start();
  cleanups.push(() => r.stop());
  return r;
}

async function smtpServer(): Promise<SmtpReceiver> {
  const s = new SmtpReceiver();
  await s.start();
  cleanups.push(() => s.stop());
  return s;
}

function emailConfig(port: number): EmailConfig {
  return {
    smtp: { host: '127.0.0.1', port, secure: false, requireTls: false, user: null, password: null },
    from: 'otw@example.com',
    to: ['secops@example.com'],
  };
}

describe('the outbox dispatcher', () => {
  test('when Slack answers 429 with Retry-After, then the retry waits that long, really happens, and delivers exactly once', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    const slack = await receiver();
    slack.answer({ status: 429, body: 'rate_limited', headers: { 'Retry-After': '7' } });
    const notifier = new SlackNotifier({ transport: 'webhook', webhookUrl: slack.url('/services/T000/B000/SECRETPATH') }, { timeoutMs: 2000, now: () => clock.now() });
    const { logger } = logSink();
    const d = new Dispatcher(store, [notifier], DELIVERY, logger, clock, NO_JITTER);
    await addAlert(store, 1, ['slack'], clock.now());

    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 1, failed: 0 });
    const [row] = rows(store);
    assert.equal(row?.status, 'pending');
    assert.equal(row?.attempts, 1);
    assert.equal(row?.next_attempt_at, new Date(clock.now().getTime() + 7000).toISOString());
    assert.match(row?.last_error ?? '', /429.*rate_limited/);
    assert.doesNotMatch(row?.last_error ?? '', /SECRETPATH|127\.0\.0\.1/);

    clock.advance(6000);
    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 0, failed: 0 }, 'not before Retry-After');
    assert.equal(slack.requests.length, 1);

    clock.advance(1000);
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 0, failed: 0 });
    assert.deepEqual(slack.requests.map((r) => r.answeredWith), [429, 200]);
    assert.equal(slack.requests[0]?.body, slack.requests[1]?.body, 'the retry sends the same message');
    assert.equal(rows(store)[0]?.status, 'sent');
    assert.equal(rows(store)[0]?.attempts, 2);
  });

  test('when the SMTP server is down for a while and then comes back, then the email is delivered once', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    const smtp = await smtpServer();
    await smtp.stop();
    const email = new EmailNotifier(emailConfig(smtp.port), { timeoutMs: 2000 });
    const { logger, logs } = logSink();
    const d = new Dispatcher(store, [email], DELIVERY, logger, clock, NO_JITTER);
    await addAlert(store, 2, ['email'], clock.now());

    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 1, failed: 0 });
    assert.match(rows(store)[0]?.last_error ?? '', /ECONNECTION|ECONNREFUSED|SMTP/);
    clock.advance(retryDelayMs(1, undefined, () => 0));
    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 1, failed: 0 }, 'still down: second attempt fails too');

    await smtp.start(smtp.port);
    clock.advance(retryDelayMs(2, undefined, () => 0));
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    clock.advance(3600_000);
    await d.runOnce();
    assert.equal(smtp.messages.length, 1);
    assert.deepEqual(smtp.messages[0]?.to, ['secops@example.com']);
    assert.equal(smtp.messages[0]?.header('Message-ID'), `<otw-${uuidFor(2)}@okta-token-watch>`);
    assert.equal(rows(store)[0]?.status, 'sent');
    assert.equal(rows(store)[0]?.attempts, 3);
    assert.equal(logs.json().filter((l) => l.level === 'warn').length, 2);
    assert.equal(logs.json().filter((l) => l.level === 'error').length, 0);
  });

  test('when the SMTP server answers 451 then 554, then the first is retried and the second fails for good with its reason', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    const smtp = await smtpServer();
    smtp.failures.push({ at: 'data', code: 451, message: '4.3.0 try again later' }, { at: 'data', code: 554, message: '5.7.1 message refused by policy' });
    const { logger, logs } = logSink();
    const d = new Dispatcher(store, [new EmailNotifier(emailConfig(smtp.port), { timeoutMs: 2000 })], DELIVERY, logger, clock, NO_JITTER);
    await addAlert(store, 3, ['email'], clock.now());

    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 1, failed: 0 });
    assert.match(rows(store)[0]?.last_error ?? '', /451.*try again later/);
    clock.advance(60_000);
    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 0, failed: 1 });
    assert.equal(rows(store)[0]?.status, 'failed');
    assert.match(rows(store)[0]?.last_error ?? '', /554.*refused by policy/);
    const errors = logs.json().filter((l) => l.level === 'error');
    assert.equal(errors.length, 1, 'one error line per dead delivery');
    assert.equal(errors[0]?.notifier, 'email');
    assert.equal(smtp.messages.length, 0);
  });

  test('when the webhook answers 404, then its delivery fails for good and email is still delivered', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    const hook = await receiver();
    hook.defaultAnswer = { status: 404, body: 'no such hook' };
    const smtp = await smtpServer();
    const { logger, logs } = logSink();
    const d = new Dispatcher(
      store,
      [new WebhookNotifier({ url: hook.url('/hooks/SECRET-TOKEN-123'), secret: null }, { timeoutMs: 2000 }), new EmailNotifier(emailConfig(smtp.port), { timeoutMs: 2000 })],
      DELIVERY,
      logger,
      clock,
      NO_JITTER,
    );
    await addAlert(store, 4, ['webhook', 'email'], clock.now());
    await addAlert(store, 5, ['webhook', 'email'], clock.now());

    assert.deepEqual(await d.runOnce(), { sent: 2, retried: 0, failed: 2 });
    const byNotifier = rows(store).map((r) => `${r.notifier}:${r.status}`);
    assert.deepEqual(byNotifier, ['webhook:failed', 'email:sent', 'webhook:failed', 'email:sent']);
    assert.equal(smtp.messages.length, 2);
    const failed = await store.failedDeliveries(10);
    assert.equal(failed.length, 2);
    for (const f of failed) {
      assert.match(f.lastError ?? '', /WEBHOOK_URL refused the message \(HTTP 404\): no such hook/);
      assert.doesNotMatch(f.lastError ?? '', /SECRET-TOKEN-123/);
    }
    const errors = logs.json().filter((l) => l.level === 'error');
    assert.equal(errors.length, 2);
    assert.doesNotMatch(logs.text, /SECRET-TOKEN-123/);
  });

  test('when one notifier hangs, then the others deliver meanwhile and the hung send ends in a retry', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    const slack = await receiver();
    slack.answer('hang');
    const smtp = await smtpServer();
    const { logger } = logSink();
    const d = new Dispatcher(
      store,
      [new SlackNotifier({ transport: 'webhook', webhookUrl: slack.url('/hook') }, { timeoutMs: 1500 }), new EmailNotifier(emailConfig(smtp.port), { timeoutMs: 2000 })],
      DELIVERY,
      logger,
      clock,
      NO_JITTER,
    );
    await addAlert(store, 6, ['slack', 'email'], clock.now());
    const pass = d.runOnce();
    const deadline = Date.now() + 5000;
    while (smtp.messages.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(smtp.messages.length, 1, 'email delivered while Slack hangs');
    assert.equal(rows(store).find((r) => r.notifier === 'slack')?.attempts, 0, 'Slack still in flight');
    assert.deepEqual(await pass, { sent: 1, retried: 1, failed: 0 });
    assert.match(rows(store).find((r) => r.notifier === 'slack')?.last_error ?? '', /timed out/);
  });

  test('when the process restarts with pending rows, then the new dispatcher resumes and delivers each once', async () => {
    const clock = new FakeClock();
    const first = openStore();
    const hook = await receiver();
    hook.answer({ status: 503, body: 'maintenance' });
    const notifier = new WebhookNotifier({ url: hook.url('/in'), secret: null }, { timeoutMs: 2000 });
    const a1 = await addAlert(first.store, 7, ['webhook'], clock.now());
    const a2 = await addAlert(first.store, 8, ['webhook'], clock.now());
    await new Dispatcher(first.store, [notifier], DELIVERY, logSink().logger, clock, NO_JITTER).runOnce();
    assert.deepEqual(rows(first.store).map((r) => [r.status, r.attempts]), [['pending', 1], ['pending', 0]], 'the lane pauses after a 503');
    await first.store.close();

    const second = storeOn(openDatabase(first.file));
    cleanups.push(() => second.close());
    const d = new Dispatcher(second, [notifier], DELIVERY, logSink().logger, clock, NO_JITTER);
    clock.advance(retryDelayMs(1, undefined, () => 0));
    assert.deepEqual(await d.runOnce(), { sent: 2, retried: 0, failed: 0 });
    assert.deepEqual(rows(second).map((r) => r.status), ['sent', 'sent']);
    const keys = hook.requests.filter((r) => r.answeredWith === 200).map((r) => r.headers['idempotency-key']);
    assert.deepEqual(keys.sort(), [a1.id, a2.id].sort());
  });

  test('when rows of a notifier that is no longer enabled fill the queue, then enabled notifiers are not starved', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    for (let i = 0; i < 60; i++) await addAlert(store, 100 + i, ['pagerduty'], clock.now());
    clock.advance(1000);
    const late = await addAlert(store, 200, ['webhook'], clock.now());
    const due = await store.dueDeliveries(clock.now(), 50, ['webhook']);
    assert.equal(due.length, 1);
    assert.equal(due[0]?.notification.kind === 'alert' && due[0].notification.alert.id, late.id);
    assert.equal((await store.dueDeliveries(clock.now(), 50)).length, 50, 'without a filter the limit still applies');
    assert.equal((await store.dueDeliveries(clock.now(), 50, [])).length, 0);

    const hook = await receiver();
    const d = new Dispatcher(store, [new WebhookNotifier({ url: hook.url('/in'), secret: null }, { timeoutMs: 2000 })], { ...DELIVERY }, logSink().logger, clock, { ...NO_JITTER, batchSize: 10 });
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.equal(hook.requests.length, 1);
  });

  test('when a destination keeps failing, then the row fails after DELIVERY_MAX_ATTEMPTS with one error line', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    const hook = await receiver();
    hook.defaultAnswer = { status: 500, body: 'boom' };
    const { logger, logs } = logSink();
    const d = new Dispatcher(store, [new WebhookNotifier({ url: hook.url('/in'), secret: null }, { timeoutMs: 2000 })], { ...DELIVERY, maxAttempts: 3 }, logger, clock, NO_JITTER);
    await addAlert(store, 9, ['webhook'], clock.now());
    for (let i = 0; i < 5; i++) {
      await d.runOnce();
      clock.advance(3600_000);
    }
    assert.equal(hook.requests.length, 3);
    assert.equal(rows(store)[0]?.status, 'failed');
    assert.equal(rows(store)[0]?.attempts, 3);
    const errors = logs.json().filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]?.reason), /DELIVERY_MAX_ATTEMPTS \(3\) reached/);
  });

  test('when a delivery is older than DELIVERY_MAX_AGE and fails again, then it fails for good', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    const hook = await receiver();
    hook.defaultAnswer = { status: 502, body: 'bad gateway' };
    const { logger, logs } = logSink();
    const d = new Dispatcher(store, [new WebhookNotifier({ url: hook.url('/in'), secret: null }, { timeoutMs: 2000 })], { ...DELIVERY, maxAgeMs: 3600_000 }, logger, clock, NO_JITTER);
    await addAlert(store, 10, ['webhook'], clock.now());
    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 1, failed: 0 });
    clock.advance(2 * 3600_000);
    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 0, failed: 1 });
    assert.match(String(logs.json().find((l) => l.level === 'error')?.reason), /DELIVERY_MAX_AGE/);
    // retry-failed gives it a fresh budget, and the dispatcher picks it up.
    hook.defaultAnswer = { status: 200, body: 'ok' };
    clock.advance(60_000);
    assert.equal(await store.retryFailed(clock.now(), 'webhook'), 1);
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
  });

  test('when stop() is called during a send, then the send finishes, is recorded, and nothing else starts', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    const hook = await receiver();
    hook.answer({ status: 200, body: 'ok', delayMs: 300 });
    const d = new Dispatcher(store, [new WebhookNotifier({ url: hook.url('/in'), secret: null }, { timeoutMs: 5000 })], DELIVERY, logSink().logger, clock, NO_JITTER);
    await addAlert(store, 11, ['webhook'], clock.now());
    await addAlert(store, 12, ['webhook'], clock.now());
    const pass = d.runOnce();
    await hook.waitFor(1);
    await d.stop();
    assert.deepEqual(rows(store).map((r) => r.status), ['sent', 'pending']);
    assert.deepEqual(await pass, { sent: 1, retried: 0, failed: 0 });
    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 0, failed: 0 });
    assert.equal(hook.requests.length, 1);
  });

  test('when several Slack messages are due after a quiet spell, then a burst of five goes out at once and the rest one per second', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    const slack = await receiver();
    const d = new Dispatcher(store, [new SlackNotifier({ transport: 'webhook', webhookUrl: slack.url('/hook') }, { timeoutMs: 2000 })], DELIVERY, logSink().logger, clock, NO_JITTER);
    for (let i = 0; i < 7; i++) await addAlert(store, 20 + i, ['slack'], clock.now());
    const start = clock.now().getTime();
    assert.deepEqual(await d.runOnce(), { sent: 7, retried: 0, failed: 0 });
    assert.deepEqual(clock.sleeps, [1000, 1000]);
    assert.equal(clock.now().getTime() - start, 2000);

    // Three quiet seconds earn three sends back; the fourth waits for its second.
    clock.advance(3000);
    for (let i = 0; i < 4; i++) await addAlert(store, 30 + i, ['slack'], clock.now());
    assert.deepEqual(await d.runOnce(), { sent: 4, retried: 0, failed: 0 });
    assert.deepEqual(clock.sleeps, [1000, 1000, 1000]);
  });

  test('when the timer is started, then due rows are delivered between ticks without runOnce', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    const hook = await receiver();
    const d = new Dispatcher(store, [new WebhookNotifier({ url: hook.url('/in'), secret: null }, { timeoutMs: 2000 })], { ...DELIVERY, intervalMs: 20 }, logSink().logger, clock, NO_JITTER);
    await addAlert(store, 30, ['webhook'], clock.now());
    d.start();
    try {
      await hook.waitFor(1);
    } finally {
      await d.stop();
    }
    assert.equal(rows(store)[0]?.status, 'sent');
  });

  test('when a summary is queued, then it is delivered like an alert, once per notifier', async () => {
    const clock = new FakeClock();
    const { store } = openStore();
    const hook = await receiver();
    const slack = await receiver();
    const d = new Dispatcher(
      store,
      [new WebhookNotifier({ url: hook.url('/in'), secret: null }, { timeoutMs: 2000 }), new SlackNotifier({ transport: 'webhook', webhookUrl: slack.url('/hook') }, { timeoutMs: 2000 })],
      DELIVERY,
      logSink().logger,
      clock,
      NO_JITTER,
    );
    for (let n = 1; n <= 120; n++) await addAlert(store, 5000 + n, ['webhook', 'slack'], clock.now(), true);
    const { id: _id, ...summary } = buildSampleSummary(120, { now: clock.now() });
    const stored = await store.transaction((tx) => tx.insertSummary(summary, null, ['webhook', 'slack'], clock.now()));
    assert.equal((rawDb(store).prepare('SELECT COUNT(*) AS n FROM alerts WHERE summary_id IS NOT NULL').get() as { n: number }).n, 120);
    assert.deepEqual(await d.runOnce(), { sent: 2, retried: 0, failed: 0 });
    const body = hook.requests[0]?.json as { type: string; summary: { id: string; count: number } };
    assert.equal(body.type, 'okta-token-watch.summary');
    assert.equal(body.summary.id, stored.id);
    assert.equal(body.summary.count, 120);
    assert.equal(hook.requests[0]?.headers['idempotency-key'], stored.id);
    assert.match(JSON.stringify(slack.requests[0]?.json), /120 more Okta API token creations/);
  });

  test('when an alert waiting for a summary has lost its event row, then the summary still covers and links it', async () => {
    const { store } = openStore();
    const now = new FakeClock().now();
    for (let n = 1; n <= 3; n++) await addAlert(store, 7000 + n, ['webhook'], now, true);
    // Hand-edited database (the sqlite3 shell runs with foreign keys off).
    rawDb(store).pragma('foreign_keys = OFF');
    rawDb(store).prepare('DELETE FROM events WHERE uuid = ?').run(uuidFor(7002));
    rawDb(store).pragma('foreign_keys = ON');
    const s = await store.transaction(async (tx) => {
      const excess = (await tx.excessAwaitingSummary(SUMMARY_BOUNDS))!;
      return tx.insertSummary(buildSummary(excess, now, 'https://acme.okta.com'), null, ['webhook'], now);
    });
    assert.equal(s.count, 3);
    assert.equal(s.alertIds.length, 3);
    assert.equal((rawDb(store).prepare('SELECT COUNT(*) AS n FROM alerts WHERE summary_id IS NULL').get() as { n: number }).n, 0);
  });
});

describe('test-notify', () => {
  test('when one notifier works and one refuses, then there is one line each and the run counts as failed', async () => {
    const slack = await receiver();
    const hook = await receiver();
    hook.defaultAnswer = { status: 401, body: 'bad signature' };
    const notifiers: Notifier[] = [
      new SlackNotifier({ transport: 'webhook', webhookUrl: slack.url('/hook') }, { timeoutMs: 2000 }),
      new WebhookNotifier({ url: hook.url('/in'), secret: 'a-long-enough-secret-value' }, { timeoutMs: 2000 }),
    ];
    const r = await runTestNotify(notifiers, {});
    assert.equal(r.anyFailed, true);
    assert.equal(r.lines.length, 2);
    assert.match(r.lines[0] ?? '', /^ok {4}slack {6}sample alert delivered in \d+ ms$/);
    assert.equal(r.lines[1], 'FAIL  webhook    WEBHOOK_URL refused the message (HTTP 401): bad signature (permanent: fix the setting)');
    const sent = hook.requests[0]?.json as { test: boolean; alert: { source: string; id: string } };
    assert.equal(sent.test, true);
    assert.equal(sent.alert.source, 'test');
    assert.match(sent.alert.id, /^otw-test-/);
    assert.match(JSON.stringify(slack.requests[0]?.json), /\[TEST\] MEDIUM: Okta API token created/);
  });

  test('when --notifier names one notifier, then only it is tried; an unknown name is a failure line', async () => {
    const slack = await receiver();
    const notifiers: Notifier[] = [new SlackNotifier({ transport: 'webhook', webhookUrl: slack.url('/hook') }, { timeoutMs: 2000 })];
    const one = await runTestNotify(notifiers, { notifier: 'slack' });
    assert.equal(one.anyFailed, false);
    assert.equal(one.lines.length, 1);
    const none = await runTestNotify(notifiers, { notifier: 'email' });
    assert.equal(none.anyFailed, true);
    assert.deepEqual(none.lines, ['FAIL  email      not an enabled notifier (enabled: slack)']);
    assert.equal(slack.requests.length, 1);
  });
});
