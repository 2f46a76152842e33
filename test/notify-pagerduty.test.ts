import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import type { DeliveryConfig } from '../src/config';
import type { Alert } from '../src/detect/alert';
import type { FollowUp } from '../src/follow/followup';
import { createLogger } from '../src/logger';
import { Dispatcher } from '../src/notify/dispatcher';
import { followUpAction, formatPagerDuty, PAGERDUTY_LIMITS, PagerDutyNotifier, pagerDutySeverity } from '../src/notify/pagerduty';
import { buildSampleAlert, buildSampleSummary } from '../src/notify/sample-alert';
import { buildSummary, SUMMARY_BOUNDS } from '../src/detect/summary';
import type { OktaLogEvent } from '../src/okta/log-event';
import { openStore } from '../src/store/open';
import { Store } from '../src/store/store';
import { tokenEvent, uuidFor } from './helpers/events';
import { FakePagerDuty } from './helpers/fake-pagerduty';
import { firstUseOf, followUpOf, responseOf } from './helpers/hand-followups';
import { LineSink, tmpDir } from './helpers/harness';
import { rejection } from './helpers/rejection';

const KEY = 'FAKEpagerdutyroutingkey000000001';
const DELIVERY: DeliveryConfig = { maxAttempts: 10, maxAgeMs: 48 * 3600_000, intervalMs: 15_000 };

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function fakePagerDuty(): Promise<FakePagerDuty> {
  const f = new FakePagerDuty(KEY);
  await f.start();
  cleanups.push(() => f.stop());
  return f;
}

function notifier(f: FakePagerDuty, clock?: FakeClock): PagerDutyNotifier {
  return new PagerDutyNotifier({ routingKey: KEY, eventsUrl: f.url }, { timeoutMs: 2000, now: clock ? () => clock.now() : undefined });
}

/** A real SQLite file with the real migrations, holding alert n with a pending PagerDuty delivery. */
async function storeWithAlert(clock: FakeClock, n = 1): Promise<{ store: Store; alert: Alert }> {
  const store = (await openStore({ dbPath: path.join(tmpDir(), 'otw.sqlite') })).store;
  cleanups.push(() => store.close());
  const now = clock.now();
  await store.insertEvent(tokenEvent(n, new Date(now.getTime() - 60_000).toISOString()) as unknown as OktaLogEvent, 'poll', now, null);
  const alert = buildSampleAlert({ now, uuid: uuidFor(n), tokenName: `token-${n}`, source: 'poll' });
  await store.insertAlert(alert, null, ['pagerduty'], { deferToSummary: false, now });
  return { store, alert };
}

function dispatcher(store: Store, f: FakePagerDuty, clock: FakeClock): { d: Dispatcher; logs: LineSink } {
  const logs = new LineSink();
  return { d: new Dispatcher(store, [notifier(f, clock)], DELIVERY, createLogger({ level: 'debug', format: 'json' }, { stream: logs }), clock, { random: () => 0 }), logs };
}

describe('PagerDuty format', () => {
  test('when an alert is formatted, then it is one trigger keyed on the alert id with the severity, summary, facts and links', () => {
    const a = buildSampleAlert();
    const [e, ...rest] = formatPagerDuty({ kind: 'alert', alert: a });
    assert.equal(rest.length, 0);
    assert.equal(e!.event_action, 'trigger');
    assert.equal(e!.dedup_key, a.id);
    assert.equal(e!.payload?.summary, 'medium: Okta API token created: token "terraform-ci" by "jordan.admin@example.com"');
    assert.equal(e!.payload?.severity, 'warning');
    assert.equal(e!.payload?.source, 'example-admin.okta.com');
    assert.equal(e!.payload?.timestamp, a.event.published);
    const d = e!.payload!.custom_details!;
    assert.equal(d['Token id'], '00Tb1x2y3z4A5B6C7d8');
    assert.equal(d['Client IP'], '203.0.113.42');
    assert.equal(d.Actor, 'Jordan Admin (jordan.admin@example.com)');
    assert.deepEqual(e!.links?.map((l) => l.text), ['Open the event in Okta', 'Actor in Okta', 'What the token did (System Log)', 'API tokens page (revoke)']);
    assert.equal(e!.links?.[3]?.href, 'https://example-admin.okta.com/admin/access/api/tokens');
    assert.ok(!JSON.stringify(e).includes('routing_key'), 'the formatter never sees the key');
  });

  test('when the rule is critical, high, medium or low, then PagerDuty gets critical, error, warning or info', () => {
    assert.deepEqual(['critical', 'high', 'medium', 'low', 'bogus'].map(pagerDutySeverity), ['critical', 'error', 'warning', 'info', 'warning']);
    const a = buildSampleAlert();
    a.rule = { ...a.rule, severity: 'high' };
    assert.equal(formatPagerDuty({ kind: 'alert', alert: a })[0]?.payload?.severity, 'error');
  });

  test('when a test alert is formatted, then it is an info trigger followed by its resolve, so no incident stays open', () => {
    const events = formatPagerDuty({ kind: 'alert', alert: buildSampleAlert(), test: true });
    assert.deepEqual(events.map((e) => [e.event_action, e.payload?.severity]), [['trigger', 'info'], ['resolve', undefined]]);
    assert.match(events[0]!.payload!.summary, /^\[TEST\] /);
    assert.equal(events[1]!.dedup_key, events[0]!.dedup_key);
  });

  test('when a summary is formatted, then it triggers under the summary id with the count', () => {
    const s = buildSampleSummary(3);
    const [e] = formatPagerDuty({ kind: 'summary', summary: s });
    assert.equal(e!.dedup_key, s.id);
    assert.match(e!.payload!.summary, /3 more Okta API token creations/);
  });

  test('when follow-ups arrive, then revokes and "expected" resolve, acknowledgements acknowledge, failures and news that stands out trigger again, the rest sends nothing', () => {
    const a = buildSampleAlert();
    const fu = (kind: FollowUp['kind'], extra: Partial<FollowUp> = {}): FollowUp => ({ id: 'otw-followup-1', ...followUpOf(a, kind, extra) });
    const lifecycle = (change: 'revoked' | 'expired' | 'updated' | 'outside-range' | 'enabled', prominent = false): FollowUp =>
      fu('lifecycle', { prominent, signals: change === 'outside-range' ? ['outside-range'] : [], lifecycle: { uuid: 'u', published: '2026-11-28T12:40:00.000Z', eventType: 'system.api_token.revoke', change, actor: null, outcome: 'SUCCESS', network: null, place: { ip: null, city: null, country: null, asNumber: null, asOrg: null, isp: null, userAgent: null } } });
    const gone: FollowUp['watch'] = { ...followUpOf(a, 'digest').watch, watching: false, revokedAt: '2026-11-28T12:40:00.000Z', revokedBy: 'admin@example.com' };
    const cases: Array<[string, FollowUp, string | null]> = [
      ['revoked', fu('response', { response: responseOf('revoke', 'revoked') }), 'resolve'],
      ['already gone', fu('response', { response: responseOf('revoke', 'already-gone') }), 'resolve'],
      ['expected', fu('response', { response: responseOf('expected', 'recorded', { reason: 'terraform rotation' }) }), 'resolve'],
      ['acknowledged', fu('response', { response: responseOf('acknowledge', 'recorded') }), 'acknowledge'],
      ['revoke forbidden', fu('response', { response: responseOf('revoke', 'forbidden') }), 'trigger'],
      ['revoke failed', fu('response', { response: responseOf('revoke', 'failed', { error: 'Okta answered 500' }) }), 'trigger'],
      ['lifecycle revoked', lifecycle('revoked'), 'resolve'],
      ['lifecycle expired', lifecycle('expired'), 'resolve'],
      ['used from outside the range', lifecycle('outside-range', true), 'trigger'],
      ['routine update', lifecycle('updated'), null],
      ['first use from a new country', fu('first-use', firstUseOf('198.51.100.7', ['new-country'])), 'trigger'],
      ['routine first use', fu('first-use', firstUseOf('198.51.100.7')), null],
      // The token is gone: news about it never reopens the incident its revocation resolved.
      ['digest with sensitive actions at the revocation', fu('digest', { prominent: true, signals: ['sensitive-actions'], watch: { ...gone, closed: 'revoked' } }), null],
      ['first use from a new country read after the revoke', fu('first-use', { ...firstUseOf('198.51.100.7', ['new-country']), watch: gone }), null],
    ];
    for (const [name, f, action] of cases) {
      assert.equal(followUpAction(f), action, name);
      const events = formatPagerDuty({ kind: 'followup', followup: f, alert: a, parent: null });
      assert.deepEqual(events.map((e) => e.event_action), action ? [action] : [], name);
      for (const e of events) assert.equal(e.dedup_key, a.id, `${name}: keyed on the alert`);
    }
    const again = formatPagerDuty({ kind: 'followup', followup: cases[4]![1], alert: a, parent: null })[0]!;
    assert.equal(again.payload?.severity, 'error', 'a failed revoke is one step above the alert');
    assert.match(again.payload!.summary, /^Revoke refused by Okta: missing permission: "sam\.analyst" \(via Slack\) asked to revoke token "terraform-ci"/);
  });
});

describe('PagerDuty transport', () => {
  test('when an alert is sent, then the fake PagerDuty accepts one trigger carrying the routing key, and an incident opens', async () => {
    const f = await fakePagerDuty();
    const a = buildSampleAlert();
    await notifier(f).send({ kind: 'alert', alert: a });
    assert.equal(f.requests.length, 1);
    assert.equal(f.requests[0]!.path, '/v2/enqueue');
    assert.match(String(f.requests[0]!.headers['content-type']), /application\/json/);
    assert.equal(f.requests[0]!.event!.routing_key, KEY);
    assert.equal(f.incidents.get(a.id), 'triggered');
  });

  test('when PagerDuty answers 429, 500 or 400, then the first two are retryable and 400 is permanent, and no error carries the routing key', async () => {
    const f = await fakePagerDuty();
    f.fail({ status: 429, body: '{"status":"throttle event","message":"Requests for this service are arriving too quickly"}', headers: { 'Retry-After': '7' } }, { status: 502, body: 'bad gateway' }, { status: 400, body: `{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key ${KEY}"]}` });
    const n = notifier(f);
    const a = buildSampleAlert();
    const e429 = await rejection(n.send({ kind: 'alert', alert: a }));
    assert.deepEqual([e429.retryable, e429.retryAfterMs], [true, 7000]);
    assert.match(e429.message, /^PagerDuty Events API is rate limiting \(HTTP 429\)/);
    assert.equal((await rejection(n.send({ kind: 'alert', alert: a }))).retryable, true);
    const e400 = await rejection(n.send({ kind: 'alert', alert: a }));
    assert.equal(e400.retryable, false);
    assert.match(e400.message, /refused the message \(HTTP 400\).*Invalid routing key \[routing key\].*check PAGERDUTY_ROUTING_KEY/);
    for (const e of [e429, e400]) assert.ok(!e.message.includes(KEY), e.message);
  });

  test('when the routing key is wrong, then the real validation of the fake answers 400 and the error is permanent', async () => {
    const f = await fakePagerDuty();
    const n = new PagerDutyNotifier({ routingKey: 'FAKEwrongroutingkey0000000000002', eventsUrl: f.url }, { timeoutMs: 2000 });
    const e = await rejection(n.send({ kind: 'alert', alert: buildSampleAlert() }));
    assert.equal(e.retryable, false);
    assert.doesNotMatch(e.message, /FAKEwrong/);
  });

  test('when nothing listens at the events URL, then the error is retryable', async () => {
    const f = await fakePagerDuty();
    const port = f.port;
    await f.stop();
    const e = await rejection(new PagerDutyNotifier({ routingKey: KEY, eventsUrl: `http://127.0.0.1:${port}/v2/enqueue` }, { timeoutMs: 2000 }).send({ kind: 'alert', alert: buildSampleAlert() }));
    assert.equal(e.retryable, true);
    assert.match(e.message, /ECONNREFUSED/);
  });
});

describe('PagerDuty through the outbox', () => {
  test('when an analyst revokes the token, then the follow-up resolves the alert\'s incident with the alert\'s dedup_key', async () => {
    const clock = new FakeClock();
    const f = await fakePagerDuty();
    const { store, alert } = await storeWithAlert(clock);
    const { d } = dispatcher(store, f, clock);
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.equal(f.incidents.get(alert.id), 'triggered');

    clock.advance(60_000);
    const fu = await store.insertFollowUp(followUpOf(alert, 'response', { response: responseOf('revoke', 'revoked') }), 'response:1', ['pagerduty'], clock.now());
    assert.ok(fu);
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    const last = f.accepted().at(-1)!;
    assert.deepEqual([last.event_action, last.dedup_key, last.routing_key], ['resolve', alert.id, KEY]);
    assert.equal(f.incidents.get(alert.id), 'resolved');
    assert.equal(f.requests.length, 2);
  });

  test('when the alert went out only in a summary, then its revoke resolves the summary\'s incident, the one PagerDuty knows', async () => {
    const clock = new FakeClock();
    const f = await fakePagerDuty();
    const store = (await openStore({ dbPath: path.join(tmpDir(), 'otw.sqlite') })).store;
    cleanups.push(() => store.close());
    const now = clock.now();
    await store.insertEvent(tokenEvent(1, new Date(now.getTime() - 60_000).toISOString()) as unknown as OktaLogEvent, 'poll', now, null);
    const alert = buildSampleAlert({ now, uuid: uuidFor(1), tokenName: 'token-1', source: 'poll' });
    await store.insertAlert(alert, null, ['pagerduty'], { deferToSummary: true, now });
    const summary = await store.transaction(async (tx) => tx.insertSummary(buildSummary((await tx.excessAwaitingSummary(SUMMARY_BOUNDS))!, now, 'http://127.0.0.1:9'), null, ['pagerduty'], now));
    const { d } = dispatcher(store, f, clock);
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.equal(f.incidents.get(summary.id), 'triggered');

    clock.advance(60_000);
    assert.ok(await store.insertFollowUp(followUpOf(alert, 'response', { response: responseOf('revoke', 'revoked') }), 'response:1', ['pagerduty'], clock.now()));
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.deepEqual([f.accepted().at(-1)!.event_action, f.accepted().at(-1)!.dedup_key], ['resolve', summary.id]);
    assert.equal(f.incidents.get(summary.id), 'resolved');
    assert.equal(f.incidents.has(alert.id), false);
  });

  test('when an acknowledgement then an "expected" verdict follow, then the incident is acknowledged, then resolved', async () => {
    const clock = new FakeClock();
    const f = await fakePagerDuty();
    const { store, alert } = await storeWithAlert(clock, 2);
    const { d } = dispatcher(store, f, clock);
    await store.insertFollowUp(followUpOf(alert, 'response', { response: responseOf('acknowledge', 'recorded', { actionId: 1 }) }), 'response:1', ['pagerduty'], clock.now());
    await store.insertFollowUp(followUpOf(alert, 'response', { response: responseOf('expected', 'recorded', { actionId: 2, reason: 'planned rotation' }) }), 'response:2', ['pagerduty'], clock.now());
    // The alert goes first; each follow-up waits for the one before it.
    for (let i = 0; i < 3; i++) await d.runOnce();
    assert.deepEqual(f.accepted().map((e) => e.event_action), ['trigger', 'acknowledge', 'resolve']);
    assert.equal(f.incidents.get(alert.id), 'resolved');
  });

  test('when a routine first use follows, then nothing is sent to PagerDuty and the delivery is done', async () => {
    const clock = new FakeClock();
    const f = await fakePagerDuty();
    const { store, alert } = await storeWithAlert(clock, 3);
    const { d } = dispatcher(store, f, clock);
    await d.runOnce();
    await store.insertFollowUp(followUpOf(alert, 'first-use', firstUseOf('203.0.113.42')), 'first-use', ['pagerduty'], clock.now());
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.equal(f.requests.length, 1, 'only the trigger');
  });

  test('when PagerDuty is rate limiting, then the outbox retries after Retry-After and the trigger arrives once', async () => {
    const clock = new FakeClock();
    const f = await fakePagerDuty();
    f.fail({ status: 429, body: '{"status":"throttle event"}', headers: { 'Retry-After': '20' } });
    const { store, alert } = await storeWithAlert(clock, 4);
    const { d } = dispatcher(store, f, clock);
    assert.deepEqual(await d.runOnce(), { sent: 0, retried: 1, failed: 0 });
    clock.advance(21_000);
    assert.deepEqual(await d.runOnce(), { sent: 1, retried: 0, failed: 0 });
    assert.deepEqual(f.accepted().map((e) => [e.event_action, e.dedup_key]), [['trigger', alert.id]]);
  });
});

describe('PagerDuty with hostile text', () => {
  const HOSTILE = ['<script>alert(1)</script> https://evil.example/x www.evil.example', 'evil\u202Egnp.exe\u200B\u0000\u001B[31m\u2028', 'A'.repeat(5000), '[click](https://evil.example) **bold** @here'];
  for (const s of HOSTILE) {
    test(`when every event field holds ${JSON.stringify(s.slice(0, 30))}, then the summary is bounded and nothing in the event is a live link or an invisible character`, () => {
      const a = buildSampleAlert();
      a.actor = { id: s, type: s, login: s, displayName: s };
      a.token = { id: s, name: s };
      a.outcome = { result: s, reason: s };
      a.client = { ...a.client, ip: s, city: s, country: s, isp: s, asOrg: s, userAgent: { raw: s, browser: s, os: s } };
      a.createdByTokenId = s;
      a.tokenState = { status: 'failed', reason: s, checkedAt: a.createdAt };
      const f: FollowUp = { id: 'otw-followup-9', ...followUpOf(a, 'first-use', firstUseOf(s, ['new-country', 'new-network'])) };
      const failed: FollowUp = { id: 'otw-followup-10', ...followUpOf(a, 'response', { response: responseOf('revoke', 'failed', { error: s, reason: s, by: { via: 'slack', id: s, name: s } }) }) };
      const unreadable: Alert = { ...a, unreadable: { reason: s, raw: s, keyFromContent: false } };
      const events = [a, unreadable, f, failed].flatMap((x) => ('kind' in x ? formatPagerDuty({ kind: 'followup', followup: x, alert: a, parent: null }) : formatPagerDuty({ kind: 'alert', alert: x })));
      assert.equal(events.length, 4);
      assert.equal(events[1]!.payload!.summary.startsWith('medium: An Okta event this program could not read'), true);
      for (const e of events) {
        assert.ok(e.payload!.summary.length <= PAGERDUTY_LIMITS.summary);
        assert.doesNotMatch(e.payload!.summary, /[\r\n]/);
        const text = JSON.stringify(e.payload);
        assert.doesNotMatch(text, /:\/\/|www\.[a-z]/, 'no linkable URL from the event');
        // JSON.stringify leaves these raw in the text when they are in a string: none may be there.
        assert.doesNotMatch(text, /[\u0000-\u0008\u001B\u200B\u202E\u2028]|\\u00(0|1b)/iu, 'no invisible or control character');
        for (const l of e.links ?? []) assert.match(l.href, /^https:\/\/example-admin\.okta\.com\//);
        assert.ok(e.dedup_key.length <= 255);
      }
    });
  }
});
