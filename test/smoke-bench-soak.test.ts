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
import { slotFigures } from '../bench/orgs';
import { FakeOktaOrgs, orgNames, orgsFileYaml, type OrgRequest } from '../src/simulator/okta-orgs';
import { closestForeignReads, handovers, judgeReplicas, overlappingReads, senderOf, type ProcessEnd, type SentBy } from '../soak/scale-checks';
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

describe('fake orgs (many-orgs soak and bench)', () => {
  test('when two processes read two orgs with their own tokens, then the request log names the org, the process and the times; an unknown token is refused', async () => {
    const orgs = new FakeOktaOrgs(orgNames(2));
    await orgs.start();
    try {
      orgs.addToken('FAKE-okta-api-token-p1', 'g1');
      orgs.addToken('FAKE-okta-api-token-p2', 'g2');
      const read = (org: string, token: string): Promise<Response> =>
        fetch(`${orgs.org(org).origin}/api/v1/logs?since=${new Date(Date.now() - 60_000).toISOString()}`, { headers: { Authorization: `SSWS ${token}` } });
      assert.equal((await read('org-01', 'FAKE-okta-api-token-p1')).status, 200);
      assert.equal((await read('org-02', 'FAKE-okta-api-token-p2')).status, 200);
      assert.equal((await read('org-02', 'FAKE-okta-api-token-nobody')).status, 401);
      const log = orgs.requestLog();
      assert.deepEqual(log.map((r) => [r.org, r.who, r.status, r.systemLog]), [['org-01', 'g1', 200, true], ['org-02', 'g2', 200, true], ['org-02', null, 401, true]]);
      for (const r of log) assert.ok(r.answeredAt !== null && r.answeredAt >= r.at);
      assert.equal(orgs.systemLogRequests, 3);
    } finally {
      await orgs.stop();
    }
  });

  test('when one org hangs, then its System Log requests get no answer until it stops hanging (then their connection is reset), and the other org answers meanwhile', async () => {
    const orgs = new FakeOktaOrgs(orgNames(2));
    await orgs.start();
    try {
      orgs.addToken('FAKE-okta-api-token-p1', 'g1');
      const read = (org: string): Promise<number> =>
        fetch(`${orgs.org(org).origin}/api/v1/logs?since=${new Date(Date.now() - 60_000).toISOString()}`, { headers: { Authorization: 'SSWS FAKE-okta-api-token-p1' } }).then(
          (r) => r.status,
          () => -1,
        );
      orgs.org('org-02').hang();
      const pending = read('org-02');
      assert.equal(await read('org-01'), 200);
      const raced = await Promise.race([pending, new Promise<string>((r) => setTimeout(() => r('still waiting'), 300))]);
      assert.equal(raced, 'still waiting');
      orgs.org('org-02').unhang();
      assert.equal(await pending, -1, 'the held request ends with a reset connection');
      assert.equal(await read('org-02'), 200);
      const hung = orgs.requestLog().filter((r) => r.org === 'org-02');
      assert.deepEqual(hung.map((r) => r.answeredAt === null), [true, false]);
    } finally {
      await orgs.stop();
    }
  });

  test('when an ORGS_FILE is written for the fake orgs, then it names each org, its URL and the token variable', () => {
    assert.deepEqual(orgNames(3), ['org-01', 'org-02', 'org-03']);
    assert.equal(orgNames(100)[99], 'org-100');
    assert.equal(
      orgsFileYaml([{ name: 'org-01', url: 'http://127.0.0.1:1234' }], { tokenEnv: 'SOAK_OKTA_TOKEN', hookSecretEnv: 'SOAK_HOOK_SECRET' }),
      'orgs:\n  - name: org-01\n    url: http://127.0.0.1:1234\n    apiToken: { env: SOAK_OKTA_TOKEN }\n    eventHook: { secret: { env: SOAK_HOOK_SECRET } }\n',
    );
  });
});

describe('many-orgs soak verdicts', () => {
  const read = (org: string, who: string, at: number): OrgRequest => ({ org, who, at, answeredAt: at + 5, path: '/api/v1/logs', systemLog: true, status: 200 });

  test('when two processes read one org in one slot, then it is an overlap; one after the other in different slots is not', () => {
    const log = [read('org-01', 'g1', 10_100), read('org-01', 'g1', 12_050), read('org-01', 'g2', 14_020), read('org-02', 'g2', 14_030), read('org-02', 'g1', 15_900)];
    assert.deepEqual(overlappingReads(log, 2000), [{ org: 'org-02', slotStart: new Date(14_000).toISOString(), who: ['g1', 'g2'] }]);
    assert.deepEqual(closestForeignReads(log), { ms: 1870, org: 'org-02', who: ['g2', 'g1'] });
    // g2 was stopped (SIGTERM: it releases its leases) before g1 read org-02: a handover, not two readers.
    assert.deepEqual(overlappingReads(log, 2000, new Map([['g2', 14_500]])), []);
    // Stopped only after g1's read: still two readers in one slot.
    assert.equal(overlappingReads(log, 2000, new Map([['g2', 15_950]])).length, 1);
  });

  test('when a killed process was reading orgs, then each handover is timed from the kill to the first read by another process, and a late or missing one is named', () => {
    const log = [read('org-01', 'g1', 1000), read('org-02', 'g1', 1000), read('org-03', 'g2', 1000), read('org-01', 'g2', 13_000), read('org-02', 'g2', 20_000)];
    const o = { ttlMs: 10_000, intervalMs: 2000, toleranceMs: 1000, measurableUntil: 60_000 };
    const h = handovers(log, [{ who: 'g1', at: 1500 }], o);
    assert.deepEqual(
      h.handovers.map((x) => [x.org, x.to, x.ms, x.ok]),
      [['org-01', 'g2', 11_500, true], ['org-02', 'g2', 18_500, false]],
    );
    assert.equal(handovers(log, [{ who: 'g1', at: 1500 }], { ...o, measurableUntil: 5000 }).notMeasured, 2);
    assert.deepEqual(handovers([read('org-01', 'g1', 1000)], [{ who: 'g1', at: 1500 }], o).handovers.map((x) => [x.to, x.ok]), [[null, false]]);
  });

  test('when replicas send at once, then a duplicate is explained only by a SIGKILL of the first sender before its record, whatever the order of the processes', () => {
    const r = (who: string, at: number): SentBy => ({ notifier: 'webhook', at, alertIds: [A], kind: 'alert', defects: [], who });
    const ends: ProcessEnd[] = [
      { who: 'g2', end: null, sentAfter: null, trigger: null },
      { who: 'g3', end: 'sigkill', sentAfter: new Set(), trigger: 'timer' },
      { who: 'g4', end: 'sigkill', sentAfter: new Set([`${A}|webhook`]), trigger: 'timer' },
    ];
    // g3 (killed before recording) sent first, the older g2 resent: explained.
    assert.deepEqual(judgeReplicas('webhook', [A, B], [r('g3', 1), r('g2', 2)], ends).verdict, {
      injected: 2, received: 1, lost: 1, lostAlertIds: [B], duplicates: 1, explained: 1, unexplained: 0, summaries: 0, foreign: 0, defects: [],
    });
    assert.match(judgeReplicas('webhook', [A], [r('g2', 1), r('g3', 2)], ends).unexplained[0]!.why!, /\(g2\) was not killed/);
    assert.match(judgeReplicas('webhook', [A], [r('g4', 1), r('g2', 2)], ends).unexplained[0]!.why!, /recorded the delivery as sent/);
    assert.match(judgeReplicas('webhook', [A], [r('g3', 1), r('g3', 2)], ends).unexplained[0]!.why!, /same process/);
  });

  test('when a message comes in on a process\'s own path or sender, then the sender is read from it', () => {
    assert.equal(senderOf('/hook/g12'), 'g12');
    assert.equal(senderOf('/api/g3/chat.postMessage'), 'g3');
    assert.equal(senderOf('otw-g7@example.com'), 'g7');
    assert.equal(senderOf('/hook'), null);
    assert.equal(senderOf(undefined), null);
  });
});

describe('bench orgs figures', () => {
  test('when each org is read once per slot, then the slot is good and its tick ends at the last answer; an org read twice or missing makes it bad; a hanging org is left out', () => {
    const orgs = ['org-01', 'org-02', 'org-03'];
    const r = (org: string, at: number, answeredAt: number | null): OrgRequest => ({ org, who: 'daemon', at, answeredAt, path: '/api/v1/logs', systemLog: true, status: answeredAt === null ? 0 : 200 });
    const log = [r('org-01', 5010, 5020), r('org-02', 5011, 5300), r('org-03', 5012, 5030), r('org-01', 10_010, 10_020), r('org-01', 10_500, 10_510), r('org-03', 10_012, null)];
    const f = slotFigures(log, { intervalMs: 5000, orgs, fromSlot: 1, slots: 2 });
    assert.deepEqual(f.slots.map((s) => [s.requests, s.orgsRead, s.orgsReadTwice, s.tickMs]), [[3, 3, 0, 300], [3, 2, 1, null]]);
    assert.deepEqual([f.badSlots, f.maxTickMs], [1, null]);
    const hung = slotFigures([...log.slice(0, 3), r('org-01', 10_010, 10_020), r('org-02', 10_011, 10_040), r('org-03', 10_012, null)], { intervalMs: 5000, orgs, fromSlot: 1, slots: 2, skipOrg: 'org-03' });
    assert.deepEqual([hung.badSlots, hung.maxTickMs, hung.slots[1]!.requests], [0, 300, 3]);
  });
});
