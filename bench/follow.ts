/**
 * The follow source's cost (issue 12), in-process: a daemon wired as in production (Daemon.tick,
 * what the schedule calls: the poll tick, then the follow tick of watched tokens) on a fresh SQLite
 * file, against the fake Okta on 127.0.0.1, with 50 watched tokens. An idle tick must cost two
 * System Log requests in all: one poll, one follow. See bench/README.md.
 */
import { SqliteDb } from '../src/store/sqlite';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { createApp } from '../src/app';
import { parseConfig } from '../src/config';
import { Daemon } from '../src/daemon';
import { createLogger } from '../src/logger';
import { tokenEvent, otherEvent, uuidFor } from '../test/helpers/events';
import { FakeOkta } from '../test/helpers/fake-okta';
import { round } from './shared';

/** Sizes of the follow scenario. */
export interface FollowBenchOptions {
  /** Watched tokens (one group when they fit one filter). */
  tokens: number;
  /** Idle ticks measured after a warm-up tick. */
  ticks: number;
}

export interface FollowBenchResult {
  tokens: number;
  ticks: number;
  /** System Log requests of one idle tick, poll and follow together. */
  requestsPerIdleTick: number;
  maxRequestsInAnIdleTick: number;
  followRequestsPerIdleTick: number;
  /** Ticks whose poll was not ok or whose follow did not reach the end of the log. */
  failedTicks: number;
  wallMsPerIdleTick: number;
  cpuMsPerIdleTick: number;
  /** One event by each watched token, then one tick. */
  activity: { events: number; newEvents: number; followRequests: number; ok: boolean };
}

const tokenIdOf = (n: number): string => `00T${String(n).padStart(17, '0')}`;
const FOLLOW_TERM = 'transaction.detail.requestApiTokenId';

export async function benchFollow(opts: FollowBenchOptions): Promise<FollowBenchResult> {
  const fake = new FakeOkta({ rateLimit: 100_000 });
  const orgUrl = await fake.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-bench-follow-'));
  const sink = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });
  const config = parseConfig(
    { OKTA_ORG_URL: orgUrl, OKTA_API_TOKEN: fake.token, DB_PATH: path.join(dir, 'otw.sqlite'), MAX_ALERTS_PER_RUN: String(Math.max(100, opts.tokens)) },
    { requireOkta: true },
  );
  const app = createApp(config, { logger: createLogger(config.log, { stream: sink() }), stdout: sink() });
  const daemon = new Daemon(app);
  const isFollow = (q: URLSearchParams): boolean => (q.get('filter') ?? '').includes(FOLLOW_TERM);
  const tick = async (): Promise<{ requests: number; follow: number; ok: boolean }> => {
    const before = fake.logRequests().length;
    await daemon.tick();
    await daemon.followSettled();
    const asked = fake.logRequests().slice(before);
    return { requests: asked.length, follow: asked.filter((r) => isFollow(r.query)).length, ok: daemon.lastResult?.ok === true && daemon.lastFollow?.outcome === 'ok' };
  };
  try {
    const created = new Date(Date.now() - 60_000).toISOString();
    fake.persist(...Array.from({ length: opts.tokens }, (_, i) => tokenEvent(i + 1, created)));
    await tick();
    // The watch engine (ingest) opens these in production; OR IGNORE once it does.
    const alertOf = (app.store.db as SqliteDb).db.prepare('SELECT id FROM alerts WHERE event_uuid = ?');
    const insert = (app.store.db as SqliteDb).db.prepare(
      `INSERT OR IGNORE INTO token_watches (token_id, alert_id, created_published, watch_until, started_at) VALUES (?, ?, ?, ?, ?)`,
    );
    for (let n = 1; n <= opts.tokens; n++) {
      const alert = alertOf.get(uuidFor(n)) as { id: number };
      insert.run(tokenIdOf(n), alert.id, created, new Date(Date.parse(created) + 86_400_000).toISOString(), new Date().toISOString());
    }
    // Warm-up: the follow query's first (time-based) read; its cursor is stored.
    await tick();

    let requests = 0;
    let follow = 0;
    let max = 0;
    let failed = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < opts.ticks; i++) {
      const r = await tick();
      requests += r.requests;
      follow += r.follow;
      max = Math.max(max, r.requests);
      if (!r.ok) failed++;
    }
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);

    // One event by each watched token (a type no rule watches): the follow tick alone reads them.
    const published = new Date().toISOString();
    fake.persist(
      ...Array.from({ length: opts.tokens }, (_, i) => ({
        ...otherEvent(1_000_000 + i, published),
        eventType: 'group.user_membership.add',
        transaction: { id: `txf${i}`, type: 'WEB', detail: { requestApiTokenId: tokenIdOf(i + 1) } },
      })),
    );
    const a = await tick();
    return {
      tokens: opts.tokens,
      ticks: opts.ticks,
      requestsPerIdleTick: round(requests / opts.ticks, 2),
      maxRequestsInAnIdleTick: max,
      followRequestsPerIdleTick: round(follow / opts.ticks, 2),
      failedTicks: failed,
      wallMsPerIdleTick: round(wall / opts.ticks, 2),
      cpuMsPerIdleTick: round((cpu.user + cpu.system) / 1000 / opts.ticks, 2),
      activity: { events: opts.tokens, newEvents: daemon.lastFollow?.newEvents ?? 0, followRequests: a.follow, ok: a.ok },
    };
  } finally {
    await daemon.stop();
    await app.close();
    await fake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
