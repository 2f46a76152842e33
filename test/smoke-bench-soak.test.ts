/**
 * Fast checks of the soak's and the benchmark's own machinery, so that `npm run soak` and
 * `npm run bench` keep telling the truth as the notifiers and the fake evolve. The runs themselves
 * are in `.ci/run` (`npm run soak -- --short`, `npm run bench -- --smoke`), not here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../src/config';
import type { Notification } from '../src/detect/alert';
import { nullLogger } from '../src/logger';
import { DeliveryError } from '../src/notify/notifier';
import { buildNotifiers } from '../src/notify/registry';
import { buildSampleAlert } from '../src/notify/sample-alert';
import { benchFollow } from '../bench/follow';
import { benchPush } from '../bench/push';
import http from 'node:http';
import { cursorPosition } from '../soak/inspect';
import { freePort, SoakPush } from '../soak/push';
import { HttpReceiver, SmtpReceiver, SOAK_SLACK_CHANNEL, type Receipt } from '../soak/receivers';
import { attribute, followUpsBeforeAlert, judge, type ProcessRecord } from '../soak/verdict';
import { followUpOf } from './helpers/followups';
import { tokenEvent, uuidFor } from './helpers/events';
import { FakeOkta } from './helpers/fake-okta';

const A = 'otw-11111111-1111-1111-a111-111111111111';
const B = 'otw-22222222-2222-1222-a222-222222222222';

function receipt(notifier: string, alertId: string, at: number, gen?: number): Receipt & { gen?: number } {
  return { notifier, at, alertIds: [alertId], kind: 'alert', defects: [], ...(gen !== undefined ? { gen } : {}) };
}

function proc(g: number, spawnedAt: number, end: ProcessRecord['end'], sent: string[] = []): ProcessRecord {
  return { g, spawnedAt, end, trigger: end === 'sigkill' ? 'test' : null, sentAfter: new Set(sent) };
}

describe('soak verdict', () => {
  test('when a copy comes again after its sender was SIGKILLed before recording it, then the duplicate is explained', () => {
    const processes = [proc(1, 1000, 'sigkill'), proc(2, 2000, 'sigterm', [`${A}|slack`])];
    const receipts = [receipt('slack', A, 1500), receipt('slack', A, 2500), receipt('slack', B, 2600)].map((r) => attribute(r, processes));
    const { verdict } = judge('slack', [A, B], receipts, processes);
    assert.deepEqual([verdict.lost, verdict.duplicates, verdict.explained, verdict.unexplained], [0, 1, 1, 0]);
  });

  test('when two copies come from one process, or after the row was marked sent, then the duplicate is unexplained', () => {
    const processes = [proc(1, 1000, 'sigkill', [`${A}|email`]), proc(2, 2000, 'sigterm')];
    const sameProcess = judge('email', [A], [receipt('email', A, 2100), receipt('email', A, 2200)].map((r) => attribute(r, processes)), processes);
    assert.equal(sameProcess.verdict.unexplained, 1);
    assert.match(sameProcess.unexplained[0]!.why!, /same process/);
    const afterSent = judge('email', [A], [receipt('email', A, 1100), receipt('email', A, 2100)].map((r) => attribute(r, processes)), processes);
    assert.equal(afterSent.verdict.unexplained, 1);
    assert.match(afterSent.unexplained[0]!.why!, /recorded the delivery as sent/);
  });

  test('when an alert never arrives, then it is lost; console receipts keep the process they came from', () => {
    const processes = [proc(1, 1000, 'sigkill'), proc(2, 2000, 'sigterm')];
    // Read by the soak after process 2 started, but written by process 1 before it died.
    const receipts = [receipt('console', A, 2100, 1), receipt('console', A, 2200, 2)].map((r) => attribute(r, processes));
    const { verdict } = judge('console', [A, B], receipts, processes);
    assert.deepEqual([verdict.lost, verdict.lostAlertIds, verdict.explained, verdict.unexplained], [1, [B], 1, 0]);
  });
});

describe('soak verdict on follow-ups', () => {
  const F = 'otw-followup-3';
  const followUp = (notifier: string, at: number, gen?: number): Receipt & { gen?: number } => ({ ...receipt(notifier, F, at, gen), kind: 'followup', parentAlertId: A });

  test('when a follow-up comes twice, then the same judge explains it only by a SIGKILL between its send and its record, and alert receipts do not count for it', () => {
    const processes = [proc(1, 1000, 'sigkill'), proc(2, 2000, 'sigkill', [`${F}|webhook`]), proc(3, 3000, 'sigterm')];
    const receipts = [receipt('webhook', A, 1100), followUp('webhook', 1500), followUp('webhook', 2500), followUp('webhook', 3500)].map((r) => attribute(r, processes));
    const { verdict, explained, unexplained } = judge('webhook', [F], receipts, processes, 'followup');
    assert.deepEqual([verdict.received, verdict.lost, verdict.explained, verdict.unexplained, verdict.foreign], [1, 0, 1, 1, 0]);
    assert.equal(explained[0]!.genFirst, 1);
    assert.match(unexplained[0]!.why!, /recorded the delivery as sent/);
    assert.equal(judge('webhook', [F, 'otw-followup-4'], receipts, processes, 'followup').verdict.lost, 1);
  });

  test('when a follow-up reaches a notifier before its alert, or its alert never does, then it is named', () => {
    const inOrder = [receipt('email', A, 1000), followUp('email', 1000)];
    assert.deepEqual(followUpsBeforeAlert('email', inOrder), []);
    assert.deepEqual(followUpsBeforeAlert('email', [followUp('email', 900), receipt('email', A, 1000)]), [{ followUpId: F, alertId: A }]);
    assert.deepEqual(followUpsBeforeAlert('email', [followUp('email', 900), receipt('slack', A, 800)]), [{ followUpId: F, alertId: A }]);
  });
});

describe('soak push', () => {
  test('when the receiver is down at the first attempt and up at the retry, then the soak\'s Okta retries once and it is delivered; refused twice, it is dropped', async () => {
    const port = await freePort();
    const push = new SoakPush(`http://127.0.0.1:${port}/okta/event-hook`, 'x'.repeat(32), 1, '/nonexistent/otw.sqlite');
    const posts: string[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posts.push(body);
        res.writeHead(200).end('{}');
      });
    });
    try {
      // Nobody listens: refused, retried once (200-5000 ms later), refused again, dropped.
      push.push([{ uuid: uuidFor(1), matching: true, event: tokenEvent(1, new Date().toISOString()) }], true);
      await push.idle();
      // Listening from the retry on: the second attempt is delivered.
      push.push([{ uuid: uuidFor(2), matching: true, event: tokenEvent(2, new Date().toISOString()) }], true);
      await new Promise((r) => setTimeout(r, 50));
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      await push.idle();
      const report = push.finish(new Map([[uuidFor(1), 'poll'], [uuidFor(2), 'push']]));
      assert.equal(report.deliveries, 2);
      assert.deepEqual(report.answers, { refused: 3, '200': 1 });
      assert.equal(report.retries, 2);
      assert.equal(report.dropped, 1);
      assert.equal(report.droppedThenPolled, 1, 'event 1 was only in a dropped delivery and the poller stored it');
      assert.equal(posts.length, 1);
      assert.equal(JSON.parse(posts[0]!).data.events[0].uuid, uuidFor(2));
      assert.deepEqual(push.problems, []);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('soak fixtures', () => {
  test('when the fake hands out a polling cursor, then the soak reads its position', async () => {
    const fake = new FakeOkta();
    const origin = await fake.start();
    try {
      fake.persist(tokenEvent(1, new Date().toISOString()), tokenEvent(2, new Date().toISOString()));
      const res = await fetch(`${origin}/api/v1/logs?since=${new Date(Date.now() - 60_000).toISOString()}&limit=1000`, { headers: { Authorization: `SSWS ${fake.token}` } });
      const next = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
      assert.ok(next);
      assert.equal(cursorPosition(next), 2);
      assert.equal(cursorPosition(`${origin}/api/v1/logs?since=2026-01-01T00:00:00.000Z`), null);
    } finally {
      await fake.stop();
    }
  });

  test('when the real notifiers send to the soak receivers, then each message is identified by its alert id', async () => {
    const secret = 'soak-test-secret-0123456789abcdef';
    const slack = new HttpReceiver('slack');
    const webhook = new HttpReceiver('webhook', secret);
    const smtp = new SmtpReceiver();
    await Promise.all([slack.start(), webhook.start(), smtp.start()]);
    try {
      const config = parseConfig(
        {
          NOTIFIERS: 'slack,email,webhook',
          SLACK_WEBHOOK_URL: slack.url,
          WEBHOOK_URL: webhook.url,
          WEBHOOK_SECRET: secret,
          SMTP_HOST: '127.0.0.1',
          SMTP_PORT: String(smtp.port),
          SMTP_REQUIRE_TLS: 'false',
          EMAIL_FROM: 'otw@example.com',
          EMAIL_TO: 'secops@example.com',
          NOTIFY_TIMEOUT: '5s',
        },
        { requireOkta: false },
      );
      const notifiers = buildNotifiers(config.notify, { logger: nullLogger() });
      const alert = buildSampleAlert({ uuid: A.slice(4), tokenName: 'soak-token-7', now: new Date() });
      const n: Notification = { kind: 'alert', alert };
      for (const notifier of notifiers) await notifier.send(n);
      for (const r of [slack, webhook, smtp]) {
        assert.equal(r.receipts.length, 1, r.notifier);
        assert.deepEqual(r.receipts[0]!.alertIds, [A], r.notifier);
        assert.equal(r.receipts[0]!.kind, 'alert', r.notifier);
        assert.deepEqual(r.receipts[0]!.defects, [], r.notifier);
      }

      // Down means refused and retryable; up again means accepted again.
      await webhook.setMode('closed');
      const hook = notifiers.find((x) => x.name === 'webhook')!;
      await assert.rejects(hook.send(n), (e: unknown) => e instanceof DeliveryError && e.retryable);
      await webhook.setMode('error');
      await assert.rejects(hook.send(n), (e: unknown) => e instanceof DeliveryError && e.retryable);
      await smtp.setMode('error');
      await assert.rejects(notifiers.find((x) => x.name === 'email')!.send(n), (e: unknown) => e instanceof DeliveryError && e.retryable);
      await webhook.setMode('up');
      await smtp.setMode('up');
      await hook.send(n);
      assert.equal(webhook.receipts.length, 2);
      for (const x of notifiers) await x.close?.();
    } finally {
      await Promise.all([slack.stop(), webhook.stop(), smtp.stop()]);
    }
  });

  test('when the real notifiers send an alert and then its follow-up (Slack as a bot), then the follow-up is identified by its id and its alert, and the Slack reply is in the alert\'s thread', async () => {
    const secret = 'soak-test-secret-0123456789abcdef';
    const slack = new HttpReceiver('slack', null, true);
    const webhook = new HttpReceiver('webhook', secret);
    const smtp = new SmtpReceiver();
    await Promise.all([slack.start(), webhook.start(), smtp.start()]);
    try {
      const config = parseConfig(
        {
          NOTIFIERS: 'slack,email,webhook,console',
          SLACK_BOT_TOKEN: 'xoxb-FAKE-soak-test',
          SLACK_CHANNEL: SOAK_SLACK_CHANNEL,
          SLACK_API_URL: slack.url,
          WEBHOOK_URL: webhook.url,
          WEBHOOK_SECRET: secret,
          SMTP_HOST: '127.0.0.1',
          SMTP_PORT: String(smtp.port),
          SMTP_REQUIRE_TLS: 'false',
          EMAIL_FROM: 'otw@example.com',
          EMAIL_TO: 'secops@example.com',
          NOTIFY_TIMEOUT: '5s',
        },
        { requireOkta: false },
      );
      const notifiers = buildNotifiers(config.notify, { logger: nullLogger() }).filter((x) => x.name !== 'console');
      const alert = buildSampleAlert({ uuid: A.slice(4), tokenName: 'soak-token-7', now: new Date() });
      const receipts = new Map<string, unknown>();
      for (const notifier of notifiers) receipts.set(notifier.name, await notifier.send({ kind: 'alert', alert }));
      const followup = { ...followUpOf(alert, 'first-use'), id: 'otw-followup-9' };
      for (const notifier of notifiers) {
        const parent = (receipts.get(notifier.name) ?? null) as Extract<Notification, { kind: 'followup' }>['parent'];
        await notifier.send({ kind: 'followup', followup, alert, parent });
      }
      for (const r of [slack, webhook, smtp]) {
        assert.equal(r.receipts.length, 2, r.notifier);
        const f = r.receipts[1]!;
        assert.deepEqual([f.kind, f.alertIds, f.parentAlertId, f.defects], ['followup', ['otw-followup-9'], A, []], r.notifier);
        assert.deepEqual(followUpsBeforeAlert(r.notifier, r.receipts), [], r.notifier);
      }
      assert.deepEqual(slack.slackApiStats, { updates: 1, updatesNotFound: 0, threaded: 1, unthreaded: 0 });
      for (const x of notifiers) await x.close?.();
    } finally {
      await Promise.all([slack.stop(), webhook.stop(), smtp.stop()]);
    }
  });
});

describe('bench push scenario', () => {
  test('when a few events are pushed, then each reaches the fake Slack once, and the poller reading them raises no new alert', async () => {
    const r = (await benchPush({ events: 4, answerPosts: 1, pollRounds: 1, seed: 3, say: () => undefined })) as {
      answer: { statuses: Record<string, number>; poll: { ok: boolean; newEvents: number; newAlerts: number } };
      latency: { events: number; missing: number; failedDeliveries: number; postToSlackMs: { n: number } };
      pollAfterPush: { ok: boolean; events: number; newAlerts: number; slackMessagesAfter: number };
      slack: { messages: number; uniqueEvents: number; sentTwice: number; unexpected: number };
      pollMode: { tickToSlackMs: { n: number } };
    };
    assert.deepEqual(r.answer.statuses, { '200': 1 });
    assert.deepEqual([r.answer.poll.ok, r.answer.poll.newEvents, r.answer.poll.newAlerts], [true, 0, 0]);
    assert.deepEqual([r.latency.events, r.latency.missing, r.latency.failedDeliveries, r.latency.postToSlackMs.n], [4, 0, 0, 4]);
    assert.deepEqual([r.pollAfterPush.ok, r.pollAfterPush.events, r.pollAfterPush.newAlerts, r.pollAfterPush.slackMessagesAfter], [true, 4, 0, 0]);
    assert.deepEqual([r.slack.messages, r.slack.uniqueEvents, r.slack.sentTwice, r.slack.unexpected], [4, 4, 0, 0]);
    assert.ok(r.pollMode.tickToSlackMs.n >= 1);
  });
});

describe('bench follow scenario', () => {
  test('when a few tokens are watched, then an idle tick costs one poll and one follow request, and one event per token is read by the follow tick', async () => {
    const r = await benchFollow({ tokens: 5, ticks: 2 });
    assert.deepEqual([r.requestsPerIdleTick, r.maxRequestsInAnIdleTick, r.followRequestsPerIdleTick, r.failedTicks], [2, 2, 1, 0]);
    assert.deepEqual(r.activity, { events: 5, newEvents: 5, followRequests: 2, ok: true });
  });
});
