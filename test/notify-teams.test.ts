import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import type { DeliveryConfig } from '../src/config';
import type { Alert, Notification } from '../src/detect/alert';
import type { FollowUp } from '../src/follow/followup';
import { createLogger } from '../src/logger';
import { Dispatcher } from '../src/notify/dispatcher';
import { buildSampleAlert, buildSampleSummary } from '../src/notify/sample-alert';
import { formatTeams, isConnectorUrl, TEAMS_LIMITS, TeamsNotifier, teamsText, type TeamsMessage } from '../src/notify/teams';
import type { OktaLogEvent } from '../src/okta/log-event';
import { openStore } from '../src/store/open';
import { Store } from '../src/store/store';
import { tokenEvent, uuidFor } from './helpers/events';
import { FakeTeams } from './helpers/fake-teams';
import { firstUseOf, followUpOf, responseOf } from './helpers/hand-followups';
import { hostileAlert, INVISIBLE } from './helpers/harmless';
import { LineSink, tmpDir } from './helpers/harness';
import { Receiver } from './helpers/receiver';
import { rejection } from './helpers/rejection';

const DELIVERY: DeliveryConfig = { maxAttempts: 10, maxAgeMs: 48 * 3600_000, intervalMs: 15_000 };

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function fakeTeams(): Promise<FakeTeams> {
  const f = new FakeTeams();
  await f.start();
  cleanups.push(() => f.stop());
  return f;
}

/** Every text a person sees in the card: TextBlocks, fact titles and values, action titles. */
function texts(m: TeamsMessage): Array<{ text: string; where: string }> {
  const out: Array<{ text: string; where: string }> = [];
  const c = m.attachments[0]!.content;
  c.body.forEach((el, i) => {
    if (typeof el.text === 'string') out.push({ text: el.text, where: `body[${i}]` });
    for (const f of (el.facts as Array<{ title: string; value: string }> | undefined) ?? []) out.push({ text: f.title, where: `body[${i}].title` }, { text: f.value, where: `body[${i}].value` });
  });
  c.actions.forEach((a, i) => out.push({ text: String(a.title), where: `actions[${i}]` }));
  return out;
}

const KNOWN_LINKS = /^https:\/\/example-admin\.okta\.com\//;

function assertTeamsHarmless(n: Notification, label: string): void {
  const m = formatTeams(n);
  assert.equal(m.type, 'message');
  assert.equal(m.attachments.length, 1);
  assert.equal(m.attachments[0]!.contentType, 'application/vnd.microsoft.card.adaptive');
  assert.ok(Buffer.byteLength(JSON.stringify(m)) <= TEAMS_LIMITS.bytes, `${label}: card too large`);
  for (const t of texts(m)) {
    const at = `${label} ${t.where}`;
    // Our bold markers wrap values; apart from them and backslash escapes, no markdown character is left.
    const bare = t.text.replace(/\\[\\`*_~[\]#>|<{}\-+.]/g, '').replace(/\*\*/g, '');
    assert.doesNotMatch(bare, /[`*_~[\]#>|<{}\\]/, `${at}: live markdown in ${JSON.stringify(t.text.slice(0, 200))}`);
    assert.doesNotMatch(t.text, /:\/\/|\bwww\.[a-z]/i, `${at}: a linkable URL`);
    assert.doesNotMatch(t.text.replace(/\n/g, ''), INVISIBLE, `${at}: invisible or control character`);
    assert.doesNotMatch(t.text, /^\s*([-+]|\d+\.)\s/m, `${at}: a line that would become a list`);
  }
  for (const a of m.attachments[0]!.content.actions) {
    assert.equal(a.type, 'Action.OpenUrl');
    assert.match(String(a.url), KNOWN_LINKS, `${label}: unexpected link`);
  }
}


function hostileFollowUps(a: Alert, s: string): FollowUp[] {
  const place = { ip: s, city: s, country: s, asNumber: null, asOrg: s, isp: s, userAgent: s };
  const fu = (kind: FollowUp['kind'], extra: Partial<FollowUp>): FollowUp => ({ id: `otw-followup-${kind}`, ...followUpOf(a, kind, extra) });
  return [
    fu('first-use', firstUseOf(s, ['new-country', 'new-network'])),
    fu('lifecycle', { prominent: true, signals: ['network-anywhere'], lifecycle: { uuid: s, published: s, eventType: s, change: 'updated', actor: { id: s, login: s, displayName: s }, outcome: s, network: { connection: s, includedZones: [s], excludedZones: [s] }, place } }),
    fu('lifecycle', { lifecycle: { uuid: s, published: s, eventType: s, change: 'revoked', actor: { id: s, login: s, displayName: s }, outcome: s, network: null, place } }),
    fu('digest', {
      prominent: true,
      signals: ['sensitive-actions'],
      digest: { reason: 'window-ended', windowStart: s, windowEnd: s, total: 40, byType: [{ eventType: s, count: 30 }], typeCount: 3, sensitive: Array.from({ length: 12 }, () => ({ category: 'user-created' as const, uuid: s, published: s, eventType: s, outcome: s, target: s, displayMessage: s })), sensitiveCount: 12, firstUseAt: s, lastUseAt: s },
    }),
    fu('response', { response: responseOf('expected', 'recorded', { reason: s, by: { via: 'slack', id: s, name: s } }) }),
    fu('response', { response: responseOf('revoke', 'failed', { error: s, by: { via: 'cli', id: s, name: s } }) }),
  ];
}

const HOSTILE: Record<string, string> = {
  links: '[click here](https://evil.example/login) ![img](http://evil.example/x.png) <https://evil.example> www.evil.example',
  emphasis: '**bold** _it_ ~~strike~~ `code` ```block``` # heading > quote | table |',
  lists: '- item\n1. first\n+ plus',
  mentions: '<at>Everyone</at> @here @channel <!channel>',
  html: '<script>alert(1)</script><img src=x onerror=alert(1)>"\'&amp;',
  templating: '{{DATE(2017-02-14T06:08:39Z, SHORT)}} ${secret}',
  invisible: 'invoice\u202Egnp.exe \u200B\u200D\u2066\uFEFF\u0000\u0007\u001B[31m\u0085\u2028\u2029\u{E0041}\u3164|',
  long: 'A'.repeat(20_000) + '[x](https://evil.example)',
  backslash: '\\[not escaped\\](https://evil.example) \\*',
};

describe('Teams format', () => {
  test('when the sample alert is formatted, then it is one Adaptive Card 1.4 with the facts, the first steps and buttons to our own links', () => {
    const a = buildSampleAlert();
    const m = formatTeams({ kind: 'alert', alert: a });
    const c = m.attachments[0]!.content;
    assert.equal(c.type, 'AdaptiveCard');
    assert.equal(c.version, '1.4');
    assert.equal(c.body[0]!.text, 'MEDIUM: Okta API token created');
    assert.equal(c.body[1]!.text, '**jordan.admin@example.com** created API token **terraform-ci** in Okta.');
    const facts = c.body.find((e) => e.type === 'FactSet')!.facts as Array<{ title: string; value: string }>;
    assert.deepEqual(facts.slice(0, 3), [
      { title: 'Actor', value: 'Jordan Admin (jordan.admin@example.com)' },
      { title: 'Token name', value: 'terraform-ci' },
      { title: 'Token id', value: '00Tb1x2y3z4A5B6C7d8' },
    ]);
    assert.ok(texts(m).some((t) => t.text === '1\\. If nobody can explain the token, revoke it now (Security \\> API \\> Tokens).'));
    assert.deepEqual(c.actions.map((x) => x.title), ['Open the event in Okta', 'Actor in Okta', 'What the token did (System Log)', 'API tokens page (revoke)']);
    assertTeamsHarmless({ kind: 'alert', alert: a }, 'sample');
  });

  test('when a test alert and a summary are formatted, then the test says so and the summary shows its count', () => {
    assert.match(formatTeams({ kind: 'alert', alert: buildSampleAlert(), test: true }).attachments[0]!.content.body[0]!.text as string, /^\[TEST\] MEDIUM/);
    const s = formatTeams({ kind: 'summary', summary: buildSampleSummary(3) });
    assert.match(s.attachments[0]!.content.body[0]!.text as string, /3 more Okta API token creations/);
  });

  test('when each kind of follow-up is formatted, then the card names its alert and says what happened', () => {
    const a = buildSampleAlert();
    const expected: Record<string, RegExp> = {
      'first-use': /API token first used, from another country/,
      // The hand-built lifecycle follow-ups carry a hostile outcome, so they read as refused attempts.
      lifecycle: /API token (opened to any network|revoked)|Attempt to (change|revoke) the API token, not done/,
      digest: /What the API token did during its watch/,
      response: /Marked as expected|Revoking the token failed/,
    };
    for (const f of hostileFollowUps(a, 'plain-value')) {
      const m = formatTeams({ kind: 'followup', followup: f, alert: a, parent: null });
      const all = texts(m).map((t) => t.text).join('\n');
      assert.match(m.attachments[0]!.content.body[0]!.text as string, expected[f.kind]!, f.kind);
      assert.match(all, new RegExp(`alert ${a.id}`), `${f.kind}: names its alert`);
      assert.match(all, /\*\*terraform-ci\*\*/, `${f.kind}: names the token`);
    }
    const revoked = formatTeams({ kind: 'followup', followup: { id: 'otw-followup-3', ...followUpOf(a, 'response', { response: responseOf('revoke', 'revoked') }) }, alert: a, parent: null });
    assert.ok(texts(revoked).some((t) => t.text === '**sam.analyst** (via Slack) revoked token **terraform-ci** at **2026-11-28T12:20:00.000Z**.'));
  });

  test('when a value is escaped for a TextBlock, then markdown characters get a backslash and a leading list marker is broken', () => {
    assert.equal(teamsText('[x](y) **b** _i_ `c` <at>'), '\\[x\\](y) \\*\\*b\\*\\* \\_i\\_ \\`c\\` \\<at\\>');
    assert.equal(teamsText('- item'), '\\- item');
    assert.equal(teamsText('12. item'), '12\\. item');
    assert.equal(teamsText(null), '-');
  });
});

describe('Teams with hostile text', () => {
  for (const [name, s] of Object.entries(HOSTILE)) {
    test(`when every event field holds the ${name} string, then the alert, summary and follow-up cards render it harmlessly and within the size limit`, () => {
      const a = hostileAlert(s);
      assertTeamsHarmless({ kind: 'alert', alert: a }, name);
      assertTeamsHarmless({ kind: 'alert', alert: { ...a, unreadable: { reason: s, raw: s, keyFromContent: false } } }, `${name} unreadable`);
      const sum = buildSampleSummary(3);
      sum.actors = [{ actor: s, count: 2 }];
      sum.tokenNames = [s, s];
      sum.firstPublished = s;
      sum.howToList = s;
      assertTeamsHarmless({ kind: 'summary', summary: sum }, `${name} summary`);
      for (const f of hostileFollowUps(a, s)) assertTeamsHarmless({ kind: 'followup', followup: f, alert: a, parent: null }, `${name} ${f.kind}`);
    });
  }
});

describe('Teams transport', () => {
  test('when the flow accepts with 202 or 200, then one JSON message with the card arrives at the signed URL', async () => {
    const f = await fakeTeams();
    const n = new TeamsNotifier({ webhookUrl: f.url }, { timeoutMs: 2000 });
    await n.send({ kind: 'alert', alert: buildSampleAlert() });
    f.okStatus = 200;
    await n.send({ kind: 'alert', alert: buildSampleAlert(), test: true });
    assert.deepEqual(f.requests.map((r) => r.status), [202, 200]);
    assert.equal(f.cards.length, 2);
    assert.match(String(f.requests[0]!.headers['content-type']), /application\/json/);
  });

  test('when the flow answers 429 with Retry-After or 5xx, then the error is retryable; 400 and a wrong signature are permanent, and the signature is never in the error', async () => {
    const f = await fakeTeams();
    f.fail({ status: 429, body: '{"error":{"code":"WorkflowTriggerIsThrottled"}}', headers: { 'Retry-After': '12' } }, { status: 503 }, { status: 400, body: `{"error":{"message":"bad card for ${f.url}"}}` });
    const n = new TeamsNotifier({ webhookUrl: f.url }, { timeoutMs: 2000 });
    const alert = buildSampleAlert();
    const e429 = await rejection(n.send({ kind: 'alert', alert }));
    assert.deepEqual([e429.retryable, e429.retryAfterMs], [true, 12_000]);
    assert.equal((await rejection(n.send({ kind: 'alert', alert }))).retryable, true);
    const e400 = await rejection(n.send({ kind: 'alert', alert }));
    assert.equal(e400.retryable, false);
    assert.match(e400.message, /^TEAMS_WEBHOOK_URL refused the message \(HTTP 400\)/);
    const wrong = new TeamsNotifier({ webhookUrl: f.url.replace(f.sig, 'FAKE-other-signature') }, { timeoutMs: 2000 });
    const e401 = await rejection(wrong.send({ kind: 'alert', alert }));
    assert.equal(e401.retryable, false);
    assert.match(e401.message, /HTTP 401.*the flow was deleted or turned off/);
    for (const e of [e429, e400, e401]) assert.ok(!e.message.includes(f.sig) && !e.message.includes('FAKE-other-signature') && !e.message.includes('127.0.0.1'), e.message);
  });

  test('when the webhook redirects, then the card is not carried to the other host', async () => {
    const r = new Receiver();
    await r.start();
    cleanups.push(() => r.stop());
    const elsewhere = await fakeTeams();
    r.answer({ status: 307, headers: { Location: elsewhere.url } });
    const e = await rejection(new TeamsNotifier({ webhookUrl: r.url('/workflows/x?sig=FAKE') }, { timeoutMs: 2000 }).send({ kind: 'alert', alert: buildSampleAlert() }));
    assert.equal(e.retryable, false);
    assert.equal(elsewhere.requests.length, 0);
  });

  test('when the URL is an Office 365 connector webhook, then it is recognised (check warns about it)', () => {
    assert.equal(isConnectorUrl('https://contoso.webhook.office.com/webhookb2/FAKE'), true);
    assert.equal(isConnectorUrl('https://prod-01.westeurope.logic.azure.com/workflows/FAKE'), false);
  });
});

describe('Teams through the outbox', () => {
  test('when an alert and its follow-up are delivered, then the alert card goes first and the follow-up card names the alert', async () => {
    const clock = new FakeClock();
    const f = await fakeTeams();
    const store = (await openStore({ dbPath: path.join(tmpDir(), 'otw.sqlite') })).store;
    cleanups.push(() => store.close());
    const now = clock.now();
    await store.insertEvent(tokenEvent(1, new Date(now.getTime() - 60_000).toISOString()) as unknown as OktaLogEvent, 'poll', now, null);
    const alert = buildSampleAlert({ now, uuid: uuidFor(1), tokenName: 'token-1', source: 'poll' });
    await store.insertAlert(alert, null, ['teams'], { deferToSummary: false, now });
    await store.insertFollowUp(followUpOf(alert, 'response', { response: responseOf('acknowledge', 'recorded', { reason: 'looking into it' }) }), 'response:1', ['teams'], now);
    const d = new Dispatcher(store, [new TeamsNotifier({ webhookUrl: f.url }, { timeoutMs: 2000, now: () => clock.now() })], DELIVERY, createLogger({ level: 'debug', format: 'json' }, { stream: new LineSink() }), clock, { random: () => 0 });
    await d.runOnce();
    clock.advance(2000);
    await d.runOnce();
    assert.equal(f.cards.length, 2);
    assert.equal(f.cards[0].body[0].text, 'MEDIUM: Okta API token created');
    assert.equal(f.cards[1].body[0].text, 'Acknowledged by an analyst');
    assert.ok(JSON.stringify(f.cards[1]).includes(`alert ${alert.id}`));
  });
});

describe('follow-ups stored in an odd shape', () => {
  test('when a stored follow-up lacks its token and its lists are not lists, then Teams and PagerDuty still format it', async () => {
    const { formatPagerDuty } = await import('../src/notify/pagerduty');
    const a = buildSampleAlert();
    const odd = [
      { id: 'otw-followup-1', alertId: a.id, kind: 'digest', createdAt: 'x', prominent: true, signals: 'new-country', digest: { reason: 'revoked', total: 'many', byType: 'none', sensitive: { a: 1 }, sensitiveCount: 3 } },
      { id: 'otw-followup-2', alertId: a.id, kind: 'first-use', createdAt: 'x', signals: ['bogus-signal'], firstUse: { place: null, creationPlace: null, minutesAfterCreation: 'soon' } },
      { id: 'otw-followup-3', alertId: a.id, kind: 'response', createdAt: 'x', response: { action: 'revoke', result: 'revoked' } },
      { id: 'otw-followup-4', alertId: a.id, kind: 'something-new', createdAt: 'x' },
    ] as unknown as FollowUp[];
    for (const f of odd) {
      assertTeamsHarmless({ kind: 'followup', followup: f, alert: a, parent: null }, `odd ${f.id}`);
      for (const e of formatPagerDuty({ kind: 'followup', followup: f, alert: a, parent: null })) assert.equal(e.dedup_key, a.id);
    }
    assert.deepEqual(formatPagerDuty({ kind: 'followup', followup: odd[2]!, alert: a, parent: null }).map((e) => e.event_action), ['resolve']);
  });
});
