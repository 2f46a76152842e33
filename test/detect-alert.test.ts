import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { adminOrigin } from '../src/detect/admin-links';
import type { Alert } from '../src/detect/alert';
import type { OktaLogEvent } from '../src/okta/log-event';
import { buildAlert, networkRestriction } from '../src/detect/build-alert';
import { MAX_TEXT } from '../src/detect/fields';
import { RULE, RULE_FILTER } from '../src/detect/rule';
import { buildSummary, MAX_SUMMARY_ALERT_IDS, SUMMARY_BOUNDS } from '../src/detect/summary';
import { openDatabase } from '../src/store/db';
import { adminConsoleToken, apiTokenByToken, failedAttempt, hostileEvent, makeEvent, sparseEvent } from './fixtures/events';

const ORG = 'https://acme.okta.com';
const NOW = new Date('2026-11-28T12:00:00.000Z');
const ctx = { source: 'poll' as const, now: NOW, orgUrl: ORG, history: null };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-summary-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let dbs = 0;

/** The summary the store would build for these alerts, all left over from one tick (a real database). */
async function summaryOf(events: OktaLogEvent[]) {
  const store = storeOn(openDatabase(path.join(tmp, `s${++dbs}.sqlite`)));
  try {
    return await store.transaction(async (tx) => {
      const alerts = [];
      for (const e of events) {
        await tx.insertEvent(e, 'poll', NOW, null);
        const a = buildAlert(e, ctx);
        await tx.insertAlert(a, null, ['console'], { deferToSummary: true, now: NOW });
        alerts.push(a);
      }
      const s = buildSummary((await tx.excessAwaitingSummary(SUMMARY_BOUNDS))!, NOW, ORG);
      await tx.insertSummary(s, null, ['console'], NOW);
      return { s, alerts };
    });
  } finally {
    await store.close();
  }
}

describe('the rule as data', () => {
  test('when the rule is read, then it carries the severity, risk score, MITRE mapping, filter and a full runbook', () => {
    assert.equal(RULE.severity, 'medium');
    assert.equal(RULE.riskScore, 47);
    assert.equal(RULE_FILTER, 'eventType eq "system.api_token.create"');
    const ids = RULE.mitre.flatMap((m) => [m.tactic.id, m.technique.id, m.subtechnique?.id]).filter(Boolean);
    assert.deepEqual(new Set(ids), new Set(['TA0003', 'T1136', 'T1098', 'T1098.001']));
    assert.ok(RULE.references.some((r) => r.includes('system-log')));
    assert.ok(RULE.references.some((r) => r.includes('event-types')));
    assert.deepEqual(RULE.tags, ['Identity and Access Audit', 'Data Source: Okta', 'Tactic: Persistence']);
    assert.ok(RULE.runbook.triage.length >= 4 && RULE.runbook.benign.length >= 4 && RULE.runbook.response.length >= 5);
  });

  test('when an alert is built, then it carries a copy of the rule that cannot change the rule itself', () => {
    const alert = buildAlert(adminConsoleToken, ctx);
    assert.equal(alert.rule.id, RULE.id);
    assert.equal(alert.rule.filter, RULE_FILTER);
    alert.rule.runbook.triage.push('tampered');
    assert.ok(!RULE.runbook.triage.includes('tampered'));
  });
});

describe('buildAlert', () => {
  test('when the Token target is not first in target[], then the token is found by type', () => {
    const alert = buildAlert(adminConsoleToken, ctx);
    assert.deepEqual(alert.token, { id: '00Tabc123DEF456ghi78', name: 'terraform-prod' });
  });

  test('when a console-made event is built, then the whole alert matches the expected value', () => {
    const e = makeEvent({}, { n: 100 });
    const alert = buildAlert(e, { ...ctx, history: { actorTokensLast90d: 2, firstFromCountry: true, firstFromAsn: false, burstSameHour: 0, since: '2026-09-01T00:00:00.000Z' } });
    const expected: Omit<Alert, 'rule'> = {
      id: `otw-${e.uuid}`,
      source: 'poll',
      createdAt: '2026-11-28T12:00:00.000Z',
      event: { uuid: e.uuid, published: '2026-11-28T11:58:12.345Z', eventType: 'system.api_token.create', displayMessage: 'Create API token', legacyEventType: 'api.token.create' },
      actor: { id: '00u1a2b3c4d5e6f7g8h9', type: 'User', login: 'dana.admin@example.com', displayName: 'Dana Admin' },
      token: { id: (e.target as Array<{ id: string }>)[0]!.id, name: 'ci-deploy' },
      outcome: { result: 'SUCCESS', reason: null },
      client: {
        ip: '198.51.100.23',
        city: 'Amsterdam',
        region: 'North Holland',
        country: 'Netherlands',
        zone: 'null',
        asNumber: 64500,
        asOrg: 'example transit bv',
        isp: 'example broadband',
        domain: 'example.net',
        isProxy: false,
        userAgent: {
          raw: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
          browser: 'SAFARI',
          os: 'Mac OS X',
        },
      },
      via: { kind: 'admin-console', requestUri: '/api/internal/tokens' },
      createdByTokenId: null,
      originalPrincipal: null,
      network: { connection: 'ANYWHERE', includedZones: [], excludedZones: [] },
      links: {
        event: `https://acme-admin.okta.com/report/system_log_2?search=${e.uuid}&fromTime=2026-11-27T11%3A58%3A12.345Z&toTime=2026-11-29T11%3A58%3A12.345Z`,
        actor: 'https://acme-admin.okta.com/admin/user/profile/view/00u1a2b3c4d5e6f7g8h9',
        apiTokens: 'https://acme-admin.okta.com/admin/access/api/tokens',
        tokenActivity: `https://acme-admin.okta.com/report/system_log_2?search=transaction.detail.requestApiTokenId%20eq%20%22${(e.target as Array<{ id: string }>)[0]!.id}%22&fromTime=2026-11-28T11%3A58%3A12.345Z`,
      },
      history: { actorTokensLast90d: 2, firstFromCountry: true, firstFromAsn: false, burstSameHour: 0, since: '2026-09-01T00:00:00.000Z' },
      tokenState: { status: 'skipped', reason: 'the token lookup did not run for this event' },
    };
    const { rule, ...rest } = alert;
    assert.equal(rule.id, RULE.id);
    assert.deepEqual(rest, expected);
  });

  test('when another token created the token through the API with zone restrictions, then via, createdByTokenId and the zones are reported', () => {
    const alert = buildAlert(apiTokenByToken, ctx);
    assert.deepEqual(alert.via, { kind: 'api', requestUri: '/api/v1/api-tokens' });
    assert.equal(alert.createdByTokenId, '00Tparent0000000000A');
    assert.deepEqual(alert.network, { connection: 'ZONE', includedZones: ['nzo1ciRunners0000001', 'nzo1officeVpn0000002'], excludedZones: ['nzo1blocked00000003'] });
    assert.equal(alert.client.zone, 'CI runners');
  });

  test('when the event has no geography, user agent, target, security context or debug data, then the alert still builds with nulls and says so', () => {
    const alert = buildAlert(sparseEvent, ctx);
    assert.equal(alert.token, null);
    assert.equal(alert.links.tokenActivity, null);
    assert.deepEqual(alert.client.userAgent, { raw: null, browser: null, os: null });
    assert.equal(alert.client.country, null);
    assert.equal(alert.client.city, null);
    assert.equal(alert.client.asNumber, null);
    assert.equal(alert.client.isProxy, null);
    assert.deepEqual(alert.via, { kind: 'unknown', requestUri: null });
    assert.equal(alert.network, null);
    assert.equal(alert.createdByTokenId, null);
    assert.equal(alert.client.ip, '198.51.100.23');
  });

  test('when fields have odd types and huge text, then nothing throws, odd values become null and text is bounded', () => {
    const alert = buildAlert(hostileEvent, ctx);
    assert.equal(alert.actor.id, '12345');
    assert.equal(alert.actor.type, null);
    assert.equal(alert.actor.login, null);
    assert.equal(alert.actor.displayName, '<script>alert(1)</script>');
    assert.equal(alert.links.actor, null, 'an actor of unknown type gets no user page link');
    assert.equal(alert.event.displayMessage!.length, MAX_TEXT);
    assert.ok(alert.event.displayMessage!.endsWith('…'));
    assert.equal(alert.client.ip, '42');
    assert.deepEqual(alert.client.userAgent, { raw: null, browser: null, os: null });
    assert.equal(alert.client.city, '7');
    assert.equal(alert.outcome.result, '5');
    assert.equal(alert.outcome.reason, null);
    assert.equal(alert.client.asNumber, 64512);
    assert.equal(alert.client.isProxy, true);
    assert.equal(alert.client.asOrg, null);
    assert.equal(alert.via.kind, 'api');
    assert.equal(alert.createdByTokenId, null);
    assert.ok(alert.token && alert.token.name!.length === MAX_TEXT && alert.token.id!.length === 200);
    assert.equal(alert.links.tokenActivity, null, 'a token id that is not a plain id gets no search link');
    assert.deepEqual(alert.network, { connection: null, includedZones: ['nzoA', '3'], excludedZones: [] });
    assert.doesNotThrow(() => JSON.stringify(alert));
  });

  test('when the event is not even an object with the usual parts, then buildAlert still returns an alert', () => {
    const weird = { uuid: 'u-1', published: 'not a date', eventType: 'system.api_token.create', actor: 'x', client: [], outcome: null, target: 'Token' } as never;
    const alert = buildAlert(weird, ctx);
    assert.equal(alert.id, 'otw-u-1');
    assert.equal(alert.outcome.result, 'UNKNOWN');
    assert.equal(alert.token, null);
    assert.equal(alert.links.event, 'https://acme-admin.okta.com/report/system_log_2?search=u-1');
  });

  for (const result of ['SUCCESS', 'FAILURE', 'SKIPPED', 'ALLOW', 'DENY', 'CHALLENGE', 'UNKNOWN']) {
    test(`when the outcome is ${result}, then the alert shows it with its reason`, () => {
      const alert = buildAlert(makeEvent({ outcome: { result, reason: result === 'SUCCESS' ? null : `because ${result}` } }), ctx);
      assert.deepEqual(alert.outcome, { result, reason: result === 'SUCCESS' ? null : `because ${result}` });
    });
  }

  test('when a failed attempt names a token without an id, then the token name is kept and no activity link is made', () => {
    const alert = buildAlert(failedAttempt, ctx);
    assert.deepEqual(alert.token, { id: null, name: 'my-token' });
    assert.equal(alert.links.tokenActivity, null);
    assert.deepEqual(alert.outcome, { result: 'FAILURE', reason: 'INSUFFICIENT_PERMISSIONS' });
  });

  test('when a token lookup result is given, then the alert carries it as is', () => {
    const tokenState = { status: 'not-found' as const, checkedAt: NOW.toISOString() };
    assert.deepEqual(buildAlert(adminConsoleToken, { ...ctx, tokenState }).tokenState, tokenState);
  });
});

describe('links and impersonation', () => {
  test('when the token has an id, then the activity link searches the System Log for requestApiTokenId equal to it, with spaces as %20', () => {
    const alert = buildAlert(adminConsoleToken, ctx);
    const link = alert.links.tokenActivity!;
    assert.equal(
      link,
      'https://acme-admin.okta.com/report/system_log_2?search=transaction.detail.requestApiTokenId%20eq%20%2200Tabc123DEF456ghi78%22&fromTime=2026-11-28T11%3A58%3A12.345Z',
    );
    // Any decoder (form or plain percent-decoding) reads back the exact filter expression.
    assert.equal(new URL(link).searchParams.get('search'), 'transaction.detail.requestApiTokenId eq "00Tabc123DEF456ghi78"');
    assert.equal(decodeURIComponent(new URL(link).search), '?search=transaction.detail.requestApiTokenId eq "00Tabc123DEF456ghi78"&fromTime=2026-11-28T11:58:12.345Z');
  });

  test('when Okta records the original principal as an object, then the alert names the real person', () => {
    const e = makeEvent({ debugContext: { debugData: { originalPrincipal: { id: '00uSupport000000001', type: 'User', alternateId: 'helper@support.example', displayName: 'Support Person' } } } });
    assert.deepEqual(buildAlert(e, ctx).originalPrincipal, { id: '00uSupport000000001', type: 'User', login: 'helper@support.example', displayName: 'Support Person' });
  });

  test('when the original principal is JSON text, a bare id or a bare login, then it is read; a hostile id is dropped, text is bounded', () => {
    const of = (v: unknown) => buildAlert(makeEvent({ debugContext: { debugData: { originalPrincipal: v } } }), ctx).originalPrincipal;
    assert.deepEqual(of('{"id":"00uAbc","alternateId":"x@example.com"}'), { id: '00uAbc', type: null, login: 'x@example.com', displayName: null });
    assert.deepEqual(of('00uBare0000000000001'), { id: '00uBare0000000000001', type: null, login: null, displayName: null });
    assert.deepEqual(of('someone@example.com'), { id: null, type: null, login: 'someone@example.com', displayName: null });
    const hostile = of({ id: '00u" or 1 eq 1 <x>', alternateId: '<!channel>'.repeat(1000), displayName: { nested: true } })!;
    assert.equal(hostile.id, null, 'an id that is not an id is not kept');
    assert.equal(hostile.displayName, null);
    assert.equal(hostile.login!.length, 300);
    for (const nothing of [null, '', '   ', [], {}, { id: 7 }]) assert.equal(of(nothing), null, JSON.stringify(nothing));
  });

  test('when the original principal is the actor itself, then it is not reported as an impersonation', () => {
    const self = (v: unknown) => buildAlert(makeEvent({ debugContext: { debugData: { originalPrincipal: v } } }), ctx).originalPrincipal;
    assert.equal(self({ id: '00u1a2b3c4d5e6f7g8h9', alternateId: 'dana.admin@example.com' }), null);
    assert.equal(self('DANA.ADMIN@example.com'), null);
  });
});

describe('network restriction parsing', () => {
  test('when debugData nests the network as JSON text, then connection and zones are read from it', () => {
    const n = networkRestriction({ network: '{"connection":"ZONE","include":["nzoA"],"exclude":"nzoB,nzoC"}' });
    assert.deepEqual(n, { connection: 'ZONE', includedZones: ['nzoA'], excludedZones: ['nzoB', 'nzoC'] });
  });

  test('when debugData has nothing about the network, then the restriction is null', () => {
    assert.equal(networkRestriction({ requestUri: '/api/internal/tokens', dtHash: 'x' }), null);
  });
});

describe('Admin Console links', () => {
  test('when the org is on okta.com or oktapreview.com, then -admin is inserted after the subdomain', () => {
    assert.equal(adminOrigin('https://acme.okta.com'), 'https://acme-admin.okta.com');
    assert.equal(adminOrigin('https://acme-dev.oktapreview.com'), 'https://acme-dev-admin.oktapreview.com');
    assert.equal(adminOrigin('https://acme.okta-emea.com'), 'https://acme-admin.okta-emea.com');
  });

  test('when the org has a custom domain or is on loopback, then the org URL is used as it is', () => {
    assert.equal(adminOrigin('https://login.acme.example'), 'https://login.acme.example');
    assert.equal(adminOrigin('http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
  });
});

describe('buildSummary', () => {
  test('when many alerts overflow a tick, then the summary counts actors most first, lists token names once and spans the published times', async () => {
    const events: OktaLogEvent[] = [];
    const logins = ['a@x', 'b@x', 'b@x', 'c@x', 'b@x', 'a@x'];
    logins.forEach((login, i) => {
      const e = makeEvent({
        actor: { alternateId: login },
        published: `2026-11-28T11:0${9 - i}:00.000Z`,
        target: [{ id: `00Tsummary0000000${i}`, type: 'Token', displayName: i % 2 ? 'dup' : `tok-${i}` }],
      });
      events.push(e);
    });
    const { s, alerts } = await summaryOf(events);
    assert.equal(s.count, 6);
    assert.equal(s.actorCount, 3);
    assert.equal(s.alertIdsOmitted, 0);
    assert.deepEqual(s.actors, [{ actor: 'b@x', count: 3 }, { actor: 'a@x', count: 2 }, { actor: 'c@x', count: 1 }]);
    assert.deepEqual(s.tokenNames, ['tok-0', 'dup', 'tok-2', 'tok-4']);
    assert.equal(s.firstPublished, '2026-11-28T11:04:00.000Z');
    assert.equal(s.lastPublished, '2026-11-28T11:09:00.000Z');
    assert.deepEqual(s.alertIds, alerts.map((a) => a.id));
    assert.equal(s.howToList, 'okta-token-watch status --alerts');
    assert.equal(s.links.apiTokens, 'https://acme-admin.okta.com/admin/access/api/tokens');
    assert.ok(s.links.systemLog.startsWith('https://acme-admin.okta.com/report/system_log_2?search=eventType%20eq%20%22system.api_token.create%22'));
    assert.equal(s.rule.riskScore, 47);
  });

  test('when more than 20 actors and 50 token names overflow, then the lists are bounded and the counts stay whole', async () => {
    const events = Array.from({ length: 120 }, (_, i) =>
      makeEvent({ actor: { id: `00uactor${i % 30}`, alternateId: `user${i % 30}@x` }, target: [{ id: `00Tbound0000000${i}`, type: 'Token', displayName: `name-${i}` }] }),
    );
    const { s, alerts } = await summaryOf(events);
    assert.equal(s.count, 120);
    assert.equal(s.actors.length, 20);
    assert.equal(s.actorCount, 30);
    assert.equal(s.actors[0]!.count, 4);
    assert.deepEqual(s.tokenNames.slice(0, 3), ['name-0', 'name-1', 'name-2']);
    assert.equal(s.tokenNames.length, 50);
    assert.equal(s.tokenNameCount, 120);
    assert.deepEqual(s.alertIds, alerts.map((a) => a.id));
    assert.equal(s.alertIdsOmitted, 0);
  });

  test('when more alerts wait than a summary carries ids for, then it carries the first 1000 and says how many it left out', async () => {
    const events = Array.from({ length: MAX_SUMMARY_ALERT_IDS + 7 }, (_, i) =>
      makeEvent({ actor: { alternateId: 'bulk@x' }, target: [{ id: `00Tmany${i}`, type: 'Token', displayName: 'same-name' }] }),
    );
    const { s, alerts } = await summaryOf(events);
    assert.equal(s.count, MAX_SUMMARY_ALERT_IDS + 7);
    assert.equal(s.alertIds.length, MAX_SUMMARY_ALERT_IDS);
    assert.equal(s.alertIds[0], alerts[0]!.id);
    assert.equal(s.alertIdsOmitted, 7);
    assert.deepEqual(s.tokenNames, ['same-name']);
    assert.deepEqual(s.actors, [{ actor: 'bulk@x', count: MAX_SUMMARY_ALERT_IDS + 7 }]);
  });
});
