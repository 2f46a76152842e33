import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import type { DetectConfig } from '../src/detect/config';
import { createDetector } from '../src/detect/detector';
import { parseExceptions } from '../src/detect/exceptions';
import { createLogger } from '../src/logger';
import type { OktaHttp, OktaResponse } from '../src/okta/http';
import { ingest } from '../src/ingest/ingest';
import { openDatabase } from '../src/store/db';
import { adminConsoleToken, makeEvent } from './fixtures/events';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-detector-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const logger = createLogger({ level: 'error', format: 'json' }, { stream: new Writable({ write: (_c, _e, cb) => cb() }) });
const clock = new FakeClock(Date.parse('2026-11-28T12:00:00.000Z'));
const ORG = 'https://acme.okta.com';

function config(over: Partial<DetectConfig> = {}, exceptionsYaml = ''): DetectConfig {
  const parsed = parseExceptions(exceptionsYaml, 'yaml');
  assert.deepEqual(parsed.problems, []);
  return { alertOutcomes: null, exceptions: parsed.set!, exceptionsFile: null, tokenLookup: { mode: 'auto', timeoutMs: 1000, maxPerPage: 20 }, ...over };
}

/** An OktaHttp that answers every token lookup with the same status, counting calls. */
function stubOkta(status: number, body: unknown = {}): OktaHttp & { calls: string[] } {
  const calls: string[] = [];
  return {
    orgUrl: ORG,
    calls,
    get requestCount() {
      return calls.length;
    },
    async get(p: string): Promise<OktaResponse> {
      calls.push(p);
      return { status, url: `${ORG}${p}`, header: () => null, links: [], body };
    },
  };
}

describe('decide', () => {
  const outcomes = ['SUCCESS', 'FAILURE', 'SKIPPED', 'ALLOW', 'DENY', 'CHALLENGE', 'UNKNOWN'];

  for (const result of outcomes) {
    test(`when ALERT_OUTCOMES is unset and the outcome is ${result}, then the event alerts`, () => {
      const d = createDetector(config(), { orgUrl: ORG, okta: null, logger, clock });
      assert.deepEqual(d.decide(makeEvent({ outcome: { result } }), clock.now()), { alert: true, ruleId: 'okta-api-token-create' });
    });
  }

  test('when ALERT_OUTCOMES is SUCCESS, then a FAILURE is suppressed saying why and a lower-case success alerts', () => {
    const d = createDetector(config({ alertOutcomes: ['SUCCESS'] }), { orgUrl: ORG, okta: null, logger, clock });
    assert.deepEqual(d.decide(makeEvent({ outcome: { result: 'FAILURE' } }), clock.now()), { alert: false, suppressedBy: 'outcome FAILURE not in ALERT_OUTCOMES' });
    assert.deepEqual(d.decide(makeEvent({ outcome: { result: 'success' } }), clock.now()), { alert: true, ruleId: 'okta-api-token-create' });
    assert.deepEqual(d.decide(makeEvent({ outcome: undefined }), clock.now()), { alert: false, suppressedBy: 'outcome UNKNOWN not in ALERT_OUTCOMES' });
  });

  test('when the event is another type, then it does not alert', () => {
    const d = createDetector(config(), { orgUrl: ORG, okta: null, logger, clock });
    // system.api_token.revoke was the example here until the lifecycle rules started watching it.
    const r = d.decide(makeEvent({ eventType: 'user.session.start' }), clock.now());
    assert.deepEqual(r, { alert: false, suppressedBy: 'event type user.session.start is not one the rules watch', unwatchedType: true });
  });

  test('when an exception matches, then the decision names its reason, number and matched fields', () => {
    const d = createDetector(config({}, 'exceptions:\n  - reason: Okta Workflows connector\n    tokenName: "terraform-*"\n    actor: 00u1a2b3c4d5e6f7g8h9\n'), { orgUrl: ORG, okta: null, logger, clock });
    assert.deepEqual(d.decide(adminConsoleToken, clock.now()), { alert: false, suppressedBy: 'Okta Workflows connector (exception #1: actor, tokenName)' });
    assert.deepEqual(d.exceptionsStatus(clock.now()).map((s) => [s.kind, s.number, s.expired]), [['exception', 1, false]]);
  });
});

describe('the detector inside a page commit', () => {
  test('when a page holds an alerted, a suppressed and a failed-lookup event, then each is stored as decided with history and token state', async () => {
    const store = storeOn(openDatabase(path.join(dir, 'page.sqlite')));
    const okta = stubOkta(403, { errorCode: 'E0000006' });
    const detector = createDetector(config({}, 'maintenance:\n  - reason: rotation\n    start: 2026-11-28T00:00:00Z\n    end: 2026-11-28T06:00:00Z\n'), { orgUrl: ORG, okta, logger, clock });
    const earlier = makeEvent({ published: '2026-11-20T09:00:00.000Z' }, { n: 501 });
    const inWindow = makeEvent({ published: '2026-11-28T05:59:59.999Z' }, { n: 502 });
    const alerted = makeEvent({ published: '2026-11-28T11:58:12.345Z' }, { n: 503 });
    const deps = { store, detector, notifiers: ['console'], poll: { schedule: '*/5 * * * *', lookbackMs: 360_000, maxAlertsPerRun: 100 }, clock, logger };

    const out = await ingest(deps, {
      entries: [earlier, inWindow, alerted],
      tickId: null,
      checkpoint: { source: 'poll', cursorUrl: `${ORG}/api/v1/logs?after=x`, caughtUpThrough: null },
      alertsSoFar: 0,
      rateLimitRemaining: null,
      requests: 1,
    });
    assert.equal(out.newEvents, 3);
    assert.equal(out.suppressed, 1);
    assert.equal(out.newAlerts, 2);
    const row = rawDb(store).prepare('SELECT suppressed_by AS s FROM events WHERE uuid = ?').get(inWindow.uuid) as { s: string };
    assert.equal(row.s, 'rotation (maintenance #1: 2026-11-28T00:00:00.000Z to 2026-11-28T06:00:00.000Z)');

    const alert = (await store.getAlert(`otw-${alerted.uuid}`))!;
    // The earlier event and the suppressed one are both creations by the same actor within 90 days.
    assert.equal(alert.history?.actorTokensLast90d, 2);
    assert.equal(alert.history?.firstFromCountry, false);
    assert.equal(alert.history?.burstSameHour, 0);
    const first = (await store.getAlert(`otw-${earlier.uuid}`))!;
    assert.equal(first.tokenState.status, 'failed');
    assert.match(first.tokenState.status === 'failed' ? first.tokenState.reason : '', /okta\.apiTokens\.read/);
    assert.equal(alert.tokenState.status, 'skipped');
    assert.match(alert.tokenState.status === 'skipped' ? alert.tokenState.reason : '', /okta\.apiTokens\.read/);
    assert.equal(okta.calls.length, 1, 'after the first 403 the second lookup of the page is not sent');
    assert.equal(alert.links.apiTokens, 'https://acme-admin.okta.com/admin/access/api/tokens');
    await store.close();
  });

  test('when the lookup finds the token, then the alert carries the found state', async () => {
    const store = storeOn(openDatabase(path.join(dir, 'found.sqlite')));
    const okta = stubOkta(200, { id: 'x', name: 'ci-deploy', userId: '00u1', expiresAt: null });
    const detector = createDetector(config(), { orgUrl: ORG, okta, logger, clock });
    const e = makeEvent({}, { n: 601 });
    const states = await detector.lookupTokens([e]);
    await store.insertEvent(e, 'poll', clock.now(), null);
    const alert = await detector.buildAlert(e, { source: 'poll', now: clock.now(), store, tokenState: states.get(e.uuid) });
    assert.equal(alert.tokenState.status, 'found');
    assert.equal(alert.tokenState.status === 'found' && alert.tokenState.active, true);
    assert.ok(okta.calls[0]!.startsWith('/api/v1/api-tokens/00T'));
    assert.equal(alert.history?.actorTokensLast90d, 0);
    await store.close();
  });
});
