import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import { describe, test } from 'node:test';
import type { Alert } from '../src/detect/alert';
import { parseConfig } from '../src/config';
import { createDetector, type Detector } from '../src/detect/detector';
import { ConfigError } from '../src/errors';
import { RULE } from '../src/detect/rule';
import type { Rule } from '../src/detect/rule-model';
import type { FollowUp } from '../src/follow/followup';
import { closeEndedWatches } from '../src/follow/watch';
import { ingest, type Checkpoint } from '../src/ingest/ingest';
import { watchOf } from '../src/store/watch-store';
import { tokenEvent, uuidFor } from './helpers/events';
import { runCli, startHarness, type Harness } from './helpers/harness';

const HOUR = 3_600_000;

/** The token id tokenEvent(n) creates. */
const tokenOf = (n: number): string => `00T${String(n).padStart(17, '0')}`;

/** An event caused by a request made with the token `tokenId` (by default: a user created, from Romania on another network). */
function activity(n: number, published: string, tokenId: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...tokenEvent(n, published),
    eventType: 'user.lifecycle.create',
    legacyEventType: null,
    displayMessage: 'Create okta user',
    actor: { id: '00u00000000000000001', type: 'User', alternateId: 'admin1@example.com', displayName: 'Admin 1' },
    client: {
      ipAddress: '203.0.113.9',
      userAgent: { rawUserAgent: 'python-requests/2.32', os: 'Unknown', browser: 'UNKNOWN' },
      geographicalContext: { city: 'Bucharest', country: 'Romania' },
    },
    securityContext: { asNumber: 65001, asOrg: 'far away hosting', isp: 'far away isp', domain: null, isProxy: false },
    target: [{ id: '00unewuser0000000001', type: 'User', alternateId: 'mallory@example.com', displayName: 'Mallory' }],
    transaction: { id: `tx${n}`, type: 'WEB', detail: { requestApiTokenId: tokenId } },
    debugContext: { debugData: { requestUri: '/api/v1/users' } },
    ...overrides,
  };
}

/** A token lifecycle event about `tokenId` by `actor` (Okta's system principal for the expiry). */
function lifecycleEvent(n: number, published: string, type: string, tokenId: string, actor = 'admin2@example.com'): Record<string, unknown> {
  return {
    ...tokenEvent(n, published),
    eventType: type,
    legacyEventType: null,
    displayMessage: 'API token changed',
    actor: { id: '00u00000000000000002', type: 'User', alternateId: actor, displayName: actor === 'system@okta.com' ? 'Okta System' : 'Admin 2' },
    target: [{ id: tokenId, type: 'Token', alternateId: 'unknown', displayName: 'token' }],
    debugContext: { debugData: {} },
  };
}

/** A lifecycle rule as part E defines them (ids from the design); alerts on every event of its type. */
function lifecycleRule(id: string, type: string): Rule {
  return {
    ...RULE,
    id,
    name: `test rule ${id}`,
    filter: `eventType eq "${type}"`,
    eventTypes: [{ type, hookEligible: true }],
    tunable: false,
    tokenFacts: false,
    summarizable: false,
    match: () => ({ match: true }),
  };
}

const LIFECYCLE_RULES: Rule[] = [
  lifecycleRule('okta-api-token-revoked', 'system.api_token.revoke'),
  lifecycleRule('okta-api-token-outside-allowed-range', 'system.api_token.request_outside_allowed_range'),
  lifecycleRule('okta-api-token-enabled', 'system.api_token.enable'),
];

/** The harness's detector with the lifecycle rules added (part E adds them to RULES). */
function detectorWithLifecycle(h: Harness): Detector {
  return createDetector(h.app.config.detect, { orgUrl: 'https://example.okta.com', okta: null, logger: h.app.logger, clock: h.clock, rules: [RULE, ...LIFECYCLE_RULES] });
}

/** Ingests a batch the way a source other than the poller does (push, or a follow page). */
async function feed(h: Harness, entries: Array<Record<string, unknown>>, opts: { source?: 'push' | 'backfill'; detector?: Detector } = {}): Promise<void> {
  const app = h.app;
  const checkpoint: Checkpoint = opts.source === 'backfill' ? { source: 'backfill' } : { source: 'push', receivedAt: h.clock.now() };
  await ingest(
    { store: app.store, detector: opts.detector ?? app.detector, notifiers: app.notifiers.map((n) => n.name), poll: app.config.poll, clock: h.clock, logger: app.logger },
    { entries, tickId: null, checkpoint, alertsSoFar: 0 },
  );
}

const count = (h: Harness, sql: string, ...args: unknown[]): number => (rawDb(h.app.store).prepare(sql).get(...args) as { n: number }).n;
const followUps = (h: Harness, n: number): Promise<FollowUp[]> => h.app.store.followUpsOf(`otw-${uuidFor(n)}`);

/** What part D's follow tick records once it has read every event of the token up to `through`. */
function followedThrough(h: Harness, tokenId: string, through: Date): void {
  rawDb(h.app.store).prepare('UPDATE token_watches SET followed_through = ? WHERE token_id = ?').run(through.toISOString(), tokenId);
}

const closeNow = (h: Harness): Promise<number> => closeEndedWatches({ store: h.app.store, notifiers: h.app.notifiers, clock: h.clock, logger: h.app.logger });

async function withHarness(env: Record<string, string>, fn: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness({ env: { NOTIFIERS: 'console', ...env } });
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/** Polls one successful creation of token n, published 10 minutes ago; returns its published time. */
async function pollCreation(h: Harness, n: number, overrides: Record<string, unknown> = {}): Promise<Date> {
  const published = new Date(h.clock.now().getTime() - 10 * 60_000);
  h.fake.persist(tokenEvent(n, published.toISOString(), overrides));
  const tick = await h.tick();
  assert.equal(tick.ok, true, tick.error);
  return published;
}

describe('the token watch: start and first use', () => {
  test('when a successful token creation is polled, then a watch starts that ends FOLLOW_WINDOW after the creation', async () => {
    await withHarness({ FOLLOW_WINDOW: '2h' }, async (h) => {
      const published = await pollCreation(h, 1);
      const w = await watchOf(h.app.store, tokenOf(1));
      assert.ok(w, 'a watch started');
      assert.equal(w.alertId, `otw-${uuidFor(1)}`);
      assert.equal(w.createdPublished, published.toISOString());
      assert.equal(w.watchUntil, new Date(published.getTime() + 2 * HOUR).toISOString());
      assert.equal(w.tokenName, 'token-1');
      assert.deepEqual([w.closedAt, w.events, w.firstUseAt], [null, 0, null]);
    });
  });

  test('when a creation failed, or FOLLOW_WINDOW is 0, then no watch starts', async () => {
    await withHarness({}, async (h) => {
      await pollCreation(h, 2, { outcome: { result: 'FAILURE', reason: 'denied' } });
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM alerts'), 1, 'the failed attempt still alerts');
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM token_watches'), 0);
    });
    await withHarness({ FOLLOW_WINDOW: '0' }, async (h) => {
      await pollCreation(h, 3);
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM token_watches'), 0);
    });
  });

  test('when a creation comes by push or backfill, then it starts a watch too, and a backfilled one whose window ended already still gets one', async () => {
    await withHarness({ FOLLOW_WINDOW: '1h' }, async (h) => {
      await feed(h, [tokenEvent(4, new Date(h.clock.now().getTime() - 60_000).toISOString())], { source: 'push' });
      assert.ok(await watchOf(h.app.store, tokenOf(4)));
      const old = new Date(h.clock.now().getTime() - 3 * 86_400_000);
      await feed(h, [tokenEvent(5, old.toISOString())], { source: 'backfill' });
      const w = await watchOf(h.app.store, tokenOf(5));
      assert.ok(w);
      assert.equal(w.watchUntil, new Date(old.getTime() + HOUR).toISOString());
      assert.equal(w.closedAt, null, 'open until the follow query has read its window');
    });
  });

  test('when the watched token is used first from another country and network, then one prominent first-use follow-up compares it with the creation, whichever source brings the event and however often', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 10);
      const usedAt = new Date(created.getTime() + 12 * 60_000).toISOString();
      const use = activity(100, usedAt, tokenOf(10));
      await feed(h, [use], { source: 'push' });
      await feed(h, [use], { source: 'backfill' });
      h.fake.persist(use);
      assert.equal((await h.tick()).ok, true);
      await feed(h, [activity(101, new Date(created.getTime() + 20 * 60_000).toISOString(), tokenOf(10), { eventType: 'user.session.start' })], { source: 'backfill' });

      const fus = await followUps(h, 10);
      assert.deepEqual(fus.map((f) => f.kind), ['first-use'], 'one first use, never two');
      const fu = fus[0]!;
      assert.equal(fu.prominent, true);
      assert.deepEqual(fu.signals, ['new-country', 'new-network']);
      assert.equal(fu.token.id, tokenOf(10));
      assert.equal(fu.firstUse!.uuid, uuidFor(100));
      assert.equal(fu.firstUse!.minutesAfterCreation, 12);
      assert.equal(fu.firstUse!.place.country, 'Romania');
      assert.equal(fu.firstUse!.place.asNumber, 65001);
      assert.equal(fu.firstUse!.place.userAgent, 'python-requests/2.32');
      assert.equal(fu.firstUse!.creationPlace.country, 'Netherlands');
      assert.deepEqual([fu.firstUse!.newCountry, fu.firstUse!.newNetwork], [true, true]);
      assert.deepEqual([fu.watch.watching, fu.watch.events, fu.watch.sensitive, fu.watch.minutesToFirstUse, fu.watch.firstUseNewCountry], [true, 1, 1, 12, true]);
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM deliveries WHERE followup_id IS NOT NULL'), 1, 'one delivery per notifier');

      const w = (await watchOf(h.app.store, tokenOf(10)))!;
      assert.deepEqual([w.events, w.sensitive, w.firstUseUuid], [2, 1, uuidFor(100)]);
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM token_activity WHERE token_id = ?', tokenOf(10)), 2);
    });
  });

  test('when the first use comes from where the token was made, then the follow-up is not prominent', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 11);
      const same = tokenEvent(110, new Date(created.getTime() + 60_000).toISOString());
      await feed(h, [activity(110, new Date(created.getTime() + 60_000).toISOString(), tokenOf(11), { client: same.client, securityContext: same.securityContext, eventType: 'group.user_membership.add' })]);
      const [fu] = await followUps(h, 11);
      assert.equal(fu!.prominent, false);
      assert.deepEqual(fu!.signals, []);
      assert.deepEqual([fu!.firstUse!.newCountry, fu!.firstUse!.newNetwork], [false, false]);
      assert.equal(fu!.watch.sensitive, 0);
    });
  });

  test('when a watched token does something no rule watches, then it is stored as activity and not counted as suppressed; another token\'s such event still is', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 12);
      const at = new Date(created.getTime() + 60_000).toISOString();
      await feed(h, [activity(120, at, tokenOf(12)), activity(121, at, '00Tnotwatched0000001')], { source: 'backfill' });
      const suppressed = (n: number): unknown => (rawDb(h.app.store).prepare('SELECT suppressed_by AS s FROM events WHERE uuid = ?').get(uuidFor(n)) as { s: unknown }).s;
      assert.equal(suppressed(120), null);
      assert.match(String(suppressed(121)), /not one the rules watch/);
      assert.equal((await h.app.store.status(11)).suppressed, 1);
    });
  });

  test('when a watched token makes another token, then that is an alert of its own, the parent\'s sensitive activity, and a new watch', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 13);
      const child = tokenEvent(14, new Date(created.getTime() + 5 * 60_000).toISOString(), { transaction: { id: 'tx14', type: 'WEB', detail: { requestApiTokenId: tokenOf(13) } } });
      h.fake.persist(child);
      assert.equal((await h.tick()).newAlerts, 1);
      const [fu] = await followUps(h, 13);
      assert.equal(fu!.firstUse!.eventType, 'system.api_token.create');
      assert.equal(fu!.watch.sensitive, 1);
      assert.ok(await watchOf(h.app.store, tokenOf(14)), 'the new token is watched too');
    });
  });

  test('when the program restarts, then the watch is still there and the next event of the token is its first use', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 15);
      await h.restart();
      await feed(h, [activity(150, new Date(created.getTime() + 2 * HOUR).toISOString(), tokenOf(15))]);
      assert.deepEqual((await followUps(h, 15)).map((f) => f.kind), ['first-use']);
      assert.equal((await followUps(h, 15))[0]!.firstUse!.minutesAfterCreation, 120);
    });
  });

  test('when an event is published after the window, then it is not the watch\'s activity', async () => {
    await withHarness({ FOLLOW_WINDOW: '1h' }, async (h) => {
      const created = await pollCreation(h, 16);
      await feed(h, [activity(160, new Date(created.getTime() + 2 * HOUR).toISOString(), tokenOf(16))], { source: 'backfill' });
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM token_activity'), 0);
      assert.deepEqual(await followUps(h, 16), []);
    });
  });
});

describe('the token watch: hostile events', () => {
  test('when a created token\'s id could break out of the follow query\'s filter, then it alerts but no watch starts (one would never be read, so never close)', async () => {
    await withHarness({}, async (h) => {
      const id = '00T" or eventType eq "user.session.start';
      h.fake.persist(tokenEvent(1, new Date(h.clock.now().getTime() - 60_000).toISOString(), { target: [{ id, type: 'Token', alternateId: 'unknown', displayName: 'odd' }] }));
      const r = await h.tick();
      assert.equal(r.newAlerts, 1);
      assert.equal(await watchOf(h.app.store, id), null);
    });
  });

  test('when requestApiTokenId is not a string (object, number, array, huge text), then nothing is attributed and the batch goes on', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 20);
      const at = new Date(created.getTime() + 60_000).toISOString();
      const odd: unknown[] = [{ toString: tokenOf(20) }, 20, [tokenOf(20)], tokenOf(20) + 'x'.repeat(100_000), null, true];
      await feed(h, odd.map((v, i) => activity(200 + i, at, v)), { source: 'backfill' });
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM events WHERE uuid IN (SELECT value FROM json_each(?))', JSON.stringify(odd.map((_, i) => uuidFor(200 + i)))), odd.length);
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM token_activity'), 0);
      assert.deepEqual(await followUps(h, 20), []);
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM alerts'), 1, 'no event became unreadable');
    });
  });

  test('when every field the first use copies is of a hostile type or size, then the follow-up holds bounded text or null', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 21);
      const huge = '\u202e<script>*x*</script>\r\n'.repeat(20_000);
      await feed(h, [
        activity(210, new Date(created.getTime() + 60_000).toISOString(), tokenOf(21), {
          displayMessage: huge,
          client: { ipAddress: { ip: '1.2.3.4' }, userAgent: { rawUserAgent: huge }, geographicalContext: { city: ['x'], country: 42 } },
          securityContext: { asNumber: '65001; DROP TABLE', asOrg: huge, isp: { x: 1 } },
        }),
      ]);
      const fu = (await followUps(h, 21))[0]!;
      const p = fu.firstUse!.place;
      assert.deepEqual([p.ip, p.city, p.country, p.asNumber, p.isp], [null, null, '42', null, null]);
      assert.ok(p.asOrg!.length <= 200 && p.userAgent!.length <= 500 && fu.firstUse!.displayMessage!.length <= 1000);
      assert.equal(fu.firstUse!.newNetwork, null, 'unknown network: no claim either way');
    });
  });

  test('when a watched token\'s event has an odd eventType or published time, then it is still counted, with a safe type', async () => {
    await withHarness({}, async (h) => {
      await pollCreation(h, 22);
      await feed(h, [activity(220, 'not a time', tokenOf(22), { eventType: `zone.update${'x'.repeat(5000)}` })], { source: 'backfill' });
      const row = rawDb(h.app.store).prepare('SELECT event_type AS t, published, sensitive FROM token_activity').get() as { t: string; published: string; sensitive: string | null };
      assert.ok(row.t.length <= 200);
      // Stored at the time this program saw it: text that is not a time would sort after every real one.
      assert.equal(row.published, h.clock.now().toISOString());
      assert.equal(row.sensitive, null, 'an over-long type is not trusted as a category');
    });
  });
});

describe('the token watch: lifecycle', () => {
  test('when a token we alerted on is revoked, then it is a follow-up of that alert with who did it, not an alert; a token we never saw made alerts on its own', async () => {
    await withHarness({}, async (h) => {
      const detector = detectorWithLifecycle(h);
      const created = await pollCreation(h, 30);
      const at = new Date(created.getTime() + HOUR).toISOString();
      await feed(h, [lifecycleEvent(300, at, 'system.api_token.revoke', tokenOf(30)), lifecycleEvent(301, at, 'system.api_token.revoke', '00Tneverseen00000001')], { detector });

      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM alerts WHERE event_uuid = ?', uuidFor(300)), 0, 'no alert of its own');
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM alerts WHERE event_uuid = ?', uuidFor(301)), 1, 'the unknown token alerts');
      const [fu] = await followUps(h, 30);
      assert.equal(fu!.kind, 'lifecycle');
      assert.equal(fu!.lifecycle!.change, 'revoked');
      assert.equal(fu!.lifecycle!.actor!.login, 'admin2@example.com');
      assert.deepEqual([fu!.watch.revokedAt, fu!.watch.revokedBy], [at, 'admin2@example.com']);
      assert.equal((await h.app.store.status(11)).suppressed, 0, 'a follow-up is not a suppression');
    });
  });

  test('when Okta\'s system principal revokes the token, then the follow-up says it expired, not that a person revoked it', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 31);
      await feed(h, [lifecycleEvent(310, new Date(created.getTime() + HOUR).toISOString(), 'system.api_token.revoke', tokenOf(31), 'system@okta.com')], { detector: detectorWithLifecycle(h) });
      const [fu] = await followUps(h, 31);
      assert.equal(fu!.lifecycle!.change, 'expired');
      assert.equal(fu!.watch.revokedBy, 'expired');
    });
  });

  test('when a request with the token comes from outside its allowed range, then the follow-up is prominent; the same for a token whose creation started no watch', async () => {
    await withHarness({ FOLLOW_WINDOW: '0' }, async (h) => {
      const created = await pollCreation(h, 32);
      await feed(h, [lifecycleEvent(320, new Date(created.getTime() + HOUR).toISOString(), 'system.api_token.request_outside_allowed_range', tokenOf(32))], { detector: detectorWithLifecycle(h) });
      const [fu] = await followUps(h, 32);
      assert.equal(fu!.lifecycle!.change, 'outside-range');
      assert.deepEqual([fu!.prominent, fu!.signals], [true, ['outside-range']]);
      assert.equal(fu!.watch.watching, false);
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM alerts'), 1);
    });
  });

  test('when a lifecycle event of a watched token carries hostile types, then its follow-up holds bounded text or null', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 36);
      const huge = '*bold* <b>\u202e'.repeat(10_000);
      await feed(h, [{
        ...lifecycleEvent(360, new Date(created.getTime() + HOUR).toISOString(), 'system.api_token.revoke', tokenOf(36)),
        actor: { id: ['00u1'], alternateId: { login: 'x' }, displayName: huge },
        outcome: { result: 7 },
        client: 'not an object',
        debugContext: { debugData: { networkConnection: { a: 1 }, includedZones: huge } },
      }], { detector: detectorWithLifecycle(h) });
      const fu = (await followUps(h, 36))[0]!;
      assert.deepEqual([fu.lifecycle!.actor!.id, fu.lifecycle!.actor!.login], [null, null]);
      assert.ok(fu.lifecycle!.actor!.displayName!.length <= 300);
      assert.equal(fu.lifecycle!.outcome, '7');
      assert.equal(fu.lifecycle!.place.ip, null);
      assert.ok(fu.lifecycle!.network!.includedZones.length <= 50);
      assert.equal(fu.watch.revokedBy, null, 'an outcome that is not SUCCESS does not mark the token revoked');
    });
  });

  test('when a revoke failed, then it is told as a follow-up but the token is not marked revoked and its watch goes on', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 35);
      followedThrough(h, tokenOf(35), new Date(created.getTime() + 2 * HOUR));
      const failed = { ...lifecycleEvent(350, new Date(created.getTime() + HOUR).toISOString(), 'system.api_token.revoke', tokenOf(35)), outcome: { result: 'FAILURE', reason: 'denied' } };
      await feed(h, [failed], { detector: detectorWithLifecycle(h) });
      const [fu] = await followUps(h, 35);
      assert.equal(fu!.lifecycle!.outcome, 'FAILURE');
      assert.deepEqual([fu!.watch.revokedAt, fu!.watch.watching], [null, true]);
      assert.equal((await watchOf(h.app.store, tokenOf(35)))!.closedAt, null);
    });
  });

  test('when the revoke is read after every event of the token up to it, then the watch closes and one digest is queued, after the lifecycle follow-up', async () => {
    await withHarness({}, async (h) => {
      const detector = detectorWithLifecycle(h);
      const created = await pollCreation(h, 33);
      await feed(h, [activity(330, new Date(created.getTime() + 60_000).toISOString(), tokenOf(33))], { source: 'backfill' });
      const revokedAt = new Date(created.getTime() + HOUR);
      // Read until a minute after the revoke: Okta may still store events of before it (LOOKBACK).
      followedThrough(h, tokenOf(33), new Date(revokedAt.getTime() + 60_000));
      await feed(h, [lifecycleEvent(331, revokedAt.toISOString(), 'system.api_token.revoke', tokenOf(33))], { detector });
      // A second revoke event (Okta retried, or a push and a poll of two copies) says nothing new.
      await feed(h, [lifecycleEvent(332, revokedAt.toISOString(), 'system.api_token.revoke', tokenOf(33))], { detector });
      assert.equal(await closeNow(h), 0, 'not read far enough past the revoke yet');
      followedThrough(h, tokenOf(33), new Date(revokedAt.getTime() + 7 * 60_000));
      assert.equal(await closeNow(h), 1);
      assert.equal(await closeNow(h), 0, 'closed once');

      const kinds = (await followUps(h, 33)).map((f) => f.kind);
      assert.deepEqual(kinds, ['first-use', 'lifecycle', 'lifecycle', 'digest']);
      const digest = (await followUps(h, 33)).find((f) => f.kind === 'digest')!;
      assert.equal(digest.digest!.reason, 'revoked');
      assert.equal(digest.digest!.windowEnd, revokedAt.toISOString());
      assert.equal(digest.digest!.total, 1);
      assert.deepEqual([digest.watch.watching, digest.watch.closed, digest.watch.revokedBy], [false, 'revoked', 'admin2@example.com']);
      assert.equal((await watchOf(h.app.store, tokenOf(33)))!.closeReason, 'revoked');
    });
  });

  test('when the revoke arrives before the follow query read the token\'s last events, then the digest waits for them and says revoked', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 34);
      const revokedAt = new Date(created.getTime() + HOUR);
      await feed(h, [lifecycleEvent(340, revokedAt.toISOString(), 'system.api_token.revoke', tokenOf(34), 'system@okta.com')], { detector: detectorWithLifecycle(h) });
      assert.equal(await closeNow(h), 0, 'not read through the revoke yet');
      // The follow query then brings what the token did just before it was revoked.
      await feed(h, [activity(341, new Date(revokedAt.getTime() - 60_000).toISOString(), tokenOf(34), { eventType: 'user.account.privilege.grant' })], { source: 'backfill' });
      followedThrough(h, tokenOf(34), new Date(revokedAt.getTime() + 7 * 60_000));
      assert.equal(await closeNow(h), 1);
      const digest = (await followUps(h, 34)).find((f) => f.kind === 'digest')!;
      assert.equal(digest.digest!.reason, 'expired');
      assert.equal(digest.digest!.sensitiveCount, 1);
      assert.equal(digest.digest!.sensitive[0]!.category, 'admin-privilege');
      assert.equal(digest.prominent, true);
    });
  });
});

describe('the token watch: the digest at the end of the window', () => {
  test('when the follow query has read past the window\'s end, then closeEndedWatches closes the watch once and queues a digest with counts and the sensitive actions', async () => {
    await withHarness({ FOLLOW_WINDOW: '2h' }, async (h) => {
      const created = await pollCreation(h, 40);
      const at = (min: number): string => new Date(created.getTime() + min * 60_000).toISOString();
      const events = [
        activity(400, at(1), tokenOf(40)),
        activity(401, at(2), tokenOf(40), { eventType: 'user.session.start' }),
        activity(402, at(3), tokenOf(40), { eventType: 'user.session.start' }),
        activity(403, at(4), tokenOf(40), { eventType: 'policy.rule.delete', target: [{ id: 'rul1', type: 'PolicyRule', displayName: 'Require MFA' }] }),
        activity(404, at(5), tokenOf(40), { eventType: 'zone.update' }),
      ];
      await feed(h, events, { source: 'backfill' });
      for (let i = 0; i < 30; i++) await feed(h, [activity(500 + i, at(10 + i), tokenOf(40), { eventType: `custom.type.${i}` })], { source: 'backfill' });

      followedThrough(h, tokenOf(40), new Date(created.getTime() + HOUR));
      assert.equal(await closeNow(h), 0, 'the window has not been read to its end');
      followedThrough(h, tokenOf(40), new Date(created.getTime() + 2 * HOUR + 1000));
      assert.equal(await closeNow(h), 0, 'Okta may still store events of the window\'s last minutes (LOOKBACK)');
      followedThrough(h, tokenOf(40), new Date(created.getTime() + 2 * HOUR + 6 * 60_000 + 1000));
      assert.equal(await closeNow(h), 1);
      assert.equal(await closeNow(h), 0, 'closed once');

      const digests = (await followUps(h, 40)).filter((f) => f.kind === 'digest');
      assert.equal(digests.length, 1);
      const d = digests[0]!.digest!;
      assert.equal(d.reason, 'window-ended');
      assert.equal(d.total, 35);
      assert.equal(d.typeCount, 34);
      assert.equal(d.byType.length, 15);
      assert.deepEqual(d.byType[0], { eventType: 'user.session.start', count: 2 });
      assert.deepEqual(d.sensitive.map((s) => [s.category, s.eventType]), [
        ['user-created', 'user.lifecycle.create'],
        ['policy-changed', 'policy.rule.delete'],
        ['network-zone-changed', 'zone.update'],
      ]);
      assert.equal(d.sensitive[1]!.target, 'Require MFA');
      assert.equal(d.sensitiveCount, 3);
      assert.deepEqual([d.firstUseAt, d.lastUseAt], [at(1), at(39)]);
      assert.deepEqual(digests[0]!.signals, ['sensitive-actions']);
      assert.equal(digests[0]!.watch.closed, 'window-ended');
      // A closed watch takes no more activity.
      await feed(h, [activity(600, at(50), tokenOf(40))], { source: 'backfill' });
      assert.equal((await watchOf(h.app.store, tokenOf(40)))!.events, 35);
    });
  });

  test('when FOLLOW_WINDOW is turned to 0 after watches started, then they close as off, without a digest, and no new one starts', async () => {
    await withHarness({}, async (h) => {
      await pollCreation(h, 43);
      await h.restart({ FOLLOW_WINDOW: '0' });
      assert.equal(h.app.closeEndedWatches(), 1);
      assert.equal((await watchOf(h.app.store, tokenOf(43)))!.closeReason, 'off');
      assert.deepEqual(await followUps(h, 43), []);
      await pollCreation(h, 44);
      assert.equal(await watchOf(h.app.store, tokenOf(44)), null);
    });
  });

  test('when a watch has more sensitive actions than the digest names, then it names the first 20 and counts them all', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 41);
      const events = Array.from({ length: 25 }, (_, i) => activity(700 + i, new Date(created.getTime() + (i + 1) * 60_000).toISOString(), tokenOf(41), { eventType: 'user.account.privilege.grant' }));
      await feed(h, events, { source: 'backfill' });
      followedThrough(h, tokenOf(41), new Date(created.getTime() + 25 * HOUR));
      assert.equal(await closeNow(h), 1);
      const d = (await followUps(h, 41)).find((f) => f.kind === 'digest')!.digest!;
      assert.equal(d.sensitive.length, 20);
      assert.equal(d.sensitiveCount, 25);
      assert.equal(d.sensitive[0]!.uuid, uuidFor(700));
    });
  });

  test('when a digest is queued, then its delivery waits for the alert and goes out after the first use', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 42);
      await feed(h, [activity(420, new Date(created.getTime() + 60_000).toISOString(), tokenOf(42))], { source: 'backfill' });
      followedThrough(h, tokenOf(42), new Date(created.getTime() + 25 * HOUR));
      await closeNow(h);
      await h.app.dispatcher.runOnce();
      const lines = h.stdout.json().filter((l) => JSON.stringify(l).includes(tokenOf(42)));
      const kinds = lines.map((l) => (l.type as string | undefined) ?? (l.followup as { kind?: string } | undefined)?.kind ?? 'alert');
      assert.ok(kinds.length >= 3, JSON.stringify(kinds));
      assert.equal(count(h, "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'sent'"), 3);
      const alertLine = lines.findIndex((l) => (l as { alert?: Alert }).alert !== undefined || l.id === `otw-${uuidFor(42)}`);
      assert.equal(alertLine, 0, 'the alert first');
    });
  });
});

describe('FOLLOW_WINDOW', () => {
  const parse = (value: string | undefined): number | undefined =>
    parseConfig({ DB_PATH: '/tmp/otw-unused.sqlite', ...(value === undefined ? {} : { FOLLOW_WINDOW: value }) }, { requireOkta: false }).poll.followWindowMs;

  test('when it is unset, a duration or 0, then it is 24h, that duration, or off', () => {
    assert.equal(parse(undefined), 24 * HOUR);
    assert.equal(parse('90m'), 90 * 60_000);
    assert.equal(parse('0'), 0);
    assert.equal(parse('0h'), 0);
  });

  test('when it is not a duration or longer than the retention, then start-up stops with one sentence naming it, never its value', () => {
    for (const bad of ['soon-FAKE-value', '91d', '-1h']) {
      assert.throws(
        () => parse(bad),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.problems.length, 1);
          assert.match(err.problems[0]!, /^FOLLOW_WINDOW /);
          assert.ok(!err.problems[0]!.includes(bad), 'the value is not echoed');
          return true;
        },
      );
    }
  });
});

describe('FOLLOW_SETTLE', () => {
  const parse = (env: Record<string, string>): number | undefined =>
    parseConfig({ DB_PATH: '/tmp/otw-unused.sqlite', ...env }, { requireOkta: false }).poll.followSettleMs;

  test('when it is unset, then it is LOOKBACK; set, it is that duration; over 24h, start-up stops naming it', () => {
    assert.equal(parse({}), 6 * 60_000);
    assert.equal(parse({ LOOKBACK: '20m' }), 20 * 60_000);
    assert.equal(parse({ LOOKBACK: '7d' }), 24 * HOUR, 'a long LOOKBACK is no reason to refuse an unset FOLLOW_SETTLE');
    assert.equal(parse({ FOLLOW_SETTLE: '30s' }), 30_000);
    assert.throws(() => parse({ FOLLOW_SETTLE: '2d' }), (err: unknown) => err instanceof ConfigError && /^FOLLOW_SETTLE /.test(err.problems[0]!));
  });
});

describe('status --alerts shows each alert\'s watch', () => {
  test('when a token was used and revoked, then its alert line is followed by its watch: first use where, counts, who revoked it, and event text made visible', async () => {
    await withHarness({}, async (h) => {
      const created = await pollCreation(h, 50);
      await pollCreation(h, 51);
      await feed(h, [activity(500, new Date(created.getTime() + 12 * 60_000).toISOString(), tokenOf(50), { client: { ipAddress: '203.0.113.9', geographicalContext: { city: 'Bucharest', country: 'Roma\u202Enia\u001b[2J' } } })]);
      await feed(h, [lifecycleEvent(501, new Date(created.getTime() + HOUR).toISOString(), 'system.api_token.revoke', tokenOf(50), 'sec\u001b]0;x\u0007@example.com')], { detector: detectorWithLifecycle(h) });
      await h.app.close();

      const r = await runCli(['status', '--alerts'], h.env);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /[\u001b\u0007\u202E]/);
      const lines = r.stdout.split('\n');
      const at = lines.findIndex((l) => l.includes(`otw-${uuidFor(50)}`));
      assert.ok(at >= 0);
      const watch = lines[at + 1]!;
      assert.match(watch, /^ {6}watch: watching until \S+; first used 12 min after creation from 203\.0\.113\.9 \(Bucharest, Roma<U\+202E>nia<U\+001B>\[2J, AS65001 far away hosting\) \[new country, new network\]; 1 event\(s\), 1 sensitive; revoked at \S+ by sec.*@example\.com$/);
      assert.match(lines[lines.findIndex((l) => l.includes(`otw-${uuidFor(51)}`)) + 1]!, /watching until \S+; no use seen; 0 event\(s\), 0 sensitive$/);

      const json = await runCli(['status', '--alerts', '--json'], h.env);
      const parsed = JSON.parse(json.stdout) as { alerts: Array<{ id: string; watch: { events: number; revokedBy: string; firstUse: { place: { ip: string } } } | null }> };
      const a = parsed.alerts.find((x) => x.id === `otw-${uuidFor(50)}`)!;
      assert.equal(a.watch!.events, 1);
      assert.equal(a.watch!.firstUse.place.ip, '203.0.113.9');
      assert.equal(a.watch!.revokedBy, 'sec\u001b]0;x\u0007@example.com', 'the JSON keeps the exact text, escaped');
    });
  });
});
