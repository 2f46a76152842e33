/**
 * One contender in its own process (forked by bench.ts with --expose-gc): either this project's
 * tick (runTick + outbox pass, the same code the daemon runs) or the baseline that uses the Okta
 * SDK the way its README suggests (listLogEvents({since, filter}).each(...) per tick, with a
 * `since = now - LOOKBACK` window and an in-memory Set of seen uuids).
 */
import { SqliteDb } from '../src/store/sqlite';
import { Writable } from 'node:stream';
import type okta from '@okta/okta-sdk-nodejs';
import { createApp, tickDepsFor, type App } from '../src/app';
import { parseConfig } from '../src/config';
import { createLogger } from '../src/logger';
import type { OktaLogEvent } from '../src/okta/log-event';
import { runTick } from '../src/ingest/poll';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { tokenEvent, uuidFor } from '../test/helpers/events';
import { FILTER, MB, round, RssSampler, Stopwatch, type Call, type Done, type Failed, type Job, type Progress, type Reply } from './shared';

/** Swallows everything: console alerts and log lines are formatted but not written anywhere. */
class NullStream extends Writable {
  override _write(_chunk: unknown, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    cb();
  }
}

let nextId = 1;
const pending = new Map<number, (v: Reply['value']) => void>();
process.on('message', (m: Reply) => {
  if (m?.type === 'reply') {
    pending.get(m.id)?.(m.value);
    pending.delete(m.id);
  }
});

function call(op: Call['op']): Promise<Reply['value']> {
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    process.send!({ type: 'call', id, op } satisfies Call);
  });
}

async function logRequests(): Promise<number> {
  return (await call('count')) as number;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

/** A tick of either contender; resolves to the number of new events it saw. */
interface Runner {
  tick(): Promise<{ newEvents: number; ok: boolean; error?: string }>;
  /** Which of the event numbers first..last were seen/stored (after the run). */
  missing(first: number, last: number): number;
  stored(): number;
  close(): Promise<void>;
}

function ours(job: Job): Runner {
  const env = {
    OKTA_ORG_URL: job.orgUrl,
    OKTA_API_TOKEN: job.token,
    DB_PATH: job.dbPath,
    LOOKBACK: `${Math.round(job.lookbackMs / 1000)}s`,
    LOG_LEVEL: 'info',
    OKTA_REQUEST_TIMEOUT: '30s',
  };
  const config = parseConfig(env, { requireOkta: true });
  const sink = new NullStream();
  const app: App = createApp(config, { stdout: sink, logger: createLogger(config.log, { stream: sink }) });
  return {
    async tick() {
      const r = await runTick(tickDepsFor(app));
      await app.dispatcher.runOnce();
      return { newEvents: r.newEvents, ok: r.ok, error: r.error };
    },
    missing(first, last) {
      const stmt = (app.store.db as SqliteDb).db.prepare('SELECT 1 FROM events WHERE uuid = ?');
      let missing = 0;
      for (let n = first; n <= last; n++) if (!stmt.get(uuidFor(n))) missing++;
      return missing;
    },
    stored() {
      return ((app.store.db as SqliteDb).db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    },
    close: () => app.close(),
  };
}

function baseline(job: Job): Runner {
  // The README's construction. (The SDK also reads ~/.okta/okta.yaml and OKTA_CLIENT_* variables;
  // the parent starts this process with none of those.)
  // Loaded here, not at the top: ours must not pay for the whole SDK it does not load itself.
  const sdk = require('@okta/okta-sdk-nodejs') as typeof okta;
  const client = new sdk.Client({ orgUrl: job.orgUrl, token: job.token });
  const seen = new Set<string>();
  const sink = new NullStream();
  return {
    async tick() {
      const since = new Date(Date.now() - job.lookbackMs).toISOString();
      const collection = await client.systemLogApi.listLogEvents({
        since,
        filter: FILTER,
        ...(job.baselineLimit !== undefined ? { limit: job.baselineLimit } : {}),
      });
      let fresh = 0;
      // each() resolves at the first empty page (the polling stream's next link never ends).
      await collection.each((e) => {
        const uuid = e.uuid!;
        if (seen.has(uuid)) return;
        seen.add(uuid);
        fresh++;
        const token = e.target?.find((t) => t.type === 'Token');
        sink.write(JSON.stringify({ type: 'alert', uuid, published: e.published, actor: e.actor?.alternateId, tokenName: token?.displayName, tokenId: token?.id }) + '\n');
      });
      return { newEvents: fresh, ok: true };
    },
    missing(first, last) {
      let missing = 0;
      for (let n = first; n <= last; n++) if (!seen.has(uuidFor(n))) missing++;
      return missing;
    },
    stored: () => seen.size,
    close: async () => undefined,
  };
}

async function idle(job: Job, r: Runner, s: Extract<Job['scenario'], { kind: 'idle' }>): Promise<Record<string, unknown>> {
  // Warm-up: takes in whatever is in the window (and, for ours, sets the cursor).
  const warm = await r.tick();
  if (!warm.ok) throw new Error(`warm-up tick failed: ${warm.error}`);
  gc();
  const rssStart = process.memoryUsage.rss();
  let wallMs = 0;
  let cpuMs = 0;
  let requests = 0;
  let maxRequests = 0;
  let failed = 0;
  const rss: Array<{ tick: number; rssMb: number; heapUsedMb: number }> = [];
  const sw = new Stopwatch();
  for (let i = 1; i <= s.ticks; i++) {
    const before = await logRequests();
    sw.restart();
    const t = await r.tick();
    const d = sw.read();
    wallMs += d.wallMs;
    cpuMs += d.cpuMs;
    if (!t.ok) failed++;
    const n = (await logRequests()) - before;
    requests += n;
    maxRequests = Math.max(maxRequests, n);
    if (s.rssAt.includes(i)) {
      gc();
      const m = process.memoryUsage();
      rss.push({ tick: i, rssMb: round(m.rss / MB, 1), heapUsedMb: round(m.heapUsed / MB, 1) });
    }
  }
  return {
    ticks: s.ticks,
    failedTicks: failed,
    requestsPerTick: round(requests / s.ticks, 3),
    maxRequestsInATick: maxRequests,
    wallMsPerTick: round(wallMs / s.ticks, 3),
    cpuMsPerTick: round(cpuMs / s.ticks, 3),
    rssStartMb: round(rssStart / MB, 1),
    rss,
    stored: r.stored(),
  };
}

async function catchup(job: Job, r: Runner): Promise<Record<string, unknown>> {
  // Before the outage: a tick on an empty log (ours stores its cursor there).
  const first = await r.tick();
  if (!first.ok) throw new Error(`first tick failed: ${first.error}`);
  gc();
  const rssBefore = process.memoryUsage.rss();
  // The outage: the parent persists the backlog.
  const range = (await call('inject')) as { first: number; last: number };
  const before = await logRequests();
  const sampler = new RssSampler();
  sampler.start(10);
  const progress = setInterval(() => process.send!({ type: 'progress', peakRssMb: round(sampler.peak / MB, 1) } satisfies Progress), 1000);
  const sw = new Stopwatch();
  const t = await r.tick();
  const d = sw.read();
  clearInterval(progress);
  const peak = sampler.stop();
  const requests = (await logRequests()) - before;
  // The tick after: what the next idle tick costs once the backlog is in.
  const beforeNext = await logRequests();
  const swNext = new Stopwatch();
  const next = await r.tick();
  const dNext = swNext.read();
  const nextRequests = (await logRequests()) - beforeNext;
  const injected = range.last - range.first + 1;
  const missing = r.missing(range.first, range.last);
  return {
    ok: t.ok && next.ok,
    error: t.error ?? next.error,
    injected,
    requests,
    wallMs: round(d.wallMs, 1),
    cpuMs: round(d.cpuMs, 1),
    eventsPerSecond: Math.round((injected - missing) / (d.wallMs / 1000)),
    rssBeforeMb: round(rssBefore / MB, 1),
    peakRssMb: round(peak / MB, 1),
    maxRssMb: round((process.resourceUsage().maxRSS * 1024) / MB, 1),
    newEvents: t.newEvents,
    nextTickNewEvents: next.newEvents,
    missing,
    stored: r.stored(),
    nextTick: { requests: nextRequests, wallMs: round(dNext.wallMs, 1), cpuMs: round(dNext.cpuMs, 1) },
  };
}

/** The store alone: Store.insertEvent in transactions of 1000, new events then the same ones again. */
async function store(job: Job, s: Extract<Job['scenario'], { kind: 'store' }>): Promise<Record<string, unknown>> {
  const db = openDatabase(job.dbPath);
  const st = new Store(new SqliteDb(db, job.dbPath));
  const now = new Date();
  const base = Date.now() - 3_600_000;
  const events = Array.from({ length: s.events }, (_, i) => tokenEvent(i, new Date(base + i).toISOString()) as unknown as OktaLogEvent);
  const chunks: OktaLogEvent[][] = [];
  for (let i = 0; i < events.length; i += 1000) chunks.push(events.slice(i, i + 1000));
  const insertAll = async (): Promise<{ wallMs: number; cpuMs: number; inserted: number }> => {
    let inserted = 0;
    const sw = new Stopwatch();
    for (const c of chunks) {
      await st.transaction(async (tx) => {
        for (const e of c) if (await tx.insertEvent(e, 'poll', now, null)) inserted++;
      });
    }
    return { ...sw.read(), inserted };
  };
  const fresh = await insertAll();
  const again = await insertAll();
  // What a page commit does first: the unseen check, one lookup per uuid.
  const sw = new Stopwatch();
  let unseen = 0;
  for (const c of chunks) unseen += (await st.unseenUuids(c.map((e) => e.uuid))).size;
  const check = sw.read();
  const count = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  await st.close();
  // Reference: the baseline's dedupe is an in-memory Set (lost at every restart).
  const set = new Set<string>();
  const swSet = new Stopwatch();
  for (const e of events) if (!set.has(e.uuid)) set.add(e.uuid);
  const setNew = swSet.read();
  swSet.restart();
  let dupes = 0;
  for (const e of events) if (set.has(e.uuid)) dupes++;
  const setSeen = swSet.read();
  const rate = (n: number, ms: number): number => Math.round(n / (ms / 1000));
  return {
    events: s.events,
    stored: count,
    insertedFirstPass: fresh.inserted,
    insertedSecondPass: again.inserted,
    unseenAfter: unseen,
    newPerSecond: rate(s.events, fresh.wallMs),
    newCpuMs: round(fresh.cpuMs, 1),
    seenPerSecond: rate(s.events, again.wallMs),
    seenCpuMs: round(again.cpuMs, 1),
    unseenCheckPerSecond: rate(s.events, check.wallMs),
    setNewPerSecond: rate(s.events, setNew.wallMs),
    setSeenPerSecond: rate(dupes, setSeen.wallMs),
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as Job;
  let result: Record<string, unknown>;
  if (job.scenario.kind === 'store') {
    result = await store(job, job.scenario);
  } else {
    const r = job.contender === 'baseline' ? baseline(job) : ours(job);
    try {
      result = job.scenario.kind === 'idle' ? await idle(job, r, job.scenario) : await catchup(job, r);
    } finally {
      await r.close();
    }
  }
  process.send!({ type: 'done', result } satisfies Done);
}

main().then(
  () => process.disconnect?.(),
  (err: unknown) => {
    process.send!({ type: 'failed', error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies Failed);
    process.disconnect?.();
    process.exitCode = 1;
  },
);
