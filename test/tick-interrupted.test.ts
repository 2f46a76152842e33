import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tickDepsFor } from '../src/app';
import { migrationsDir, openDatabase } from '../src/store/db';
import { runTick, type TickDeps, type TickResult } from '../src/ingest/poll';
import { tokenEvent } from './helpers/events';
import { startHarness, tmpDir, type Harness } from './helpers/harness';

const MINUTE = 60_000;
const iso = (h: Harness, offsetMs = 0): string => new Date(h.clock.now().getTime() + offsetMs).toISOString();

/** Persists n token creations now (persistence time = the fake clock's now). */
function persistMany(h: Harness, n: number, from = 0): void {
  for (let i = 0; i < n; i++) h.fake.persist(tokenEvent(from + i, iso(h, -MINUTE + i)));
}

function count(h: Harness, sql: string): number {
  return (rawDb(h.app.store).prepare(sql).get() as { n: number }).n;
}

/** One tick through the real path, with the test hook after each committed page. */
async function tickWith(h: Harness, extra: Partial<TickDeps>, signal?: AbortSignal): Promise<TickResult> {
  const r = await runTick({ ...tickDepsFor(h.app, signal), clock: h.clock, ...extra });
  await h.app.dispatcher.runOnce();
  return r;
}

describe('interrupted ticks and the cursor fallback', () => {
  test('when a catch-up is stopped by a signal and the cursor is then rejected, then all 2,501 events are stored by the next ticks', async () => {
    const h = await startHarness({ env: { LOOKBACK: '6m' } });
    try {
      // Caught up once, on an empty log.
      assert.equal((await h.tick()).ok, true);
      h.clock.advance(MINUTE);
      persistMany(h, 2501);
      // The daemon was busy elsewhere for longer than LOOKBACK: the next tick is a catch-up.
      h.clock.advance(10 * MINUTE);
      const ac = new AbortController();
      const stopped = await tickWith(h, { afterPageCommit: (n) => n === 1 && ac.abort() }, ac.signal);
      assert.equal(stopped.ok, false, 'an interrupted tick is not ok');
      assert.equal(stopped.interrupted, true);
      assert.equal(stopped.pages, 1);
      assert.match(stopped.error ?? '', /interrupted/);
      assert.equal((await h.app.store.lastTick())!.result, 'interrupted');
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM events'), 1000);

      h.fake.expireCursors();
      h.clock.advance(5 * MINUTE);
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(r.cursorFallback, true);
      h.clock.advance(5 * MINUTE);
      assert.equal((await h.tick()).ok, true);
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM events'), 2501, 'no event lost');
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM alerts'), 2501, 'one alert per event');
    } finally {
      await h.close();
    }
  });

  test('when no tick has caught up yet and the cursor is rejected, then the fallback starts LOOKBACK before the first start, not at the cursor\'s commit time', async () => {
    const h = await startHarness({ env: { LOOKBACK: '6m', OKTA_MAX_RETRIES: '0' } });
    try {
      const firstStart = h.clock.now().getTime();
      persistMany(h, 2501);
      // A slow catch-up: ten minutes pass between the first and second page, then Okta fails.
      h.fake.failAt(3, { kind: 'status', status: 503, errorCode: 'E0000010', errorSummary: 'Service is in read only mode' });
      const failed = await tickWith(h, { afterPageCommit: (n) => n === 1 && h.clock.advance(10 * MINUTE) });
      assert.equal(failed.ok, false);
      assert.equal(failed.pages, 2);
      assert.equal(await h.app.store.caughtUpThrough(), null, 'a tick that did not reach the end sets no caught-up time');

      h.fake.expireCursors();
      h.clock.advance(MINUTE);
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(r.cursorFallback, true);
      const fallback = h.fake.logRequests().filter((q) => q.query.get('since')).at(-1)!;
      // On Okta's clock (here the same as ours), 1 s early for the Date header's resolution.
      assert.equal(fallback.query.get('since'), new Date(firstStart - 1000 - 6 * MINUTE).toISOString());
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM events'), 2501, 'no event lost');
    } finally {
      await h.close();
    }
  });

  test('when Okta rejects the next link of a later page, then the same tick falls back and stores everything', async () => {
    const h = await startHarness({ env: { LOOKBACK: '6m' } });
    try {
      assert.equal((await h.tick()).ok, true);
      const caughtUp = (await h.app.store.caughtUpThrough())!;
      h.clock.advance(MINUTE);
      persistMany(h, 2501);
      h.clock.advance(10 * MINUTE);
      // Every cursor issued so far expires while the first page is being committed.
      const r = await tickWith(h, { afterPageCommit: (n) => n === 1 && h.fake.expireCursors() });
      assert.equal(r.ok, true, r.error);
      assert.equal(r.cursorFallback, true);
      const fallback = h.fake.logRequests().filter((q) => q.query.get('since')).at(-1)!;
      assert.equal(fallback.query.get('since'), new Date(Date.parse(caughtUp) - 6 * MINUTE).toISOString());
      assert.equal(count(h, 'SELECT COUNT(*) AS n FROM events'), 2501);
      assert.match(h.logs.text, /rejected the next link of a later page/);
      // And the following ticks are ordinary ones again.
      h.clock.advance(5 * MINUTE);
      const next = await h.tick();
      assert.equal(next.ok, true, next.error);
      assert.equal(next.cursorFallback, false);
    } finally {
      await h.close();
    }
  });

  test('when a tick reaches the first empty page, then it records its start as the caught-up time; an interrupted one does not move it', async () => {
    const h = await startHarness();
    try {
      // The start on Okta's clock (the same as ours here), 1 s early for the Date header's resolution.
      const start1 = iso(h, -1000);
      await h.tick();
      assert.equal(await h.app.store.caughtUpThrough(), start1);
      h.clock.advance(5 * MINUTE);
      persistMany(h, 1500);
      const ac = new AbortController();
      await tickWith(h, { afterPageCommit: () => ac.abort() }, ac.signal);
      assert.equal(await h.app.store.caughtUpThrough(), start1);
    } finally {
      await h.close();
    }
  });

  test('when a database at schema 3 is upgraded, then its ticks keep their ids and rows, alerts still point at them, and interrupted is accepted', () => {
    const dir = tmpDir();
    const old = path.join(dir, 'migrations-3');
    fs.mkdirSync(old);
    for (const f of fs.readdirSync(migrationsDir()).filter((f) => /^00[123]_/.test(f))) fs.copyFileSync(path.join(migrationsDir(), f), path.join(old, f));
    const dbPath = path.join(dir, 'otw.sqlite');
    const v3 = openDatabase(dbPath, { migrations: old });
    v3.exec(`INSERT INTO ticks (kind, started_at, finished_at, result, pages, error, pid) VALUES ('poll', '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:01.000Z', 'ok', 2, NULL, 42);
      INSERT INTO ticks (kind, started_at, result, error) VALUES ('poll', '2026-11-01T00:05:00.000Z', 'failed', 'Okta answered HTTP 503');
      INSERT INTO events (uuid, published, event_type, raw, source, first_seen_at) VALUES ('u1', 'p', 'system.api_token.create', '{}', 'poll', 'x');
      INSERT INTO alerts (alert_id, event_uuid, created_at, source, tick_id, payload) VALUES ('otw-u1', 'u1', 'c', 'poll', 2, '{}');`);
    v3.close();
    const v4 = openDatabase(dbPath);
    try {
      assert.deepEqual(v4.prepare('SELECT id, result, pages, error, pid FROM ticks ORDER BY id').all(), [
        { id: 1, result: 'ok', pages: 2, error: null, pid: 42 },
        { id: 2, result: 'failed', pages: 0, error: 'Okta answered HTTP 503', pid: null },
      ]);
      assert.deepEqual(v4.pragma('foreign_key_check'), []);
      assert.equal(v4.prepare(`INSERT INTO ticks (kind, started_at, result) VALUES ('poll', 'now', 'interrupted')`).run().lastInsertRowid, 3);
      assert.throws(() => v4.prepare('UPDATE alerts SET tick_id = 99').run(), /FOREIGN KEY/);
    } finally {
      v4.close();
    }
  });
});
