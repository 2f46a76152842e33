import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { describe, test } from 'node:test';
import { SlackInbox } from '../src/slack-app/inbox';
import { Store } from '../src/store/store';
import { forEachEngine } from './helpers/engines';

const TTL = 120_000;
const NOW = new Date();

/** A replica row seen `agoMs` before the database's now. */
async function seen(store: Store, holder: string, agoMs: number): Promise<void> {
  const at = new Date((await store.db.now()).getTime() - agoMs).toISOString();
  await store.sql.run('INSERT INTO replicas (holder, host, pid, started_at, seen_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (holder) DO UPDATE SET seen_at = excluded.seen_at', [holder, 'h', 1, at, at]);
}

const click = (n: number): unknown => ({ type: 'block_actions', n });

forEachEngine((engine) =>
  describe(`the Slack inbox shared by replicas on ${engine.name}`, () => {
    test('when a live replica received a click, then another replica leaves it alone; once that replica is gone, exactly one other replica takes it', async () => {
      const [dbA, dbB] = await engine.openPair();
      const a = new Store(dbA);
      const b = new Store(dbB);
      const inboxA = new SlackInbox(a, { holder: 'host-a:101:aaaaaaaa', ttlMs: TTL });
      const inboxB = new SlackInbox(b, { holder: 'host-b:202:bbbbbbbb', ttlMs: TTL });
      const inboxC = new SlackInbox(b, { holder: 'host-c:303:cccccccc', ttlMs: TTL });
      for (const holder of ['host-a:101:aaaaaaaa', 'host-b:202:bbbbbbbb', 'host-c:303:cccccccc']) await seen(a, holder, 0);
      assert.equal(await inboxA.receive('E1', click(1), NOW), true);
      assert.deepEqual(await inboxB.claimLeft(), [], 'a click of a live replica is its own to finish (acting on it too would record the acknowledgement twice)');
      assert.deepEqual(await inboxA.claimLeft(), [], 'nor does the receiver replay its own click while it handles it');

      // A stops being seen (killed): after two heartbeats it is no longer live.
      // One missed heartbeat (seen two thirds of LEASE_TTL ago) is not death: its click stays its own.
      await seen(a, 'host-a:101:aaaaaaaa', Math.round((TTL * 2) / 3) + 1_000);
      assert.deepEqual([...(await inboxB.claimLeft()), ...(await inboxC.claimLeft())], [], 'a replica that missed one heartbeat lost its click');
      // Not seen for LEASE_TTL (three heartbeats): gone.
      await seen(a, 'host-a:101:aaaaaaaa', TTL + 1_000);
      const [fromB, fromC] = await Promise.all([inboxB.claimLeft(), inboxC.claimLeft()]);
      assert.equal(fromB.length + fromC.length, 1, 'one replica takes it');
      const taker = fromB.length ? 'host-b:202:bbbbbbbb' : 'host-c:303:cccccccc';
      assert.deepEqual([...fromB, ...fromC], [{ envelopeId: 'E1', payload: click(1) }]);
      const row = await b.sql.get<{ claimedBy: string }>('SELECT claimed_by AS "claimedBy" FROM slack_inbox WHERE envelope_id = ?', ['E1']);
      assert.equal(row?.claimedBy, taker);
      // The taker is live now: nobody else replays it, and once handled it is never returned again.
      await seen(b, taker, 0);
      assert.deepEqual(await inboxA.claimLeft(), []);
      await inboxB.handled('E1', NOW);
      await seen(b, taker, TTL);
      assert.deepEqual(await inboxA.claimLeft(), []);
    });

    test('when the sweeping replica does not count as live itself (not registered yet, or its heartbeat lapsed), then it takes nothing', async () => {
      const store = new Store(await engine.openDb());
      await new SlackInbox(store, { holder: 'host-x:404:dddddddd', ttlMs: TTL }).receive('E1', click(1), NOW);
      const sweeper = new SlackInbox(store, { holder: 'host-1:1:11111111', ttlMs: TTL });
      assert.deepEqual(await sweeper.claimLeft(), [], 'a live replica would see this click claimed by one it does not know and take it too');
      await seen(store, 'host-1:1:11111111', 0);
      assert.deepEqual((await sweeper.claimLeft()).map((r) => r.envelopeId), ['E1']);
    });

    test('when several replicas sweep at once the clicks of a replica that is gone, then each click is taken by exactly one of them', async () => {
      const [db1, db2] = await engine.openPair();
      const s1 = new Store(db1);
      const s2 = new Store(db2);
      const dead = new SlackInbox(s1, { holder: 'host-x:404:dddddddd', ttlMs: TTL });
      for (let i = 0; i < 30; i++) await dead.receive(`E${i}`, click(i), new Date(NOW.getTime() + i));
      // Rows from before claims existed: free for the first taker.
      await s1.sql.run('INSERT INTO slack_inbox (envelope_id, payload, received_at) VALUES (?, ?, ?)', ['OLD', JSON.stringify(click(99)), new Date(NOW.getTime() - TTL).toISOString()]);
      const sweepers = [new SlackInbox(s1, { holder: 'host-1:1:11111111', ttlMs: TTL }), new SlackInbox(s2, { holder: 'host-2:2:22222222', ttlMs: TTL }), new SlackInbox(s2, { holder: 'host-3:3:33333333', ttlMs: TTL })];
      for (const holder of ['host-1:1:11111111', 'host-2:2:22222222', 'host-3:3:33333333']) await seen(s1, holder, 0);
      const got = await Promise.all(sweepers.map((x) => x.claimLeft()));
      const ids = got.flatMap((g) => g.map((r) => r.envelopeId));
      assert.equal(ids.length, 31, `every click taken once: ${JSON.stringify(got.map((g) => g.length))}`);
      assert.equal(new Set(ids).size, 31, 'no click taken twice');
    });

    test('when an unclaimed click was stored a moment ago (a replica of the version before claims, during a rolling upgrade, is acting on it), then a sweep leaves it until it is older than LEASE_TTL by the database\'s clock', async () => {
      const store = new Store(await engine.openDb());
      const holder = 'host-new:7:77777777';
      await seen(store, holder, 0);
      const dbNow = (await store.db.now()).getTime();
      // What the previous version's receive() writes: no claimed_by, its own clock's time.
      await store.sql.run('INSERT INTO slack_inbox (envelope_id, payload, received_at) VALUES (?, ?, ?), (?, ?, ?)', [
        'E-recent', JSON.stringify(click(1)), new Date(dbNow - TTL + 5_000).toISOString(),
        'E-old', JSON.stringify(click(2)), new Date(dbNow - TTL - 1_000).toISOString(),
      ]);
      const inbox = new SlackInbox(store, { holder, ttlMs: TTL });
      // (The sweeper's own clock takes no part: only the database's decides.)
      assert.deepEqual((await inbox.claimLeft()).map((r) => r.envelopeId), ['E-old'], 'a recent unclaimed click was taken over while the old replica acts on it');
    });

    test('when a left click\'s stored payload is not JSON (a damaged row), then it is still claimed, once, with no payload, and old handled rows are pruned at a start only', async () => {
      const store = new Store(await engine.openDb());
      const holder = 'host-new:8:88888888';
      await seen(store, holder, 0);
      const long = new Date((await store.db.now()).getTime() - 8 * 86_400_000).toISOString();
      await store.sql.run('INSERT INTO slack_inbox (envelope_id, payload, received_at, claimed_by) VALUES (?, ?, ?, ?)', ['E-damaged', '{"type": "block_act', long, 'host-gone:1:deadbeef']);
      await store.sql.run('INSERT INTO slack_inbox (envelope_id, payload, received_at, handled_at) VALUES (?, ?, ?, ?)', ['E-handled', JSON.stringify(click(3)), long, long]);
      const inbox = new SlackInbox(store, { holder, ttlMs: TTL });
      assert.deepEqual(await inbox.claimLeft(), [{ envelopeId: 'E-damaged', payload: null }]);
      assert.deepEqual(await inbox.claimLeft(), []);
      const ids = async (): Promise<string[]> => (await store.sql.all<{ id: string }>('SELECT envelope_id AS id FROM slack_inbox ORDER BY envelope_id')).map((r) => r.id);
      assert.deepEqual(await ids(), ['E-damaged', 'E-handled'], 'a sweep deletes nothing');
      await inbox.pruneHandled(new Date());
      assert.deepEqual(await ids(), ['E-damaged'], 'handled rows older than a week go at a start');
    });

    if (engine.name === 'sqlite') {
      test('when the replica that received a click ran on this host and its process is gone, then the next replica takes the click at once, not two heartbeats later', async () => {
        const store = new Store(await engine.openDb());
        const gonePid = spawnSync(process.execPath, ['-e', '0']).pid!;
        const holder = `${os.hostname()}:${gonePid}:eeeeeeee`;
        await seen(store, holder, 0);
        await new SlackInbox(store, { holder, ttlMs: TTL }).receive('E1', click(1), NOW);
        const next = new SlackInbox(store, { holder: `${os.hostname()}:${process.pid}:ffffffff`, ttlMs: TTL });
        await seen(store, `${os.hostname()}:${process.pid}:ffffffff`, 0);
        assert.deepEqual((await next.claimLeft()).map((r) => r.envelopeId), ['E1']);
      });
    }
  }),
);
