import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import type { DeliveryConfig } from '../src/config';
import type { Alert } from '../src/detect/alert';
import type { FollowUp, FollowUpKind } from '../src/follow/followup';
import { createLogger, type Logger } from '../src/logger';
import { ConsoleNotifier } from '../src/notify/console';
import { Dispatcher } from '../src/notify/dispatcher';
import { EmailNotifier } from '../src/notify/email';
import { buildSampleAlert } from '../src/notify/sample-alert';
import { buildSummary, SUMMARY_BOUNDS } from '../src/detect/summary';
import { SlackNotifier } from '../src/notify/slack';
import { WebhookNotifier } from '../src/notify/webhook';
import type { OktaLogEvent } from '../src/okta/log-event';
import { openDatabase } from '../src/store/db';
import type { Store } from '../src/store/store';
import { rawDb, storeOn } from './helpers/raw-db';
import { tokenEvent, uuidFor } from './helpers/events';
import { followUpOf } from './helpers/followups';
import { LineSink, tmpDir } from './helpers/harness';
import { FakeSlackApi, Receiver } from './helpers/receiver';
import { SmtpReceiver } from './helpers/smtp';

const DELIVERY: DeliveryConfig = { maxAttempts: 10, maxAgeMs: 48 * 3600_000, intervalMs: 15_000 };
const NO_JITTER = { random: () => 0 };
const BOT_TOKEN = 'xoxb-FAKE-followup-bot-token';
const TEN_MINUTES = 600_000;

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function openStore(): Store {
  const store = storeOn(openDatabase(path.join(tmpDir(), 'otw.sqlite')));
  cleanups.push(() => store.close());
  return store;
}

function logSink(): { logger: Logger; logs: LineSink } {
  const logs = new LineSink();
  return { logger: createLogger({ level: 'debug', format: 'json' }, { stream: logs }), logs };
}

/** The followups row of a follow-up id. */
function followupRowId(store: Store, id: string): number {
  return (rawDb(store).prepare("SELECT id FROM followups WHERE json_extract(payload, '$.id') = ?").get(id) as { id: number }).id;
}

/** Stores event n and its alert, with one pending delivery per notifier (as ingest does). */
async function addAlert(store: Store, n: number, notifiers: string[], now: Date): Promise<Alert> {
  const uuid = uuidFor(n);
  await store.insertEvent(tokenEvent(n, new Date(now.getTime() - 60_000).toISOString()) as unknown as OktaLogEvent, 'poll', now, null);
  const alert = buildSampleAlert({ now, uuid, tokenName: `token-${n}`, source: 'poll' });
  await store.insertAlert(alert, null, notifiers, { deferToSummary: false, now });
  return alert;
}

/** Queues a follow-up of `alert` the way the watch engine does. */
async function addFollowUp(store: Store, alert: Alert, kind: FollowUpKind, notifiers: string[], now: Date, over: Partial<FollowUp> = {}): Promise<FollowUp> {
  const f = await store.insertFollowUp(followUpOf(alert, kind, over), `${kind}:${alert.id}`, notifiers, now);
  assert.ok(f, 'the follow-up is stored');
  return f;
}

async function fakeSlack(): Promise<{ api: FakeSlackApi; receiver: Receiver }> {
  const receiver = new Receiver();
  await receiver.start();
  cleanups.push(() => receiver.stop());
  return { api: new FakeSlackApi(receiver), receiver };
}

function botNotifier(receiver: Receiver, clock: FakeClock, logger?: Logger, channel = '#secops-alerts'): SlackNotifier {
  return new SlackNotifier({ transport: 'bot', token: BOT_TOKEN, channel, apiUrl: receiver.url('/api') }, { timeoutMs: 2000, now: () => clock.now(), logger });
}

function receiptOf(store: Store, alert: Alert, notifier: string): unknown {
  const row = rawDb(store)
    .prepare('SELECT d.receipt FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.alert_id = ? AND d.notifier = ?')
    .get(alert.id, notifier) as { receipt: string | null };
  return row.receipt === null ? null : JSON.parse(row.receipt);
}

function followUpRow(store: Store, f: FollowUp, notifier: string): { status: string; attempts: number } {
  return rawDb(store).prepare('SELECT status, attempts FROM deliveries WHERE followup_id = ? AND notifier = ?').get(followupRowId(store, f.id), notifier) as { status: string; attempts: number };
}

describe('follow-up ids', () => {
  test('when two databases follow the same alert the same way, then their follow-ups still have different ids (receivers dedupe on them)', async () => {
    const now = new Date();
    const ids: string[] = [];
    for (const store of [openStore(), openStore()]) {
      const alert = await addAlert(store, 1, ['webhook'], now);
      ids.push((await addFollowUp(store, alert, 'first-use', ['webhook'], now)).id);
    }
    assert.match(ids[0]!, /^otw-followup-[0-9a-f-]{36}$/);
    assert.notEqual(ids[0], ids[1]);
  });
});

describe('follow-ups through the outbox: Slack bot', () => {
  test('when an alert is posted and then followed up, then its channel and ts are kept, the alert is updated first and the reply goes in its thread', async () => {
    const clock = new FakeClock();
    const store = openStore();
    const { api } = await fakeSlack();
    const d = new Dispatcher(store, [botNotifier(api.receiver, clock)], DELIVERY, logSink().logger, clock, NO_JITTER);
    const alert = await addAlert(store, 1, ['slack'], clock.now());
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    const [posted] = api.messages;
    // Slack answers with the channel's id even when SLACK_CHANNEL names it: the id is what is kept.
    assert.deepEqual(receiptOf(store, alert, 'slack'), { channel: 'C0FAKE0001', ts: posted!.ts });

    const f = await addFollowUp(store, alert, 'first-use', ['slack'], clock.now());
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.deepEqual(api.calls, ['chat.postMessage', 'chat.update', 'chat.postMessage']);
    const update = posted!.versions[1]!;
    assert.equal(update.channel, 'C0FAKE0001');
    assert.equal(update.ts, posted!.ts);
    assert.match(JSON.stringify(update.blocks), /Since the alert: first used 12 min after creation from another network/);
    const replies = api.replies(posted!.ts);
    assert.equal(replies.length, 1);
    const reply = replies[0]!.versions[0]!;
    assert.equal(reply.channel, 'C0FAKE0001');
    assert.equal(reply.reply_broadcast, true, 'a prominent follow-up is shown in the channel too');
    assert.match(String(reply.text), /^ATTENTION: API token first used, from another network: `token-1`$/);
    assert.match(JSON.stringify(reply.blocks), new RegExp(`follow-up \`${f.id}\``));
    assert.equal(followUpRow(store, f, 'slack').status, 'sent');
  });

  test('when the alert fails to go out and later succeeds, then its follow-up waits for it on that notifier only', async () => {
    const clock = new FakeClock();
    const store = openStore();
    const { api } = await fakeSlack();
    const smtp = new SmtpReceiver();
    await smtp.start();
    cleanups.push(() => smtp.stop());
    const email = new EmailNotifier({ smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false, user: null, password: null }, from: 'otw@example.com', to: ['secops@example.com'] }, { timeoutMs: 2000 });
    const d = new Dispatcher(store, [botNotifier(api.receiver, clock), email], DELIVERY, logSink().logger, clock, NO_JITTER);
    api.fail('chat.postMessage', FakeSlackApi.refusal('internal_error'));
    const alert = await addAlert(store, 2, ['slack', 'email'], clock.now());
    const f = await addFollowUp(store, alert, 'lifecycle', ['slack', 'email'], clock.now());

    assert.deepEqual(await d.runOnce(), { sent: 2, retried: 1, failed: 0 }, 'email: alert and follow-up; Slack: the alert failed');
    assert.deepEqual(api.calls, ['chat.postMessage'], 'the Slack follow-up was not tried');
    assert.deepEqual(followUpRow(store, f, 'slack'), { status: 'pending', attempts: 0 });
    assert.deepEqual(smtp.messages.map((m) => m.header('subject')?.slice(0, 4)), ['[okt', 'Re: ']);

    clock.advance(TEN_MINUTES);
    assert.deepEqual(await d.runOnce(), { sent: 2, retried: 0, failed: 0 });
    assert.deepEqual(api.calls, ['chat.postMessage', 'chat.postMessage', 'chat.update', 'chat.postMessage']);
    const parent = api.messages[0]!;
    assert.equal(api.replies(parent.ts).length, 1);
    assert.equal(api.messages.length, 2, 'the alert, then its reply: nothing else');
  });

  test('when chat.postMessage fails for the reply, then the retry updates again and posts the reply once', async () => {
    const clock = new FakeClock();
    const store = openStore();
    const { api } = await fakeSlack();
    const d = new Dispatcher(store, [botNotifier(api.receiver, clock)], DELIVERY, logSink().logger, clock, NO_JITTER);
    const alert = await addAlert(store, 3, ['slack'], clock.now());
    await d.runOnce();
    const f = await addFollowUp(store, alert, 'digest', ['slack'], clock.now());
    api.fail('chat.postMessage', FakeSlackApi.refusal('ratelimited', { 'Retry-After': '30' }));

    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 1, failed: 0 });
    assert.deepEqual(api.calls.slice(1), ['chat.update', 'chat.postMessage']);
    const parent = api.messages[0]!;
    assert.equal(api.replies(parent.ts).length, 0);

    clock.advance(30_000);
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.deepEqual(api.calls.slice(1), ['chat.update', 'chat.postMessage', 'chat.update', 'chat.postMessage']);
    assert.equal(api.replies(parent.ts).length, 1, 'one reply in the thread');
    assert.equal(parent.versions.length, 3, 'posted, then updated on each try (the same content)');
    assert.deepEqual(parent.versions[1], parent.versions[2]);
    assert.deepEqual(followUpRow(store, f, 'slack'), { status: 'sent', attempts: 2 });
    clock.advance(TEN_MINUTES);
    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 0, failed: 0 });
    assert.equal(api.replies(parent.ts).length, 1);
  });

  test('when chat.update fails, then no reply is posted until a retry updates the alert, and then exactly one', async () => {
    const clock = new FakeClock();
    const store = openStore();
    const { api } = await fakeSlack();
    const d = new Dispatcher(store, [botNotifier(api.receiver, clock)], DELIVERY, logSink().logger, clock, NO_JITTER);
    const alert = await addAlert(store, 4, ['slack'], clock.now());
    await d.runOnce();
    await addFollowUp(store, alert, 'lifecycle', ['slack'], clock.now());
    api.fail('chat.update', { status: 503, body: 'upstream down' });

    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 1, failed: 0 });
    assert.deepEqual(api.calls.slice(1), ['chat.update']);
    clock.advance(TEN_MINUTES);
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.deepEqual(api.calls.slice(1), ['chat.update', 'chat.update', 'chat.postMessage']);
    assert.equal(api.replies(api.messages[0]!.ts).length, 1);
  });

  test('when the alert message was deleted, then the follow-up is posted as a message of its own naming the alert, and logged', async () => {
    const clock = new FakeClock();
    const store = openStore();
    const { api } = await fakeSlack();
    const { logger, logs } = logSink();
    const d = new Dispatcher(store, [botNotifier(api.receiver, clock, logger)], DELIVERY, logger, clock, NO_JITTER);
    const alert = await addAlert(store, 5, ['slack'], clock.now());
    await d.runOnce();
    api.messages.splice(0, 1);
    await addFollowUp(store, alert, 'lifecycle', ['slack'], clock.now());

    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.deepEqual(api.calls.slice(1), ['chat.update', 'chat.postMessage']);
    const own = api.messages[0]!;
    assert.equal(own.threadTs, null);
    assert.match(JSON.stringify(own.versions[0]!.blocks), new RegExp(`Follow-up to alert \`${alert.id}\``));
    const line = logs.lines.find((l) => l.includes('would not update the alert message'));
    assert.ok(line, 'the refusal is logged');
    assert.match(line, /message_not_found/);
    assert.doesNotMatch(logs.lines.join('\n'), /xoxb/);
  });

  test('when the alert goes out in a summary, then the follow-up waits for the summary and is a reply in the summary\'s thread that names its alert', async () => {
    const clock = new FakeClock();
    const store = openStore();
    const { api } = await fakeSlack();
    const d = new Dispatcher(store, [botNotifier(api.receiver, clock, undefined, 'C0CONFIG01')], DELIVERY, logSink().logger, clock, NO_JITTER);
    const uuid = uuidFor(6);
    await store.insertEvent(tokenEvent(6, clock.now().toISOString()) as unknown as OktaLogEvent, 'poll', clock.now(), null);
    const alert = buildSampleAlert({ now: clock.now(), uuid, tokenName: 'token-6', source: 'poll' });
    await store.insertAlert(alert, null, ['slack'], { deferToSummary: true, now: clock.now() });
    await addFollowUp(store, alert, 'first-use', ['slack'], clock.now());

    // While the alert waits for its summary to be made, its follow-up waits too.
    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 0, failed: 0 });
    assert.deepEqual(api.calls, []);
    await store.transaction(async (tx) => {
      const excess = (await tx.excessAwaitingSummary(SUMMARY_BOUNDS))!;
      await tx.insertSummary(buildSummary(excess, clock.now(), 'http://127.0.0.1:9'), null, ['slack'], clock.now());
    });
    // Then the summary goes first, and the follow-up after it.
    assert.deepEqual(await d.runOnce(), { sent: 2, retried: 0, failed: 0 });
    assert.deepEqual(api.calls, ['chat.postMessage', 'chat.postMessage']);
    assert.match(JSON.stringify(api.messages[0]!.versions[0]!.blocks), /more Okta API token creations/);
    // In the summary's thread (the summary is not rewritten as this one alert), naming its alert.
    const body = api.messages[1]!.versions[0]!;
    assert.equal(body.channel, api.messages[0]!.channel);
    assert.equal(body.thread_ts, api.messages[0]!.ts);
    assert.match(JSON.stringify(body.blocks), new RegExp(`Follow-up to alert \`${alert.id}\`: API token \`token-6\``));
  });
});

describe('follow-ups through the outbox: incoming webhook, email, signed webhook, console', () => {
  test('when every notifier has sent the alert, then each sends the follow-up after it, naming or threading under the alert', async () => {
    const clock = new FakeClock();
    const store = openStore();
    const slackHook = new Receiver();
    const hook = new Receiver();
    await slackHook.start();
    await hook.start();
    cleanups.push(() => slackHook.stop(), () => hook.stop());
    const smtp = new SmtpReceiver();
    await smtp.start();
    cleanups.push(() => smtp.stop());
    const out = new LineSink();
    const notifiers = [
      new SlackNotifier({ transport: 'webhook', webhookUrl: slackHook.url('/services/TFAKE/BFAKE/FAKE-webhook-path-for-tests') }, { timeoutMs: 2000, now: () => clock.now() }),
      new EmailNotifier({ smtp: { host: '127.0.0.1', port: smtp.port, secure: false, requireTls: false, user: null, password: null }, from: 'otw@example.com', to: ['secops@example.com'] }, { timeoutMs: 2000 }),
      new WebhookNotifier({ url: hook.url('/in'), secret: null }, { timeoutMs: 2000 }),
      new ConsoleNotifier(out),
    ];
    const names = notifiers.map((n) => n.name);
    const d = new Dispatcher(store, notifiers, DELIVERY, logSink().logger, clock, NO_JITTER);
    const alert = await addAlert(store, 7, names, clock.now());
    const f = await addFollowUp(store, alert, 'first-use', names, clock.now());
    assert.deepEqual(await d.runOnce(), { sent: 8, retried: 0, failed: 0 });

    // Slack incoming webhook: no ts to reply to, so a message of its own that names the alert.
    assert.equal(slackHook.requests.length, 2);
    const reply = slackHook.requests[1]!.json as { text: string; blocks: unknown[] };
    assert.match(reply.text, /^ATTENTION: API token first used/);
    assert.match(JSON.stringify(reply.blocks), new RegExp(`Follow-up to alert \`${alert.id}\`: API token \`token-7\` \\(id \`00Tb1x2y3z4A5B6C7d8\`\\), created by \`jordan.admin@example.com\``));

    // Email: a reply in the alert's thread, on a real SMTP server.
    assert.equal(smtp.messages.length, 2);
    const [first, second] = smtp.messages;
    const alertMessageId = first!.header('message-id');
    assert.equal(alertMessageId, `<${alert.id}@okta-token-watch>`);
    assert.equal(second!.header('message-id'), `<${f.id}@okta-token-watch>`);
    assert.equal(second!.header('in-reply-to'), alertMessageId);
    assert.equal(second!.header('references'), alertMessageId);
    assert.equal(second!.header('subject'), `Re: ${first!.header('subject')}`);
    assert.equal(second!.header('importance'), 'high');

    // Signed webhook and console: the follow-up envelope, after the alert, naming it.
    assert.deepEqual(hook.requests.map((r) => (r.json as { type: string }).type), ['okta-token-watch.alert', 'okta-token-watch.alert.followup']);
    assert.equal((hook.requests[1]!.json as { alertId: string }).alertId, alert.id);
    assert.deepEqual(out.lines.map((l) => (JSON.parse(l) as { type: string }).type), ['okta-token-watch.alert', 'okta-token-watch.alert.followup']);
  });
});
