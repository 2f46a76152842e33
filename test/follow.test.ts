import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import { describe, test } from 'node:test';
import { followDepsFor } from '../src/app';
import { Daemon } from '../src/daemon';
import { FOLLOW_FILTER_MAX_CHARS, groupWatches, runFollowTick, type FollowResult } from '../src/ingest/follow';
import { otherEvent, tokenEvent, uuidFor } from './helpers/events';
import { FakeClock } from '../src/clock';
import { runCli, startHarness, type Harness } from './helpers/harness';

const iso = (h: Harness, offsetMs = 0): string => new Date(h.clock.now().getTime() + offsetMs).toISOString();
const tokenIdOf = (n: number): string => `00T${String(n).padStart(17, '0')}`;
const FOLLOW = 'transaction.detail.requestApiTokenId';

/** Creations from..from+count-1, polled once so each has its alerts row, and a watch row per token (ingest writes these in production: OR IGNORE keeps the test true once it does). */
async function watchTokens(h: Harness, from: number, count: number): Promise<void> {
  const created = iso(h, -60_000);
  h.fake.persist(...Array.from({ length: count }, (_, i) => tokenEvent(from + i, created)));
  const r = await h.tick();
  assert.equal(r.ok, true, r.error);
  const alertOf = rawDb(h.app.store).prepare('SELECT id FROM alerts WHERE event_uuid = ?');
  const insert = rawDb(h.app.store).prepare(
    `INSERT OR IGNORE INTO token_watches (token_id, alert_id, created_published, watch_until, started_at, followed_through) VALUES (?, ?, ?, ?, ?, ?)`,
  );
  for (let n = from; n < from + count; n++) {
    const alert = alertOf.get(uuidFor(n)) as { id: number };
    insert.run(tokenIdOf(n), alert.id, created, new Date(Date.parse(created) + 86_400_000).toISOString(), iso(h), null);
  }
}

/** An event made with watched token `tokenN` (a type no rule watches). */
function activity(n: number, tokenN: number, published: string, type = 'group.user_membership.add'): Record<string, unknown> {
  return { ...otherEvent(n, published), eventType: type, transaction: { id: `tx${n}`, type: 'WEB', detail: { requestApiTokenId: tokenIdOf(tokenN) } } };
}

const followRequests = (h: Harness) => h.fake.logRequests().filter((r) => (r.query.get('filter') ?? '').includes(FOLLOW) || (r.query.get('after') !== null && (r.query.get('filter') ?? '').includes(FOLLOW)));

function follow(h: Harness, extra: Partial<Parameters<typeof runFollowTick>[0]> = {}): Promise<FollowResult> {
  return runFollowTick({ ...followDepsFor(h.app), ...extra });
}

function watchRow(h: Harness, n: number): { followed_through: string | null } {
  return rawDb(h.app.store).prepare('SELECT followed_through FROM token_watches WHERE token_id = ?').get(tokenIdOf(n)) as { followed_through: string | null };
}

const cursorRows = (h: Harness): Array<{ group_key: string; next_url: string }> =>
  rawDb(h.app.store).prepare('SELECT group_key, next_url FROM follow_cursors ORDER BY group_key').all() as Array<{ group_key: string; next_url: string }>;

describe('following watched tokens', () => {
  test('when no watch is open, then the follow tick asks Okta nothing', async () => {
    const h = await startHarness();
    try {
      await h.tick();
      const before = h.fake.logRequests().length;
      const r = await follow(h);
      assert.equal(r.outcome, 'idle');
      assert.equal(r.tickId, null);
      assert.equal(h.fake.logRequests().length, before);
    } finally {
      await h.close();
    }
  });

  test('when 50 tokens are watched, then one request covers them all, starts LOOKBACK before the creations on Okta\'s clock, and its first empty page sets followed_through in the same commit as the cursor', async () => {
    const h = await startHarness({ env: { LOOKBACK: '10m' } });
    try {
      await watchTokens(h, 1, 50);
      const before = h.fake.logRequests().length;
      const r = await follow(h);
      assert.equal(r.outcome, 'ok', r.error);
      assert.equal(h.fake.logRequests().length - before, 1);
      const q = h.fake.logRequests().at(-1)!.query;
      const filter = q.get('filter')!;
      assert.equal(filter, Array.from({ length: 50 }, (_, i) => `${FOLLOW} eq "${tokenIdOf(i + 1)}"`).join(' or '));
      assert.equal(q.get('since'), iso(h, -60_000 - 600_000));
      assert.equal(q.get('sortOrder'), 'ASCENDING');
      assert.equal(q.get('until'), null);
      // The fake's Date agrees with the fake clock: Okta's time less the header's one-second margin.
      const through = iso(h, -1000);
      for (const n of [1, 25, 50]) assert.equal(watchRow(h, n).followed_through, through);
      assert.equal(cursorRows(h).length, 1);
      assert.equal((await h.app.store.lastTick('follow'))?.result, 'ok');
    } finally {
      await h.close();
    }
  });

  test('when a watched token acts, then its events are stored with source follow, a creation it made alerts once, and the next tick resumes from the group cursor', async () => {
    const h = await startHarness();
    try {
      await watchTokens(h, 1, 3);
      await follow(h);
      h.clock.advance(60_000);
      // Made with token 2: a membership change (no rule) and a new token (the creation rule).
      h.fake.persist(activity(100, 2, iso(h, -1000)), { ...tokenEvent(101, iso(h, -500)), transaction: { id: 'tx101', type: 'WEB', detail: { requestApiTokenId: tokenIdOf(2) } } });
      const r = await follow(h);
      assert.equal(r.outcome, 'ok', r.error);
      assert.equal(r.newEvents, 2);
      assert.equal(r.newAlerts, 1);
      const resumed = followRequests(h).at(-2)!;
      assert.ok(resumed.query.get('after'), 'resumed from the stored cursor');
      assert.equal(resumed.query.get('since'), null);
      const sources = rawDb(h.app.store).prepare('SELECT uuid, source FROM events WHERE uuid IN (?, ?) ORDER BY uuid').all(uuidFor(100), uuidFor(101)) as Array<{ source: string }>;
      assert.deepEqual(sources.map((s) => s.source), ['follow', 'follow']);
      const alert = rawDb(h.app.store).prepare('SELECT source FROM alerts WHERE event_uuid = ?').get(uuidFor(101)) as { source: string };
      assert.equal(alert.source, 'follow');
      // The poll tick sees the same creation afterwards: stored once, alerted once.
      const p = await h.tick();
      assert.equal(p.newAlerts, 0);
    } finally {
      await h.close();
    }
  });

  test('when the program restarts, then the follow tick resumes from the stored group cursor', async () => {
    const h = await startHarness();
    try {
      await watchTokens(h, 1, 2);
      await follow(h);
      const cursor = cursorRows(h)[0]!.next_url;
      await h.restart();
      h.clock.advance(60_000);
      h.fake.persist(activity(200, 1, iso(h, -1000)));
      const r = await follow(h);
      assert.equal(r.outcome, 'ok', r.error);
      assert.equal(r.newEvents, 1);
      assert.equal(followRequests(h).at(-2)!.url.endsWith(new URL(cursor).search), true, 'the first request after the restart is the stored cursor');
    } finally {
      await h.close();
    }
  });

  test('when the group changes, then its old cursor is dropped and the new group starts by time from its earliest unread time', async () => {
    const h = await startHarness({ env: { LOOKBACK: '10m' } });
    try {
      await watchTokens(h, 1, 2);
      await follow(h);
      const oldKey = cursorRows(h)[0]!.group_key;
      const through = watchRow(h, 1).followed_through!;
      h.clock.advance(3_600_000);
      await watchTokens(h, 3, 1);
      const r = await follow(h);
      assert.equal(r.outcome, 'ok', r.error);
      const q = followRequests(h).at(-1)!.query;
      assert.equal(q.get('after'), null);
      // Tokens 1 and 2 are read through an hour ago, token 3 (a minute old) not at all: the
      // group reads from its earliest unread time, minus LOOKBACK.
      assert.equal(q.get('since'), new Date(Date.parse(through) - 600_000).toISOString());
      assert.equal(q.get('filter')!.split(' or ').length, 3);
      assert.deepEqual(cursorRows(h).map((c) => c.group_key).includes(oldKey), false);
      assert.equal(cursorRows(h).length, 1);
    } finally {
      await h.close();
    }
  });

  test('when more ids are watched than one filter holds, then they are split into groups within the bound, each id in exactly one, one request per group', async () => {
    const h = await startHarness({ env: { MAX_ALERTS_PER_RUN: '1000' } });
    try {
      await watchTokens(h, 1, 120);
      const before = h.fake.logRequests().length;
      const r = await follow(h);
      assert.equal(r.outcome, 'ok', r.error);
      const asked = h.fake.logRequests().slice(before);
      assert.equal(asked.length, r.groups);
      assert.ok(r.groups >= 2);
      const seen = asked.flatMap((a) => {
        const f = a.query.get('filter')!;
        assert.ok(f.length <= FOLLOW_FILTER_MAX_CHARS, `filter of ${f.length} chars`);
        return f.split(' or ').map((t) => /"([^"]+)"/.exec(t)![1]);
      });
      assert.deepEqual([...seen].sort(), Array.from({ length: 120 }, (_, i) => tokenIdOf(i + 1)).sort());
      assert.equal(cursorRows(h).length, r.groups);
    } finally {
      await h.close();
    }
  });

  test('when a watched token id is not a plain Okta id, then it never enters a filter and is logged once', () => {
    const hostile = 'x" or eventType eq "user.session.start';
    const { groups, unsafe } = groupWatches([
      { tokenId: tokenIdOf(1), createdPublished: '2026-11-28T11:00:00.000Z', followedThrough: null, watchUntil: '2026-11-29T11:00:00.000Z' },
      { tokenId: hostile, createdPublished: '2026-11-28T10:00:00.000Z', followedThrough: null, watchUntil: '2026-11-29T10:00:00.000Z' },
    ]);
    assert.deepEqual(unsafe, [hostile]);
    assert.equal(groups.length, 1);
    assert.equal(groups[0]!.filter, `${FOLLOW} eq "${tokenIdOf(1)}"`);
    assert.equal(groups[0]!.baseMs, Date.parse('2026-11-28T11:00:00.000Z'));
  });

  test('when the last response left less than the rate-limit headroom, then the follow tick makes no request and says it skipped', async () => {
    const h = await startHarness({ env: { OKTA_RATE_LIMIT_HEADROOM_PERCENT: '20' } });
    try {
      await watchTokens(h, 1, 2);
      // The poll tick's response reports 5 of 50 left: under 20 %.
      h.fake.remainingOverride = 5;
      const p = await h.tick();
      assert.equal(p.ok, true);
      const before = h.fake.logRequests().length;
      const sleeps = h.clock.sleeps.length;
      const r = await follow(h);
      assert.equal(r.outcome, 'skipped');
      assert.equal(h.fake.logRequests().length, before);
      assert.equal(h.clock.sleeps.length, sleeps, 'the follow tick never waits for the reset');
      assert.equal(watchRow(h, 1).followed_through, null);
      assert.ok(h.logs.json().some((l) => String(l.msg ?? l.message).includes('follow queries of watched tokens wait')));
    } finally {
      await h.close();
    }
  });

  test('when a follow query fails, then its cursor stays, the tick is recorded failed, and the next tick resumes from the same cursor', async () => {
    const h = await startHarness({ env: { OKTA_MAX_RETRIES: '1' } });
    try {
      await watchTokens(h, 1, 2);
      await follow(h);
      const cursor = cursorRows(h)[0]!.next_url;
      const through = watchRow(h, 1).followed_through;
      h.clock.advance(60_000);
      h.fake.persist(activity(300, 2, iso(h, -1000)));
      h.fake.failStatus(2, 503);
      const r = await follow(h);
      assert.equal(r.outcome, 'incomplete');
      assert.equal(r.failedGroups, 1);
      assert.match(r.error!, /503/);
      assert.equal(cursorRows(h)[0]!.next_url, cursor);
      assert.equal(watchRow(h, 1).followed_through, through);
      assert.equal((await h.app.store.lastTick('follow'))?.result, 'failed');
      const again = await follow(h);
      assert.equal(again.outcome, 'ok', again.error);
      assert.equal(again.newEvents, 1);
    } finally {
      await h.close();
    }
  });

  test('when Okta rejects the follow cursor, then the group restarts once from a time-based query', async () => {
    const h = await startHarness();
    try {
      await watchTokens(h, 1, 2);
      await follow(h);
      h.fake.expireCursors();
      h.clock.advance(60_000);
      h.fake.persist(activity(400, 1, iso(h, -1000)));
      const r = await follow(h);
      assert.equal(r.outcome, 'ok', r.error);
      assert.equal(r.newEvents, 1);
      const last = followRequests(h).slice(-3);
      assert.equal(last[0]!.status, 400);
      assert.ok(last[1]!.query.get('since'));
    } finally {
      await h.close();
    }
  });

  test('when the daemon ticks, then the follow query runs after the poll query, a follow failure leaves the poll tick ok, and onCaughtUp runs after a follow that caught up', async () => {
    const h = await startHarness({ env: { OKTA_MAX_RETRIES: '0' } });
    try {
      await watchTokens(h, 1, 2);
      let caughtUp = 0;
      h.app.onFollowCaughtUp = () => {
        caughtUp++;
      };
      const daemon = new Daemon(h.app);
      const before = h.fake.logRequests().length;
      await daemon.tick();
      await daemon.followSettled();
      const asked = h.fake.logRequests().slice(before);
      assert.equal(asked.length, 2);
      assert.ok(!asked[0]!.query.get('filter')!.includes(FOLLOW), 'the poll query goes first');
      assert.ok(asked[1]!.query.get('filter')!.includes(FOLLOW));
      assert.equal(daemon.lastResult?.ok, true);
      assert.equal(daemon.lastFollow?.outcome, 'ok');
      assert.equal(caughtUp, 1);

      // The poll request succeeds, the follow request fails: the poll tick is still ok.
      h.clock.advance(300_000);
      h.fake.failAt(h.fake.logRequests().length + 2, { kind: 'status', status: 500, errorCode: 'E0000009', errorSummary: 'Internal Server Error' });
      await daemon.tick();
      await daemon.followSettled();
      assert.equal(daemon.lastResult?.ok, true);
      assert.equal(daemon.lastFollow?.outcome, 'incomplete');
      assert.equal(caughtUp, 1);
      await daemon.stop();
    } finally {
      await h.close();
    }
  });

  test('when a follow query hangs, then the next poll tick of the daemon runs anyway and the hanging follow is not started twice', async () => {
    const h = await startHarness();
    try {
      await watchTokens(h, 1, 2);
      const daemon = new Daemon(h.app);
      // Request n+1 is the poll, n+2 the follow query: it answers only after 1.5 s (real time).
      h.fake.failAt(h.fake.logRequests().length + 2, { kind: 'hang', ms: 1500 });
      await daemon.tick();
      const first = daemon.lastResult!;
      h.clock.advance(300_000);
      await daemon.tick();
      assert.equal(daemon.lastResult!.ok, true);
      assert.notEqual(daemon.lastResult!.tickId, first.tickId);
      // Read through a function: an assert on the field would narrow it to null for the rest of the test.
      const lastFollow = (): FollowResult | null => daemon.lastFollow;
      assert.equal(lastFollow(), null, 'the first follow tick is still waiting for Okta');
      assert.ok(h.logs.json().some((l) => String(l.msg ?? l.message).includes('previous follow tick is still running')));
      await daemon.followSettled();
      assert.equal(lastFollow()?.outcome, 'ok');
      await daemon.stop();
    } finally {
      await h.close();
    }
  });

  test('when the one-shot poll runs, then it follows the watched tokens after polling, a failed follow query leaves its exit code 0, and status shows the follow tick', async () => {
    // The CLI child runs on the real clock: the fake Okta's clock starts there too.
    const h = await startHarness({ clock: new FakeClock(Date.now()), env: { OKTA_MAX_RETRIES: '0', NOTIFIERS: 'console' } });
    try {
      await watchTokens(h, 1, 2);
      await h.app.close();
      const before = h.fake.logRequests().length;
      h.fake.persist(activity(500, 1, iso(h, -1000)));
      const ok = await runCli(['poll'], h.env);
      assert.equal(ok.code, 0, ok.stderr);
      const asked = h.fake.logRequests().slice(before);
      // The poll query, then the follow query: a page with the token's event, then the empty page.
      assert.deepEqual(asked.map((r) => (r.query.get('filter') ?? '').includes(FOLLOW)), [false, true, true]);
      let status = await runCli(['status'], h.env);
      assert.match(status.stdout, /^follow {10}2 token\(s\) watched; last follow tick ok at .*: 2 page\(s\), 2 request\(s\), 1 event\(s\)/m);

      h.fake.failAt(h.fake.logRequests().length + 2, { kind: 'status', status: 500, errorCode: 'E0000009', errorSummary: 'Internal Server Error' });
      const failed = await runCli(['poll'], h.env);
      assert.equal(failed.code, 0, failed.stderr);
      assert.match(failed.stderr, /a follow query of watched tokens failed/);
      status = await runCli(['status'], h.env);
      assert.match(status.stdout, /^follow {10}2 token\(s\) watched; last follow tick failed at .*error: .*500/m);
    } finally {
      await h.fake.stop();
    }
  });
});
