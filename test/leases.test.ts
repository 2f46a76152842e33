import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { Leases, LeaseLostError } from '../src/scale/leases';
import { replicaId } from '../src/scale/replica';
import { openDatabase } from '../src/store/db';
import type { SqlDb } from '../src/store/sql';
import { SqliteDb } from '../src/store/sqlite';
import { openPostgres } from '../src/store/pg';
import { parseConfig } from '../src/config';
import { runCli, tmpDir, waitFor } from './helpers/harness';
import { startPgCluster, type PgCluster } from './helpers/pg-cluster';

const TTL = 60_000;
const ORGS = Array.from({ length: 10 }, (_, i) => `org-${String(i).padStart(2, '0')}`);

/** One database shared by replicas, each replica on a connection (a pool) of its own. */
interface Shared {
  /** A new connection to the shared database, as a new replica process would open. */
  connect(): Promise<SqlDb>;
}

/** An engine: opens a fresh shared database per test. */
interface Engine {
  name: string;
  fresh(): Promise<Shared>;
  stop(): Promise<void>;
}

const sqlite: Engine = {
  name: 'SQLite',
  async fresh() {
    const file = path.join(tmpDir('otw-leases-'), 'db.sqlite');
    return { connect: async () => new SqliteDb(openDatabase(file)) };
  },
  async stop() {},
};

let cluster: PgCluster | null = null;
const postgres: Engine = {
  name: 'PostgreSQL',
  async fresh() {
    cluster ??= await startPgCluster();
    const url = await cluster.createDatabase();
    // Each replica its own pool, as two processes would have.
    return { connect: () => openPostgres(url, { poolSize: 4 }) };
  },
  async stop() {
    await cluster?.stop();
  },
};

/**
 * The database's clock, moved by the test: Leases read time only from `db.now()`. It starts years
 * away from the process clock, so any use of the process clock for expiry would show.
 */
function useClock(db: SqlDb, clock: FakeClock): SqlDb {
  db.now = async () => clock.now();
  return db;
}

for (const engine of [sqlite, postgres]) {
  describe(`leases on ${engine.name}`, () => {
    const toClose: SqlDb[] = [];
    /** This test's connections, in the order its replicas were made. */
    let opened: SqlDb[] = [];
    let clock: FakeClock;
    let shared: Shared;

    /** A replica: its own connection, its own holder name, the shared fake database clock. */
    async function replica(name: string, ttlMs = TTL): Promise<Leases> {
      const db = useClock(await shared.connect(), clock);
      opened.push(db);
      toClose.push(db);
      return new Leases(db, { holder: name, ttlMs });
    }

    async function holders(): Promise<Map<string, string>> {
      return new Map((await Leases.list(opened[0]!)).map((l) => [l.org, l.holder]));
    }

    before(async () => {
      clock = new FakeClock(Date.parse('2031-03-01T00:00:00.000Z'));
    });
    after(async () => {
      for (const db of toClose) await db.close();
      await engine.stop();
    });

    async function fresh(): Promise<void> {
      shared = await engine.fresh();
      opened = [];
      clock.set('2031-03-01T00:00:00.000Z');
    }

    test('when two replicas share ten orgs, then within two ticks each holds five and no org has two holders', async () => {
      await fresh();
      const a = await replica('replica-a');
      const b = await replica('replica-b');
      // A starts alone and takes everything; B joins and finds nothing free.
      assert.equal((await a.acquire(ORGS)).held.length, 10);
      const b1 = await b.acquire(ORGS);
      assert.deepEqual(b1.held, []);
      assert.equal(b1.share, 5);
      clock.advance(30_000);
      // A's next tick sees two live replicas and hands back five; B's next tick takes them.
      const a2 = await a.acquire(ORGS);
      assert.equal(a2.held.length, 5);
      assert.equal(a2.released.length, 5);
      const b2 = await b.acquire(ORGS);
      assert.deepEqual([...b2.taken].sort(), [...a2.released].sort());
      assert.equal(b2.held.length, 5);

      const rows = await holders();
      assert.equal(rows.size, 10);
      for (const org of ORGS) {
        assert.equal(a.held(org) !== b.held(org), true, `${org} is held by exactly one replica`);
        assert.equal(rows.get(org), a.held(org) ? 'replica-a' : 'replica-b');
      }
      // Steady: further ticks change nothing.
      clock.advance(30_000);
      const a3 = await a.acquire(ORGS);
      const b3 = await b.acquire(ORGS);
      assert.deepEqual([a3.taken, a3.released, b3.taken, b3.released], [[], [], [], []]);
    });

    test('when a replica stops renewing, then its orgs are taken after LEASE_TTL and not before', async () => {
      await fresh();
      const a = await replica('replica-a');
      const b = await replica('replica-b');
      await a.acquire(ORGS);
      await b.acquire(ORGS);
      await a.acquire(ORGS);
      await b.acquire(ORGS);
      const aOrgs = ORGS.filter((o) => a.held(o));
      assert.equal(aOrgs.length, 5);
      const lastRenewal = clock.now().getTime();
      // A dies here: no acquire, no heartbeat. One millisecond before its leases expire, B's tick
      // takes nothing of A's; A, silent for two heartbeats, no longer counts as live, so B's share
      // already covers A's orgs and nothing but the expiry stands between B and them.
      clock.set(new Date(lastRenewal + TTL - 1));
      const early = await b.acquire(ORGS);
      assert.deepEqual(early.taken, []);
      assert.equal(early.share, 10);
      assert.equal((await holders()).get(aOrgs[0]!), 'replica-a');
      // At the expiry B's tick takes all of them.
      clock.set(new Date(lastRenewal + TTL));
      const late = await b.acquire(ORGS);
      assert.deepEqual([...late.taken].sort(), aOrgs);
      assert.equal(late.held.length, 10);
      const list = await Leases.list(opened[0]!);
      assert.ok(list.every((l) => l.holder === 'replica-b'));
      // Times are the database clock's (2031), not the process clock's.
      const taken = list.find((l) => l.org === aOrgs[0])!;
      assert.equal(taken.since, new Date(lastRenewal + TTL).toISOString());
      assert.equal(taken.expiresAt, new Date(lastRenewal + 2 * TTL).toISOString());
      // A comes back (a paused VM): its next tick learns it lost them and takes nothing back.
      const revived = await a.acquire(ORGS);
      assert.deepEqual([revived.held, [...revived.lost].sort()], [[], aOrgs]);
      assert.ok(aOrgs.every((o) => !a.held(o)));
    });

    test('when the heartbeat renews between ticks, then the leases outlive the TTL without a tick and nobody takes them', async () => {
      await fresh();
      const a = await replica('replica-a');
      const b = await replica('replica-b');
      await a.acquire(ORGS);
      for (let i = 0; i < 4; i++) {
        clock.advance(TTL / 3);
        assert.equal((await a.heartbeat()).length, 10);
      }
      // Four thirds of a TTL after A's last tick: without the heartbeat every lease would be free.
      const b1 = await b.acquire(ORGS);
      assert.deepEqual(b1.taken, []);
      assert.ok(ORGS.every((o) => a.held(o)));
    });

    test('when the heartbeat timer runs, then it renews every third of the TTL', async () => {
      await fresh();
      const a = await replica('replica-a');
      await a.acquire(['org-00']);
      const first = (await Leases.list(opened[0]!))[0]!.expiresAt;
      mock.timers.enable({ apis: ['setInterval'] });
      try {
        a.startHeartbeat();
        clock.advance(20_000);
        mock.timers.tick(TTL / 3 - 1);
        await settle();
        assert.equal((await Leases.list(opened[0]!))[0]!.expiresAt, first, 'not renewed before a third of the TTL');
        mock.timers.tick(1);
        await settle();
        assert.equal((await Leases.list(opened[0]!))[0]!.expiresAt, new Date(clock.now().getTime() + TTL).toISOString());
      } finally {
        a.stopHeartbeat();
        mock.timers.reset();
      }
    });

    test('when a replica lost a lease to another, then the fence refuses its transaction and its write is rolled back', async () => {
      await fresh();
      const a = await replica('replica-a');
      const b = await replica('replica-b');
      const db = opened[0]!;
      await db.exec('CREATE TABLE fence_probe (org TEXT PRIMARY KEY, page INTEGER NOT NULL)');
      await a.acquire(['org-00']);
      const aDb = opened[0]!;
      const movePage = (leases: Leases, conn: SqlDb, page: number): Promise<void> =>
        conn.transaction(async (tx) => {
          await leases.assertHeld(tx, 'org-00');
          await tx.run('INSERT INTO fence_probe (org, page) VALUES (?, ?) ON CONFLICT (org) DO UPDATE SET page = excluded.page', ['org-00', page]);
        });
      await movePage(a, aDb, 1);
      // A stalls past its TTL. Nobody has taken the lease yet: A's page still lands (the row lock
      // keeps a taker out until it commits).
      clock.advance(TTL + 1);
      await movePage(a, aDb, 2);
      // B takes the org over; A comes back mid-tick and tries to move the cursor again.
      assert.deepEqual((await b.acquire(['org-00'])).taken, ['org-00']);
      const bDb = opened[1]!;
      await assert.rejects(movePage(a, aDb, 3), (err: unknown) => err instanceof LeaseLostError && err.org === 'org-00' && err.holder === 'replica-b');
      assert.equal(a.held('org-00'), false);
      assert.equal((await db.get<{ page: number }>('SELECT page FROM fence_probe WHERE org = ?', ['org-00']))?.page, 2);
      // The new holder writes.
      await movePage(b, bDb, 4);
      assert.equal((await db.get<{ page: number }>('SELECT page FROM fence_probe WHERE org = ?', ['org-00']))?.page, 4);
      // A's next tick does not take it back.
      assert.deepEqual((await a.acquire(['org-00'])).held, []);
    });

    test('when a replica releases on a graceful stop, then another takes its orgs at its next tick without waiting for the TTL', async () => {
      await fresh();
      const a = await replica('replica-a');
      const b = await replica('replica-b');
      await a.acquire(ORGS);
      await b.acquire(ORGS);
      await a.acquire(ORGS);
      await b.acquire(ORGS);
      await a.release();
      assert.ok(ORGS.every((o) => !a.held(o)));
      const b2 = await b.acquire(ORGS);
      assert.equal(b2.live, 1);
      assert.equal(b2.held.length, 10);
      await assert.rejects(
        opened[0]!.transaction((tx) => a.assertHeld(tx, 'org-00')),
        (err: unknown) => err instanceof LeaseLostError && err.holder === 'replica-b',
      );
      assert.deepEqual((await Leases.replicas(opened[0]!)).map((r) => r.holder), ['replica-b']);
    });

    test('when renewals keep failing for a TTL, then the replica stops counting on its leases', async () => {
      await fresh();
      let mono = 0;
      const db = useClock(await shared.connect(), clock);
      opened.push(db);
      toClose.push(db);
      const a = new Leases(db, { holder: 'replica-a', ttlMs: TTL, monotonicMs: () => mono });
      await a.acquire(['org-00']);
      // The database stops answering.
      db.now = () => Promise.reject(Object.assign(new Error('connection refused'), { otwStorage: true }));
      mono += TTL - 1;
      await assert.rejects(a.heartbeat(), /connection refused/);
      assert.equal(a.held('org-00'), true, 'still within the TTL of the last renewal');
      mono += 1;
      assert.equal(a.held('org-00'), false);
      assert.deepEqual(a.heldOrgs(), []);
      // Once the database answers again, a renewal restores it (nobody took it meanwhile).
      useClock(db, clock);
      assert.deepEqual(await a.heartbeat(), ['org-00']);
      assert.equal(a.held('org-00'), true);
    });

    test('when a replica joins while the holder still ticks some orgs, then those are kept until their tick ends and only idle ones are handed back', async () => {
      await fresh();
      const a = await replica('replica-a');
      const b = await replica('replica-b');
      assert.equal((await a.acquire(ORGS)).held.length, 10);
      await b.acquire(ORGS);
      clock.advance(30_000);
      // Seven of A's orgs are mid-tick: handing any of them to B would have both read it.
      const busy = new Set(ORGS.slice(0, 7));
      const a2 = await a.acquire(ORGS, { busy });
      for (const org of busy) assert.equal(a2.released.includes(org), false, `${org} is still being read by A`);
      assert.equal(a2.held.length, 7);
      assert.equal(a2.released.length, 3);
      const b2 = await b.acquire(ORGS);
      assert.deepEqual([...b2.taken].sort(), [...a2.released].sort());
      // Their ticks ended: A hands back what is above its share, B takes it.
      clock.advance(30_000);
      const a3 = await a.acquire(ORGS);
      assert.equal(a3.held.length, 5);
      const b3 = await b.acquire(ORGS);
      assert.equal(b3.held.length, 5);
    });

    test('when an org leaves the list, then its lease is handed back', async () => {
      await fresh();
      const a = await replica('replica-a');
      await a.acquire(['org-00', 'org-01']);
      const r = await a.acquire(['org-00']);
      assert.deepEqual([r.held, r.released], [['org-00'], ['org-01']]);
      assert.deepEqual([...(await holders()).keys()], ['org-00']);
    });

    test('when replicas race for the same free orgs, then every org has exactly one holder', async () => {
      await fresh();
      const rs = await Promise.all(['r0', 'r1', 'r2', 'r3'].map((n) => replica(n)));
      const orgs = Array.from({ length: 24 }, (_, i) => `race-${i}`);
      for (let round = 0; round < 6; round++) {
        const results = await Promise.all(rs.map((r) => r.acquire(orgs)));
        const claimed = results.flatMap((x) => x.held);
        assert.equal(new Set(claimed).size, claimed.length, `round ${round}: no org claimed twice`);
        const rows = await holders();
        for (const [i, x] of results.entries()) for (const org of x.held) assert.equal(rows.get(org), rs[i]!.holder);
        clock.advance(10_000);
      }
      // Four live replicas: six orgs each once they have settled.
      const final = await Promise.all(rs.map((r) => r.acquire(orgs)));
      assert.deepEqual(final.map((x) => x.held.length), [6, 6, 6, 6]);
    });

    if (engine.name === 'PostgreSQL') {
      test('when a replica takes over an expired lease while the holder\'s page is in flight, then it waits for that commit and resumes after it', async () => {
        await fresh();
        const a = await replica('replica-a');
        const b = await replica('replica-b');
        const [aDb, bDb] = opened as [SqlDb, SqlDb];
        await aDb.exec('CREATE TABLE fence_probe (org TEXT PRIMARY KEY, page INTEGER NOT NULL)');
        await a.acquire(['org-00']);
        clock.advance(TTL + 1);
        // A stalled past its TTL and is now writing a page: the fence passes (nobody took the
        // lease) and holds the lease row until A commits.
        let commit!: () => void;
        const gate = new Promise<void>((r) => (commit = r));
        let fenced = false;
        const page = aDb.transaction(async (tx) => {
          await a.assertHeld(tx, 'org-00');
          fenced = true;
          await tx.run('INSERT INTO fence_probe (org, page) VALUES (?, ?)', ['org-00', 2]);
          await gate;
        });
        await waitFor(() => fenced, 'the fence');
        let takeover: Awaited<ReturnType<Leases['acquire']>> | null = null;
        const taking = b.acquire(['org-00']).then((r) => (takeover = r));
        try {
          // B's take waits on the row lock, visibly, in pg_stat_activity.
          const observer = useClock(await shared.connect(), clock);
          toClose.push(observer);
          for (let i = 0; ; i++) {
            const w = await observer.get<{ n: number }>("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
            if (w?.n === 1) break;
            assert.ok(i < 500, 'B never waited on the lease row');
            await new Promise((r) => setTimeout(r, 10));
          }
          assert.equal(takeover, null);
        } finally {
          // Never leave A's transaction open: closing its pool would wait for it forever.
          commit();
        }
        await page;
        await taking;
        assert.deepEqual(takeover!.taken, ['org-00']);
        // B resumes from what A committed; A's next page is refused.
        const seen = await bDb.transaction(async (tx) => {
          await b.assertHeld(tx, 'org-00');
          return tx.get<{ page: number }>('SELECT page FROM fence_probe WHERE org = ?', ['org-00']);
        });
        assert.equal(seen?.page, 2);
        await assert.rejects(
          aDb.transaction((tx) => a.assertHeld(tx, 'org-00')),
          (err: unknown) => err instanceof LeaseLostError && err.holder === 'replica-b',
        );
      });
    }
  });
}

test('when replicaId() is asked twice, then it names this host and process the same way both times', () => {
  const id = replicaId();
  assert.equal(replicaId(), id);
  assert.match(id, new RegExp(`^.+:${process.pid}:[0-9a-f]{8}$`));
});

test('when migration 015 exists for SQLite, then PostgreSQL has the same file number', () => {
  const root = path.resolve(__dirname, '..');
  assert.ok(fs.existsSync(path.join(root, 'migrations', 'sqlite', '015_leases.sql')));
  assert.ok(fs.existsSync(path.join(root, 'migrations', 'postgres', '015_leases.sql')));
});

describe('LEASE_TTL and ORG_CONCURRENCY', () => {
  const base = { OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: 'FAKE-okta-api-token-for-tests' };

  test('when they are unset, then leases last 2m and 8 orgs tick at once', () => {
    assert.deepEqual(parseConfig(base, { requireOkta: true }).scale, { leaseTtlMs: 120_000, orgConcurrency: 8 });
    assert.deepEqual(parseConfig({ ...base, LEASE_TTL: '10s', ORG_CONCURRENCY: '64' }, { requireOkta: true }).scale, { leaseTtlMs: 10_000, orgConcurrency: 64 });
  });

  test('when they are out of range, then start-up stops with exit 78 and one sentence each naming the setting, not the value', async () => {
    const dir = tmpDir('otw-lease-cfg-');
    for (const [ttl, concurrency] of [['9s', '0'], ['2h', '65'], ['soon', '8x']] as const) {
      const r = await runCli(['check'], { ...base, DB_PATH: path.join(dir, 'db.sqlite'), LEASE_TTL: ttl, ORG_CONCURRENCY: concurrency });
      assert.equal(r.code, 78, r.stderr);
      const lines = r.stderr.split('\n');
      assert.equal(lines.filter((l) => /LEASE_TTL/.test(l)).length, 1, r.stderr);
      assert.equal(lines.filter((l) => /ORG_CONCURRENCY must be a whole number from 1 to 64/.test(l)).length, 1, r.stderr);
      assert.ok(!r.stderr.includes(ttl) && !r.stderr.includes(` ${concurrency}`), r.stderr);
    }
  });
});

/** Lets the heartbeat's promise chain (several statements) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
}
