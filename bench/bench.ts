/**
 * `npm run bench`: this project's poller against the obvious use of the Okta SDK, side by side, in
 * one run, against the fake Okta on 127.0.0.1. See bench/README.md for what each figure means.
 *
 *   npm run bench                       full run (100,000-event backlog, 1,000 idle ticks)
 *   npm run bench -- --events 20000     another backlog size
 *   npm run bench -- --smoke            smallest size, for CI: exits 1 if an event is lost or an
 *                                       idle tick of ours makes more than one request
 *   npm run bench -- --json             JSON on stdout (the table goes to stderr)
 *   npm run bench -- --only exceptions  just the exceptions wildcard micro-benchmark (a second)
 *   npm run bench -- --only orgs        just 100 orgs in one daemon: idle ticks, then one org hanging
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { parseDuration } from '../src/duration';
import { tokenEvent } from '../test/helpers/events';
import { FakeOkta } from '../test/helpers/fake-okta';
import { prng } from '../test/helpers/random';
import { buildJs } from './build';
import { benchExceptions, EXCEPTIONS_TARGET_MS } from './exceptions';
import { benchFollow } from './follow';
import { benchOrgs, ORGS_TARGETS } from './orgs';
import { benchPush, PUSH_TARGETS } from './push';
import { MB, round, type Call, type Contender, type Done, type Failed, type Job, type Progress, type Reply, type Scenario } from './shared';

/** The fake's per-minute limit for the benchmark: high, so rate limiting does not distort figures. */
const RATE_LIMIT = 100_000;
const RSS_TARGET_MB = 150;
/**
 * How `npm start` and deploy/okta-token-watch.service run the daemon (a 2 MB young generation: about
 * 35 MB less resident memory). Both contenders get it, so the ratios compare designs, not flags.
 */
const NODE_FLAGS = ['--max-semi-space-size=2'];

interface Options {
  events: number;
  smallEvents: number;
  ticks: number;
  outageEvents: number;
  outageMs: number;
  lookbackMs: number;
  windowEvents: number;
  storeEvents: number;
  /** Push scenario: events pushed in bursts, POSTs of 100 for the answer time, poll-mode rounds. */
  pushEvents: number;
  answerPosts: number;
  pollRounds: number;
  baselineLimit: number | undefined;
  smoke: boolean;
  json: boolean;
  seed: number;
  timeLimitMs: number;
  /** Directory for V8 CPU profiles of the children (--cpu-prof DIR), for finding where time goes. */
  cpuProf: string | undefined;
  /** Scenario groups to run (--only idle,catchup,outage,store); null runs all. */
  only: string[] | null;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      events: { type: 'string' },
      'small-events': { type: 'string' },
      ticks: { type: 'string' },
      'outage-events': { type: 'string' },
      outage: { type: 'string' },
      lookback: { type: 'string' },
      'window-events': { type: 'string' },
      'store-events': { type: 'string' },
      'push-events': { type: 'string' },
      'answer-posts': { type: 'string' },
      'baseline-limit': { type: 'string' },
      seed: { type: 'string' },
      'time-limit': { type: 'string' },
      'cpu-prof': { type: 'string' },
      only: { type: 'string' },
      smoke: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'Usage: npm run bench -- [--smoke] [--json] [--events N] [--small-events N] [--ticks N] [--outage-events N] [--outage 30m]\n' +
        '                        [--lookback 6m] [--window-events N] [--store-events N] [--baseline-limit N] [--seed S]\n' +
        '                        [--time-limit 10m] [--cpu-prof DIR] [--push-events N] [--answer-posts N]\n' +
        '                        [--only idle,catchup,outage,store,exceptions,push,follow,orgs]\n',
    );
    process.exit(0);
  }
  const int = (v: string | undefined, name: string, fallback: number, min = 1): number => {
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${name} must be a whole number >= ${min}`);
    return Number(v);
  };
  const dur = (v: string | undefined, name: string, fallback: string): number => {
    const ms = parseDuration(v ?? fallback);
    if (ms === null || ms <= 0) throw new Error(`--${name} must be a duration like 90s, 6m or 2h`);
    return ms;
  };
  const smoke = values.smoke ?? false;
  const events = int(values.events, 'events', smoke ? 2000 : 100_000);
  return {
    events,
    smallEvents: int(values['small-events'], 'small-events', Math.max(1, Math.round(events / 10))),
    ticks: int(values.ticks, 'ticks', smoke ? 50 : 1000),
    outageEvents: int(values['outage-events'], 'outage-events', smoke ? 1000 : 5000),
    outageMs: dur(values.outage, 'outage', '30m'),
    lookbackMs: dur(values.lookback, 'lookback', '6m'),
    windowEvents: int(values['window-events'], 'window-events', 10, 0),
    storeEvents: int(values['store-events'], 'store-events', smoke ? 2000 : events),
    pushEvents: int(values['push-events'], 'push-events', smoke ? 100 : 1000),
    answerPosts: int(values['answer-posts'], 'answer-posts', smoke ? 10 : 50),
    pollRounds: smoke ? 3 : 10,
    baselineLimit: values['baseline-limit'] === undefined ? undefined : int(values['baseline-limit'], 'baseline-limit', 100),
    smoke,
    json: values.json ?? false,
    seed: int(values.seed, 'seed', 1, 0),
    timeLimitMs: dur(values['time-limit'], 'time-limit', smoke ? '2m' : '10m'),
    cpuProf: values['cpu-prof'] ? path.resolve(values['cpu-prof']) : undefined,
    only: values.only ? values.only.split(',').map((x) => x.trim()) : null,
  };
}

/** What the fake does when a child asks for the backlog. */
interface Backlog {
  events: number;
  /** 0: everything persisted now (an outage shorter than LOOKBACK); else persistence spread over this long, ending now. */
  outageMs: number;
}

let runCounter = 0;
/** The compiled contender (bench/.build/bench/contender.js), built once per run. */
let contenderJs = '';

/**
 * Runs one contender in a fresh child process against a fresh fake Okta. `window` events are
 * persisted before the child starts (recent, inside the look-back window).
 */
async function runChild(
  opts: Options,
  contender: Contender,
  scenario: Scenario,
  setup: { window?: number; backlog?: Backlog },
): Promise<{ result: Record<string, unknown>; dbPath: string; injected: { first: number; last: number } | null }> {
  let offset = 0;
  const fake = new FakeOkta({ rateLimit: RATE_LIMIT, now: () => Date.now() + offset });
  const orgUrl = await fake.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-bench-'));
  const dbPath = path.join(dir, 'otw.sqlite');
  const rand = prng(opts.seed + ++runCounter);
  const now = Date.now();
  for (let i = 0; i < (setup.window ?? 0); i++) {
    fake.persist(tokenEvent(10_000_000 + i, new Date(now - 120_000 + i * 1000).toISOString()));
  }
  let injected: { first: number; last: number } | null = null;
  const inject = (): { first: number; last: number } => {
    const b = setup.backlog;
    if (!b) throw new Error('this scenario has no backlog');
    const start = Date.now();
    for (let i = 0; i < b.events; i++) {
      // Persistence order; `published` up to 5 minutes earlier, so out of published order, and one
      // in a hundred persisted hours late.
      const persistedAt = b.outageMs > 0 ? start - b.outageMs + Math.floor((i * b.outageMs) / b.events) : start;
      const late = rand() < 0.01 ? 3 * 3_600_000 : 0;
      const published = new Date(persistedAt - Math.floor(rand() * 300_000) - late).toISOString();
      offset = persistedAt - Date.now();
      fake.persist(tokenEvent(i, published));
    }
    offset = 0;
    injected = { first: 0, last: b.events - 1 };
    return injected;
  };
  const job: Job = { contender, scenario, orgUrl, token: fake.token, dbPath, lookbackMs: opts.lookbackMs, baselineLimit: opts.baselineLimit };
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OKTA_')));
  try {
    const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const child = fork(contenderJs, [JSON.stringify(job)], {
        execArgv: ['--expose-gc', ...NODE_FLAGS, ...(opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`] : [])],
        env,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let settled = false;
      const started = Date.now();
      let lastPeak: number | null = null;
      // A contender that cannot finish in time is reported as such (with its progress), not waited for.
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        if (!settled) resolve({ timedOut: true, limitMinutes: opts.timeLimitMs / 60_000, elapsedMs: Date.now() - started, ...(lastPeak !== null ? { peakRssMb: lastPeak } : {}) });
        settled = true;
      }, opts.timeLimitMs);
      child.on('message', (m: Call | Done | Failed | Progress) => {
        if (m.type === 'progress') {
          lastPeak = m.peakRssMb;
        } else if (m.type === 'call') {
          const value = m.op === 'count' ? fake.logRequests().length : inject();
          child.send({ type: 'reply', id: m.id, value } satisfies Reply);
        } else if (m.type === 'done') {
          settled = true;
          resolve(m.result);
        } else if (m.type === 'failed') {
          settled = true;
          reject(new Error(`${contender} ${scenario.kind} failed in the child: ${m.error}`));
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (!settled) reject(new Error(`${contender} ${scenario.kind}: child exited (${code ?? signal}) without a result`));
        settled = true;
      });
    });
    // Every request the fake saw, by endpoint and status (token lookups included).
    const byEndpoint: Record<string, Record<string, number>> = {};
    for (const r of fake.requests) {
      const key = r.path === '/api/v1/logs' ? 'logs' : r.path.startsWith('/api/v1/api-tokens/') ? 'api-tokens' : r.path;
      const s = String(r.status || 'no answer');
      byEndpoint[key] = { ...byEndpoint[key], [s]: (byEndpoint[key]?.[s] ?? 0) + 1 };
    }
    return { result: { ...result, oktaRequestsByEndpoint: byEndpoint }, dbPath, injected };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  } finally {
    await fake.stop();
  }
}

/** Independent check of our database: every injected event stored once, one alert each. */
function verifyDb(dbPath: string, first: number, last: number): { events: number; distinct: number; alerts: number; expected: number } {
  const db = new Database(dbPath, { readonly: true });
  try {
    const one = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
    return {
      events: one('SELECT COUNT(*) AS n FROM events'),
      distinct: one('SELECT COUNT(DISTINCT uuid) AS n FROM events'),
      alerts: one('SELECT COUNT(*) AS n FROM alerts'),
      expected: last - first + 1,
    };
  } finally {
    db.close();
  }
}

type Row = [string, string, string, string];

function fmt(n: unknown, digits = 2): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return String(n ?? '-');
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return String(round(n, digits));
}

/** baseline / ours, shown as "x12.3"; for "higher is better" figures pass invert. */
function ratio(ours: unknown, base: unknown, invert = false): string {
  if (typeof ours !== 'number' || typeof base !== 'number' || ours === 0 || base === 0) return '-';
  const r = invert ? ours / base : base / ours;
  return `x${fmt(r, r >= 10 ? 1 : 2)}`;
}

function table(rows: Row[]): string {
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r, j) => {
      const line = r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
      return j === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

async function main(): Promise<number> {
  const opts = options(process.argv.slice(2));
  const out = opts.json ? process.stderr : process.stdout;
  const say = (s: string): void => void out.write(s + '\n');
  const startedAt = new Date();
  contenderJs = buildJs('bench/contender.ts');
  say(
    `okta-token-watch bench: backlog ${opts.events} (and ${opts.smallEvents}), ${opts.ticks} idle ticks, outage ${opts.outageEvents} events over ${opts.outageMs / 60_000} min, LOOKBACK ${opts.lookbackMs / 60_000} min; fake Okta rate limit ${RATE_LIMIT}/min${opts.smoke ? ' [smoke]' : ''}`,
  );
  const step = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    out.write(`  ${label} ... `);
    const r = await fn();
    out.write(`${((Date.now() - t) / 1000).toFixed(1)}s\n`);
    return r;
  };

  // RSS after gc at tick 100 (warm), half-way and at the end: growth from half-way to the end is the
  // long-run verdict (the first hundreds of ticks warm up caches and the SQLite WAL index).
  const rssAt = [...new Set([Math.min(100, opts.ticks), Math.round(opts.ticks / 2), opts.ticks])].sort((a, b) => a - b);
  const idleShort = Math.min(100, opts.ticks);
  const idle = async (c: Contender, window: number, ticks: number) => {
    const r = await runChild(opts, c, { kind: 'idle', ticks, rssAt: ticks === opts.ticks ? rssAt : [ticks] }, { window });
    fs.rmSync(path.dirname(r.dbPath), { recursive: true, force: true });
    return r.result;
  };
  const catchup = async (c: Contender, events: number, outageMs: number) => {
    const r = await runChild(opts, c, { kind: 'catchup', events, outageMs }, { backlog: { events, outageMs } });
    const verified = c !== 'baseline' && r.injected ? verifyDb(r.dbPath, r.injected.first, r.injected.last) : null;
    fs.rmSync(path.dirname(r.dbPath), { recursive: true, force: true });
    if (r.result.timedOut) {
      out.write(`(did not finish within ${opts.timeLimitMs / 60_000} min; ${verified?.events ?? '?'} events stored by then) `);
      // What it managed in the time allowed: a lower bound on its wall time, an upper bound on its rate.
      const stored = verified?.events ?? 0;
      const wallMs = Number(r.result.elapsedMs);
      return { ...r.result, verified, wallMs, stored, missing: events - stored, eventsPerSecond: Math.round(stored / (wallMs / 1000)) };
    }
    return { ...r.result, verified };
  };

  /** Runs a step unless --only leaves its group out (then null). */
  const only = async <T>(group: string, label: string, fn: () => Promise<T>): Promise<T | null> => (opts.only && !opts.only.includes(group) ? null : step(label, fn));
  const results = {
    idleWindow: {
      ours: await only('idle', `idle, ${opts.windowEvents} events in the window, ours (${opts.ticks} ticks)`, () => idle('ours', opts.windowEvents, opts.ticks)),
      baseline: await only('idle', `idle, ${opts.windowEvents} events in the window, baseline (${opts.ticks} ticks)`, () => idle('baseline', opts.windowEvents, opts.ticks)),
    },
    idleEmpty: {
      ours: await only('idle', `idle, empty window, ours (${idleShort} ticks)`, () => idle('ours', 0, idleShort)),
      baseline: await only('idle', `idle, empty window, baseline (${idleShort} ticks)`, () => idle('baseline', 0, idleShort)),
    },
    catchup: {
      ours: await only('catchup', `catch-up ${opts.events}, ours`, () => catchup('ours', opts.events, 0)),
      baseline: await only('catchup', `catch-up ${opts.events}, baseline`, () => catchup('baseline', opts.events, 0)),
    },
    catchupSmall: {
      ours: await only('catchup', `catch-up ${opts.smallEvents}, ours`, () => catchup('ours', opts.smallEvents, 0)),
      baseline: await only('catchup', `catch-up ${opts.smallEvents}, baseline`, () => catchup('baseline', opts.smallEvents, 0)),
    },
    outage: {
      ours: await only('outage', `outage ${opts.outageMs / 60_000} min (${opts.outageEvents} events), ours`, () => catchup('ours', opts.outageEvents, opts.outageMs)),
      baseline: await only('outage', `outage ${opts.outageMs / 60_000} min (${opts.outageEvents} events), baseline`, () => catchup('baseline', opts.outageEvents, opts.outageMs)),
    },
    store: await only('store', `store, ${opts.storeEvents} events`, async () => {
      const r = await runChild(opts, 'ours', { kind: 'store', events: opts.storeEvents }, {});
      fs.rmSync(path.dirname(r.dbPath), { recursive: true, force: true });
      return r.result;
    }),
    // In-process and quick (well under a second), so the smoke run keeps it at full size.
    exceptions: await only('exceptions', 'exceptions: tokenName wildcards vs 100,000-character names', async () => benchExceptions({ chars: 100_000, runs: opts.smoke ? 5 : 21 })),
    // In-process, 50 watched tokens: an idle tick (poll + follow) is two System Log requests.
    follow: await only('follow', `follow: 50 watched tokens, ${opts.smoke ? 20 : 200} idle ticks (poll + follow)`, () => benchFollow({ tokens: 50, ticks: opts.smoke ? 20 : 200 })),
    // Paced by Slack's one message a second: about a second per event pushed.
    push: await only('push', `push vs poll: ${opts.pushEvents} events in bursts, ${opts.answerPosts} POSTs of 100, ${opts.pollRounds} poll rounds (~${Math.round(opts.pushEvents / 60) || 1} min)`, () =>
      benchPush({ events: opts.pushEvents, answerPosts: opts.answerPosts, pollRounds: opts.pollRounds, seed: opts.seed, say: (x) => out.write(`\n${x}\n  ... `) }),
    ),
    // A daemon process with 100 orgs, 5 s slots: about 20 s per 4 slots.
    orgs: await only('orgs', `orgs: ${ORGS_TARGETS.orgs} orgs in one daemon, ${opts.smoke ? 3 : 12} idle slots, then one org hanging for ${opts.smoke ? 3 : 6}`, () =>
      benchOrgs({ orgs: ORGS_TARGETS.orgs, idleTicks: opts.smoke ? 3 : 12, hangTicks: opts.smoke ? 3 : 6, say: (x) => out.write(`\n  ${x}\n  ... `) }),
    ),
  };

  type R = Record<string, unknown>;
  const g = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as R)[k] : undefined), o);
  const rssOf = (o: unknown, tick: number): number | undefined =>
    ((g(o, 'rss') as Array<{ tick: number; rssMb: number }> | undefined) ?? []).find((x) => x.tick === tick)?.rssMb;
  const heapOf = (o: unknown, tick: number): number | undefined =>
    ((g(o, 'rss') as Array<{ tick: number; heapUsedMb: number }> | undefined) ?? []).find((x) => x.tick === tick)?.heapUsedMb;
  const allRequests = (o: unknown): number | undefined => {
    const by = g(o, 'oktaRequestsByEndpoint') as Record<string, Record<string, number>> | undefined;
    if (!by) return undefined;
    // Everything the catch-up child sent, minus its first (pre-outage) tick and the tick after.
    const total = Object.values(by).reduce((n, statuses) => n + Object.values(statuses).reduce((a, b) => a + b, 0), 0);
    return total - 1 - Number(g(o, 'nextTick', 'requests') ?? 0);
  };
  /** A figure of a contender that hit the time limit is a bound, and says so. */
  const bound = (o: unknown, text: string, kind: 'at least' | 'at most'): string => (g(o, 'timedOut') ? `${kind === 'at least' ? '>' : '<'}${text} (limit)` : text);
  const iw = results.idleWindow;
  const ie = results.idleEmpty;
  const cu = results.catchup;
  const cs = results.catchupSmall;
  const ou = results.outage;
  const st = (results.store ?? {}) as R;
  const first = rssAt[0]!;
  const last = rssAt[rssAt.length - 1]!;
  const rows: Row[] = [
    ['metric', 'ours', 'baseline', 'baseline/ours'],
    [`idle tick, ${opts.windowEvents} events in window: requests`, fmt(g(iw.ours, 'requestsPerTick')), fmt(g(iw.baseline, 'requestsPerTick')), ratio(g(iw.ours, 'requestsPerTick'), g(iw.baseline, 'requestsPerTick'))],
    ['  max requests in one tick', fmt(g(iw.ours, 'maxRequestsInATick')), fmt(g(iw.baseline, 'maxRequestsInATick')), ''],
    ['  wall ms / tick', fmt(g(iw.ours, 'wallMsPerTick')), fmt(g(iw.baseline, 'wallMsPerTick')), ratio(g(iw.ours, 'wallMsPerTick'), g(iw.baseline, 'wallMsPerTick'))],
    ['  CPU ms / tick', fmt(g(iw.ours, 'cpuMsPerTick')), fmt(g(iw.baseline, 'cpuMsPerTick')), ratio(g(iw.ours, 'cpuMsPerTick'), g(iw.baseline, 'cpuMsPerTick'))],
    ['idle tick, empty window: requests', fmt(g(ie.ours, 'requestsPerTick')), fmt(g(ie.baseline, 'requestsPerTick')), ratio(g(ie.ours, 'requestsPerTick'), g(ie.baseline, 'requestsPerTick'))],
    ['  wall ms / tick', fmt(g(ie.ours, 'wallMsPerTick')), fmt(g(ie.baseline, 'wallMsPerTick')), ratio(g(ie.ours, 'wallMsPerTick'), g(ie.baseline, 'wallMsPerTick'))],
    ['  CPU ms / tick', fmt(g(ie.ours, 'cpuMsPerTick')), fmt(g(ie.baseline, 'cpuMsPerTick')), ratio(g(ie.ours, 'cpuMsPerTick'), g(ie.baseline, 'cpuMsPerTick'))],
    [`catch-up ${fmt(opts.events)}: requests`, fmt(g(cu.ours, 'requests')), fmt(g(cu.baseline, 'requests')), ratio(g(cu.ours, 'requests'), g(cu.baseline, 'requests'))],
    ['  all Okta requests (incl. token lookups)', fmt(allRequests(cu.ours)), fmt(allRequests(cu.baseline)), ratio(allRequests(cu.ours), allRequests(cu.baseline))],
    ['  wall s', bound(cu.ours, fmt(Number(g(cu.ours, 'wallMs')) / 1000), 'at least'), fmt(Number(g(cu.baseline, 'wallMs')) / 1000), ratio(g(cu.ours, 'wallMs'), g(cu.baseline, 'wallMs'))],
    ['  events/s', bound(cu.ours, fmt(g(cu.ours, 'eventsPerSecond')), 'at most'), fmt(g(cu.baseline, 'eventsPerSecond')), ratio(g(cu.ours, 'eventsPerSecond'), g(cu.baseline, 'eventsPerSecond'), true)],
    ['  CPU s', fmt(Number(g(cu.ours, 'cpuMs')) / 1000), fmt(Number(g(cu.baseline, 'cpuMs')) / 1000), ratio(g(cu.ours, 'cpuMs'), g(cu.baseline, 'cpuMs'))],
    ['  peak RSS MB (sampled)', bound(cu.ours, fmt(g(cu.ours, 'peakRssMb')), 'at least'), fmt(g(cu.baseline, 'peakRssMb')), ratio(g(cu.ours, 'peakRssMb'), g(cu.baseline, 'peakRssMb'))],
    ['  RSS before the backlog MB', fmt(g(cu.ours, 'rssBeforeMb')), fmt(g(cu.baseline, 'rssBeforeMb')), ''],
    ['  events missing / stored', `${fmt(g(cu.ours, 'missing'))} / ${fmt(g(cu.ours, 'stored'))}${g(cu.ours, 'timedOut') ? ' (limit)' : ''}`, `${fmt(g(cu.baseline, 'missing'))} / ${fmt(g(cu.baseline, 'stored'))} (Set)`, ''],
    ['  next tick: requests', fmt(g(cu.ours, 'nextTick', 'requests')), fmt(g(cu.baseline, 'nextTick', 'requests')), ratio(g(cu.ours, 'nextTick', 'requests'), g(cu.baseline, 'nextTick', 'requests'))],
    ['  next tick: wall ms', fmt(g(cu.ours, 'nextTick', 'wallMs')), fmt(g(cu.baseline, 'nextTick', 'wallMs')), ratio(g(cu.ours, 'nextTick', 'wallMs'), g(cu.baseline, 'nextTick', 'wallMs'))],
    [`catch-up ${fmt(opts.smallEvents)}: peak RSS MB`, fmt(g(cs.ours, 'peakRssMb')), fmt(g(cs.baseline, 'peakRssMb')), ratio(g(cs.ours, 'peakRssMb'), g(cs.baseline, 'peakRssMb'))],
    ['  events/s', fmt(g(cs.ours, 'eventsPerSecond')), fmt(g(cs.baseline, 'eventsPerSecond')), ratio(g(cs.ours, 'eventsPerSecond'), g(cs.baseline, 'eventsPerSecond'), true)],
    [`outage ${opts.outageMs / 60_000} min > LOOKBACK: events missed`, `${fmt(g(ou.ours, 'missing'))} of ${fmt(g(ou.ours, 'injected'))}`, `${fmt(g(ou.baseline, 'missing'))} of ${fmt(g(ou.baseline, 'injected'))}`, ''],
    [`long run: RSS MB after gc, tick ${rssAt.join(' -> ')}`, rssAt.map((t) => fmt(rssOf(iw.ours, t))).join(' -> '), rssAt.map((t) => fmt(rssOf(iw.baseline, t))).join(' -> '), ''],
    [`  V8 heap used MB after gc`, rssAt.map((t) => fmt(heapOf(iw.ours, t))).join(' -> '), rssAt.map((t) => fmt(heapOf(iw.baseline, t))).join(' -> '), ''],
    ['store: insertEvent, new (events/s)', fmt(st.newPerSecond), `${fmt(st.setNewPerSecond)} (Set)`, ''],
    ['store: insertEvent, already seen (events/s)', fmt(st.seenPerSecond), `${fmt(st.setSeenPerSecond)} (Set)`, ''],
    ['store: unseen check before a page (uuids/s)', fmt(st.unseenCheckPerSecond), '', ''],
    ...(results.follow
      ? ([
          [`follow, ${results.follow.tokens} watched tokens: requests / idle tick (poll + follow)`, `${fmt(results.follow.requestsPerIdleTick)} (max ${results.follow.maxRequestsInAnIdleTick})`, '', ''],
          ['  wall / CPU ms per idle tick', `${fmt(results.follow.wallMsPerIdleTick)} / ${fmt(results.follow.cpuMsPerIdleTick)}`, '', ''],
          [`  one event per token: follow requests, events read`, `${results.follow.activity.followRequests}, ${results.follow.activity.newEvents} of ${results.follow.activity.events}`, '', ''],
        ] as Row[])
      : []),
    ...(results.exceptions ?? []).map((c): Row => [`exceptions: ${c.pattern} vs ${c.name} (${fmt(c.chars)} chars): median / max ms`, `${fmt(c.medianMs, 2)} / ${fmt(c.maxMs, 2)}${c.matched ? ' (match)' : ''}`, '', '']),
  ];

  // Verdicts: correctness fails the run; the RSS and growth targets are reported.
  const problems: string[] = [];
  for (const [name, r] of [['idle (window)', iw.ours], ['idle (empty)', ie.ours]] as const) {
    if (Number(g(r, 'maxRequestsInATick')) > 1) problems.push(`${name}: an idle tick of ours made ${g(r, 'maxRequestsInATick')} requests (target 1)`);
    if (Number(g(r, 'failedTicks')) > 0) problems.push(`${name}: ${g(r, 'failedTicks')} idle tick(s) of ours failed`);
  }
  for (const [name, r] of [['catch-up', cu.ours], ['catch-up (small)', cs.ours], ['outage', ou.ours]] as const) {
    if (!r) continue; // left out by --only
    const v = g(r, 'verified') as ReturnType<typeof verifyDb> | null;
    if (g(r, 'timedOut')) {
      problems.push(`${name}: ours did not finish within ${opts.timeLimitMs / 60_000} min (${(g(r, 'verified') as { events?: number } | null)?.events ?? '?'} events stored by then)`);
      continue;
    }
    if (g(r, 'ok') !== true) problems.push(`${name}: a tick of ours failed: ${String(g(r, 'error'))}`);
    if (Number(g(r, 'missing')) !== 0) problems.push(`${name}: ours lost ${g(r, 'missing')} event(s)`);
    if (!v || v.events !== v.expected || v.distinct !== v.expected || v.alerts !== v.expected) {
      problems.push(`${name}: database holds ${v?.events} events (${v?.distinct} distinct) and ${v?.alerts} alerts for ${v?.expected} injected`);
    }
    if (Number(g(r, 'nextTick', 'requests')) > 1) problems.push(`${name}: the tick after the catch-up made ${g(r, 'nextTick', 'requests')} requests`);
  }
  const fo = results.follow;
  if (fo) {
    if (fo.maxRequestsInAnIdleTick > 2) problems.push(`follow: an idle tick with ${fo.tokens} watched tokens made ${fo.maxRequestsInAnIdleTick} System Log requests (target 2: one poll, one follow)`);
    if (fo.failedTicks > 0) problems.push(`follow: ${fo.failedTicks} tick(s) where the poll failed or the follow did not reach the end of the log`);
    if (!fo.activity.ok || fo.activity.newEvents !== fo.activity.events) problems.push(`follow: ${fo.activity.newEvents} of ${fo.activity.events} events made by watched tokens read`);
  }
  for (const c of results.exceptions ?? []) {
    if (c.medianMs > EXCEPTIONS_TARGET_MS) problems.push(`exceptions: ${c.pattern} against ${c.name} took ${c.medianMs} ms (median; target ${EXCEPTIONS_TARGET_MS} ms)`);
  }
  const pu = results.push as R | null;
  const pushTargets = pu
    ? {
        enforced: !opts.smoke,
        note: opts.smoke ? 'smoke: latency targets reported, not enforced (shared CI machines); duplicates and the poller\'s new alerts are enforced' : 'enforced',
        latencyP50: { target: PUSH_TARGETS.latencyP50Ms, ours: g(pu, 'latency', 'postToSlackMs', 'p50'), met: Number(g(pu, 'latency', 'postToSlackMs', 'p50')) <= PUSH_TARGETS.latencyP50Ms },
        latencyP99: { target: PUSH_TARGETS.latencyP99Ms, ours: g(pu, 'latency', 'postToSlackMs', 'p99'), met: Number(g(pu, 'latency', 'postToSlackMs', 'p99')) <= PUSH_TARGETS.latencyP99Ms },
        answerP99: { target: PUSH_TARGETS.answerP99Ms, ours: g(pu, 'answer', 'answerMs', 'p99'), met: Number(g(pu, 'answer', 'answerMs', 'p99')) <= PUSH_TARGETS.answerP99Ms },
      }
    : null;
  if (pu) {
    const lat = g(pu, 'latency') as R;
    const slack = g(pu, 'slack') as R;
    if (Number(lat.missing) !== 0) problems.push(`push: ${lat.missing} of ${lat.events} pushed events never reached Slack`);
    if (Number(lat.failedDeliveries) !== 0) problems.push(`push: ${lat.failedDeliveries} hook deliveries got no 2xx`);
    if (Number(slack.sentTwice) !== 0 || Number(slack.unexpected) !== 0 || slack.messages !== slack.uniqueEvents) {
      problems.push(`push: ${slack.messages} Slack messages for ${slack.uniqueEvents} unique events (${slack.sentTwice} sent twice, ${slack.unexpected} unexpected)`);
    }
    for (const [name, t] of [['after the push latency run', g(pu, 'pollAfterPush')], ['after the answer-time run', g(pu, 'answer', 'poll')]] as const) {
      if (g(t, 'ok') !== true || Number(g(t, 'newAlerts')) !== 0 || Number(g(t, 'newEvents')) !== 0) problems.push(`push: the poller's tick ${name}: ok ${g(t, 'ok')}, ${g(t, 'newEvents')} new events, ${g(t, 'newAlerts')} new alerts (target 0)`);
    }
    if (Number(g(pu, 'pollAfterPush', 'slackMessagesAfter')) !== 0) problems.push(`push: ${g(pu, 'pollAfterPush', 'slackMessagesAfter')} Slack messages after the poller read the pushed events (target 0)`);
    const statuses = (g(pu, 'answer', 'statuses') ?? {}) as Record<string, number>;
    if (Object.keys(statuses).some((k) => k !== '200')) problems.push(`push: hook answers ${JSON.stringify(statuses)} (every POST should get 200)`);
    if (pushTargets?.enforced) {
      if (!pushTargets.latencyP50.met) problems.push(`push: POST-to-Slack p50 ${pushTargets.latencyP50.ours} ms (target ${PUSH_TARGETS.latencyP50Ms} ms)`);
      if (!pushTargets.latencyP99.met) problems.push(`push: POST-to-Slack p99 ${pushTargets.latencyP99.ours} ms (target ${PUSH_TARGETS.latencyP99Ms} ms)`);
      if (!pushTargets.answerP99.met) problems.push(`push: hook answer p99 ${pushTargets.answerP99.ours} ms with 100 events per POST (target ${PUSH_TARGETS.answerP99Ms} ms)`);
    }
  }
  const og = results.orgs as R | null;
  const orgsTargets = og
    ? {
        enforced: !opts.smoke,
        note: opts.smoke ? 'smoke: requests per tick and loss enforced; tick time and RSS reported (shared CI machines)' : 'enforced',
        tickMs: { target: ORGS_TARGETS.tickMs, ours: g(og, 'idle', 'maxTickMs'), met: g(og, 'idle', 'maxTickMs') !== null && Number(g(og, 'idle', 'maxTickMs')) <= ORGS_TARGETS.tickMs },
        tickMsOneHanging: { target: ORGS_TARGETS.tickMs, ours: g(og, 'hang', 'maxTickMs'), met: g(og, 'hang', 'maxTickMs') !== null && Number(g(og, 'hang', 'maxTickMs')) <= ORGS_TARGETS.tickMs },
        rssMb: { target: ORGS_TARGETS.rssMb, ours: g(og, 'peakRssMb'), met: Number(g(og, 'peakRssMb')) > 0 && Number(g(og, 'peakRssMb')) <= ORGS_TARGETS.rssMb },
      }
    : null;
  if (og && orgsTargets) {
    problems.push(...((g(og, 'problems') as string[] | undefined) ?? []));
    if (orgsTargets.enforced) {
      if (!orgsTargets.tickMs.met) problems.push(`orgs: an idle tick of ${ORGS_TARGETS.orgs} orgs took ${orgsTargets.tickMs.ours ?? 'longer than its slot'} ms (target ${ORGS_TARGETS.tickMs} ms)`);
      if (!orgsTargets.tickMsOneHanging.met) problems.push(`orgs: with one org hanging, the other orgs' tick took ${orgsTargets.tickMsOneHanging.ours ?? 'longer than its slot'} ms (target ${ORGS_TARGETS.tickMs} ms)`);
      if (!orgsTargets.rssMb.met) problems.push(`orgs: peak RSS ${orgsTargets.rssMb.ours} MB with ${ORGS_TARGETS.orgs} orgs (target ${ORGS_TARGETS.rssMb} MB)`);
    }
  }
  if (results.store && (st.stored !== opts.storeEvents || st.insertedSecondPass !== 0)) problems.push(`store: ${String(st.stored)} stored, ${String(st.insertedSecondPass)} inserted twice`);
  const peakBig = Number(g(cu.ours, 'peakRssMb'));
  const peakSmall = Number(g(cs.ours, 'peakRssMb'));
  const mid = rssAt[Math.floor((rssAt.length - 1) / 2)] ?? first;
  const growth = (rssOf(iw.ours, last) ?? 0) - (rssOf(iw.ours, mid) ?? 0);
  const growthBase = (rssOf(iw.baseline, last) ?? 0) - (rssOf(iw.baseline, mid) ?? 0);
  const targets = {
    idleRequestsPerTick: { target: 1, ours: g(iw.ours, 'maxRequestsInATick'), met: Number(g(iw.ours, 'maxRequestsInATick')) <= 1 },
    peakRssMb: { target: RSS_TARGET_MB, ours: peakBig, met: peakBig < RSS_TARGET_MB },
    rssFlat: {
      note: `peak RSS at ${opts.events} vs ${opts.smallEvents} events${g(cu.ours, 'timedOut') ? ` (the ${opts.events} catch-up hit the time limit: its figure is a lower bound)` : ''}`,
      ours: [peakBig, peakSmall],
      growthMb: round(peakBig - peakSmall, 1),
      met: !g(cu.ours, 'timedOut') && peakBig - peakSmall < 20,
    },
    push: pushTargets,
    orgs: orgsTargets,
    longRunGrowthMb: {
      note: `RSS (and V8 heap) after gc, tick ${mid} -> ${last}; the baseline's growth over the same ticks is the noise reference`,
      ours: round(growth, 1),
      baseline: round(growthBase, 1),
      heapOurs: round((heapOf(iw.ours, last) ?? 0) - (heapOf(iw.ours, mid) ?? 0), 1),
      met: growth < Math.max(5, growthBase + 3),
    },
  };

  say('');
  say(table(rows));
  say('');
  say(
    `targets: idle requests/tick <= 1: ${targets.idleRequestsPerTick.met ? 'met' : 'NOT MET'}; peak RSS < ${RSS_TARGET_MB} MB: ${targets.peakRssMb.met ? 'met' : 'NOT MET'} (${g(cu.ours, 'timedOut') ? '>' : ''}${fmt(peakBig)} MB); ` +
      `RSS flat across backlog sizes: ${targets.rssFlat.met ? 'met' : 'NOT MET'} (${fmt(peakSmall)} -> ${g(cu.ours, 'timedOut') ? '>' : ''}${fmt(peakBig)} MB` +
      `); ` +
      `no RSS growth from idle tick ${mid} to ${last}: ${targets.longRunGrowthMb.met ? 'met' : 'NOT MET'} (${fmt(growth)} MB; baseline ${fmt(growthBase)} MB)`,
  );
  say(
    'notes: baseline = new okta.Client({orgUrl, token}).systemLogApi.listLogEvents({since: now - LOOKBACK, filter' +
      (opts.baselineLimit ? `, limit: ${opts.baselineLimit}` : '') +
      '}).each(...) per tick with an in-memory Set; it stores nothing and loses its Set on restart. ' +
      'Ours stores every event, alert and delivery in SQLite (WAL) and runs the outbox. Each contender runs in its own process, transpiled to JS (no tsx); ' +
      'RSS includes Node and the loaded modules: the baseline loads the whole Okta SDK (about 90 MB of generated APIs and models), ours only the SDK\'s HTTP and OAuth layer ' +
      `(see "RSS before the backlog"). Both run with ${NODE_FLAGS.join(' ')}, as npm start and the systemd unit run the daemon.`,
  );
  if (pu && pushTargets) {
    const ms = (o: unknown, ...k: string[]): string => `${fmt(g(o, ...k, 'p50'), 1)} / ${fmt(g(o, ...k, 'p99'), 1)}`;
    const met = (t: { met: boolean }): string => (t.met ? 'met' : opts.smoke ? 'missed (smoke: reported)' : 'NOT MET');
    say('');
    say(`push (Okta Event Hooks) vs poll (POLL_SCHEDULE every 5 min), load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} on ${os.cpus().length} cores`);
    say(
      table([
        ['metric', 'push', 'poll', 'target'],
        [`event -> Slack receipt, p50 / p99 (${fmt(g(pu, 'latency', 'events'))} events, ${fmt(g(pu, 'latency', 'bursts'))} bursts of 1-5)`, `${ms(pu, 'latency', 'postToSlackMs')} ms`, `${fmt(g(pu, 'pollMode', 'computedPublishedToSlackS', 'p50'), 1)} / ${fmt(g(pu, 'pollMode', 'computedPublishedToSlackS', 'p99'), 1)} s (computed)`, `<= ${PUSH_TARGETS.latencyP50Ms} / ${PUSH_TARGETS.latencyP99Ms} ms: ${met(pushTargets.latencyP50.met && pushTargets.latencyP99.met ? { met: true } : { met: false })}`],
        ['  poll: tick start -> Slack receipt, p50 / p99 (measured)', '', `${ms(pu, 'pollMode', 'tickToSlackMs')} ms`, ''],
        [`hook answer with 100 events per POST, p50 / p99 (${fmt(g(pu, 'answer', 'posts'))} POSTs)`, `${ms(pu, 'answer', 'answerMs')} ms`, '', `p99 <= ${PUSH_TARGETS.answerP99Ms} ms: ${met(pushTargets.answerP99)}`],
        ['Slack messages / unique events (sent twice)', `${fmt(g(pu, 'slack', 'messages'))} / ${fmt(g(pu, 'slack', 'uniqueEvents'))} (${fmt(g(pu, 'slack', 'sentTwice'))})`, '', 'equal, 0'],
        ['the poller reads the pushed events: new alerts', fmt(g(pu, 'pollAfterPush', 'newAlerts')), '', '0'],
      ]),
    );
    say(
      'notes: push = the fake\'s POST starts -> the fake Slack timestamps the message (receiver -> ingest commit -> dispatcher kicked -> Slack notifier), in-process Daemon; ' +
        'poll (computed) = a uniformly random wait of 0-5 min for the next slot + the measured tick-start-to-Slack time (Okta\'s own System Log delay not included).',
    );
  }
  if (og && orgsTargets) {
    const met = (t: { met: boolean }): string => (t.met ? 'met' : opts.smoke ? 'missed (smoke: reported)' : 'NOT MET');
    say('');
    say(
      `orgs: ${ORGS_TARGETS.orgs} orgs in one daemon, idle: System Log requests per slot ${((g(og, 'idle', 'requestsPerTick') as number[] | undefined) ?? []).join(', ')} (target ${ORGS_TARGETS.orgs}); ` +
        `tick ${fmt(orgsTargets.tickMs.ours)} ms (target ${ORGS_TARGETS.tickMs}: ${met(orgsTargets.tickMs)}); peak RSS ${fmt(orgsTargets.rssMb.ours)} MB (target ${ORGS_TARGETS.rssMb}: ${met(orgsTargets.rssMb)}); ` +
        `one org hanging: the other ${ORGS_TARGETS.orgs - 1} read once per slot in ${Number((g(og, 'hang', 'slots') as unknown[] | undefined)?.length ?? 0) - Number(g(og, 'hang', 'badSlots') ?? 0)} of ${(g(og, 'hang', 'slots') as unknown[] | undefined)?.length ?? 0} slots, ` +
        `their tick ${fmt(orgsTargets.tickMsOneHanging.ours)} ms (${met(orgsTargets.tickMsOneHanging)}); loss ${JSON.stringify(g(og, 'loss'))}`,
    );
  }
  for (const p of problems) say(`FAIL: ${p}`);

  const report = {
    tool: 'okta-token-watch bench',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, totalMemMb: Math.round(os.totalmem() / MB), node: process.version, platform: `${os.platform()} ${os.release()}` },
    options: { ...opts, fakeOktaRateLimitPerMinute: RATE_LIMIT },
    results,
    targets,
    problems,
    ok: problems.length === 0,
  };
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  say(`results written to ${path.relative(process.cwd(), file)}`);
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
