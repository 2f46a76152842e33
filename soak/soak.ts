/**
 * `npm run soak`: fault injection against the real daemon. See soak/README.md.
 *
 *   npm run soak                    default run: 25 SIGKILLs, every fault, then drain and verify
 *   npm run soak -- --short         a few kills, under two minutes (CI)
 *   npm run soak -- --kills 60 --seed 7 --json
 *   npm run soak -- --only scale    just the two-replica, many-orgs scenario (PostgreSQL; --short: ~2 min)
 *
 * Exits 1 when an event is lost for a notifier, a duplicate is not explained by a SIGKILL between a
 * send and its record, or a store guarantee is broken in any state a killed process left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { parseConfig } from '../src/config';
import { nullLogger } from '../src/logger';
import { buildNotifiers } from '../src/notify/registry';
import { DEMO_CLIENTS, privilegeGrantEvent, tokenActivityEvent, tokenRevokeEvent, type EventClient } from '../src/simulator/demo-events';
import { otherEvent, tokenEvent, uuidFor } from '../test/helpers/events';
import { FakeOkta } from '../test/helpers/fake-okta';
import { prng } from '../test/helpers/random';
import { fastForwardPending, snapshot, type FollowUpRow, type Injected, type Snapshot } from './inspect';
import { clicksScenario } from './clicks';
import { scaleScenario } from './scale';
import { runInterruptedCatchUp } from './interrupted-catch-up';
import { lockedDatabaseScenario } from './locked-db';
import { freePort, SoakPush, type PushedEvent } from './push';
import { HttpReceiver, SmtpReceiver, SOAK_SLACK_CHANNEL, type Receipt, type ReceiverMode } from './receivers';
import { attribute, followUpsBeforeAlert, judge, type Duplicate, type NotifierVerdict, type ProcessRecord } from './verdict';
import { sleep, until } from './wait';

const ROOT = path.resolve(__dirname, '..');

// ------------------------------------------------------------------------------------------------
// options

interface Options {
  short: boolean;
  kills: number;
  seed: number;
  json: boolean;
  eventsPerMinute: number;
  drainTimeoutMs: number;
  notifiers: string[] | null;
  /** Receiver outages: up for [min,max] ms, then down for [min,max] ms. */
  receiverUp: [number, number];
  receiverDown: [number, number];
  /** Okta faults: one every [min,max] ms. */
  oktaFaultEvery: [number, number];
  /** `scale`: only the two-replica, many-orgs scenario (soak/scale.ts); null: everything. */
  only: 'scale' | null;
  /** The scale scenario's database: postgres (default), or sqlite to try it without PostgreSQL. */
  scaleEngine: 'postgres' | 'sqlite';
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      short: { type: 'boolean' },
      kills: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      'events-per-minute': { type: 'string' },
      'drain-timeout': { type: 'string' },
      notifiers: { type: 'string' },
      only: { type: 'string' },
      'scale-engine': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('Usage: npm run soak -- [--short] [--kills N] [--seed S] [--json] [--events-per-minute N] [--drain-timeout SECONDS] [--notifiers slack,email,webhook,console] [--only scale] [--scale-engine postgres|sqlite]\n');
    process.exit(0);
  }
  const int = (v: string | undefined, name: string, fallback: number, min: number): number => {
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new Error(`--${name} must be a whole number >= ${min}`);
    return Number(v);
  };
  const short = values.short ?? false;
  if (values.only !== undefined && values.only !== 'scale') throw new Error('--only takes one value: scale');
  if (values['scale-engine'] !== undefined && !['postgres', 'sqlite'].includes(values['scale-engine'])) throw new Error('--scale-engine is postgres or sqlite');
  return {
    only: values.only === 'scale' ? 'scale' : null,
    scaleEngine: values['scale-engine'] === 'sqlite' ? 'sqlite' : 'postgres',
    short,
    kills: int(values.kills, 'kills', short ? 5 : 25, 1),
    seed: int(values.seed, 'seed', Number(process.env.SOAK_SEED ?? 0) || Math.floor(Math.random() * 1e9), 0),
    json: values.json ?? false,
    eventsPerMinute: int(values['events-per-minute'], 'events-per-minute', short ? 40 : 30, 1),
    drainTimeoutMs: int(values['drain-timeout'], 'drain-timeout', short ? 60 : 300, 5) * 1000,
    notifiers: values.notifiers ? values.notifiers.split(',').map((s) => s.trim()).filter(Boolean) : null,
    receiverUp: short ? [4000, 10_000] : [3000, 12_000],
    receiverDown: short ? [1000, 3000] : [1000, 6000],
    oktaFaultEvery: short ? [3000, 8000] : [4000, 12_000],
  };
}

// ------------------------------------------------------------------------------------------------
// small tools

function between(rand: () => number, [min, max]: [number, number]): number {
  return Math.round(min + rand() * (max - min));
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** Calls fn with each complete line the stream writes. */
function onLines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let buf = '';
  stream.on('data', (c: Buffer) => {
    buf += c.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      fn(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

// ------------------------------------------------------------------------------------------------
// the daemon under test

type KillStrategy = 'timer' | 'startup' | 'after-receipt' | 'after-page' | 'after-push';

/** One daemon process, from spawn to death. */
interface Generation {
  g: number;
  pid: number | undefined;
  spawnedAt: number;
  endedAt: number | null;
  /** How it ended: killed by the soak, stopped with SIGTERM, or exited by itself (a problem). */
  end: 'sigkill' | 'sigterm' | 'crashed' | null;
  strategy: KillStrategy | 'none';
  /** What actually triggered the kill (a strategy can fall back to its timer). */
  trigger: string | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The database as this process left it. */
  after: Snapshot | null;
  stderrTail: string[];
  /** The daemon said it started: SIGTERM is handled from then on. */
  ready: boolean;
  /** The event hook receiver said it listens. */
  hookListening: boolean;
}

class Supervisor {
  readonly generations: Generation[] = [];
  child: ChildProcess | null = null;
  current: Generation | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** Set while a kill waits for "the next receipt": the receiver calls it before answering. */
  killOnReceipt: ((r: Receipt) => void) | null = null;
  readonly consoleReceipts: Array<Receipt & { gen: number }> = [];

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: fs.WriteStream,
  ) {}

  spawn(strategy: Generation['strategy'], extraEnv: NodeJS.ProcessEnv = {}): Generation {
    const g: Generation = {
      g: this.generations.length + 1,
      pid: undefined,
      spawnedAt: Date.now(),
      endedAt: null,
      end: null,
      strategy,
      trigger: null,
      exitCode: null,
      signal: null,
      after: null,
      stderrTail: [],
      ready: false,
      hookListening: false,
    };
    // --env-file points at an empty file: a developer's .env in the repository must not leak in.
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli.ts'), 'run', '--env-file', this.env.SOAK_EMPTY_ENV!], {
      cwd: ROOT,
      env: { ...this.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    g.pid = child.pid;
    this.generations.push(g);
    this.child = child;
    this.current = g;
    onLines(child.stdout!, (line) => this.onStdout(line, g));
    onLines(child.stderr!, (line) => {
      this.log.write(`[gen ${g.g}] ${line}\n`);
      // Logged once the signal handlers are in place (src/cli.ts installs them before start()).
      if (line.includes('"message":"okta-token-watch started"')) g.ready = true;
      if (line.includes('"message":"event hook receiver listening"')) g.hookListening = true;
      g.stderrTail.push(line);
      if (g.stderrTail.length > 20) g.stderrTail.shift();
    });
    this.exited = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        g.exitCode = code;
        g.signal = signal;
        g.endedAt = Date.now();
        if (g.end === null) g.end = 'crashed';
        if (this.child === child) this.child = null;
        resolve();
      });
    });
    this.log.write(`[soak] gen ${g.g} started (pid ${child.pid}, kill strategy ${strategy})\n`);
    return g;
  }

  /** Console alerts: one JSON line each on the daemon's stdout (pipe writes are synchronous on Linux). */
  private onStdout(line: string, g: Generation): void {
    if (!line.startsWith('{')) return;
    let m: { type?: string; id?: string; alertId?: string; tokenName?: string | null };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      return;
    }
    if (m.type === 'okta-token-watch.alert.followup') {
      const f: Receipt = {
        notifier: 'console',
        at: Date.now(),
        alertIds: typeof m.id === 'string' ? [m.id] : [],
        kind: 'followup',
        ...(typeof m.alertId === 'string' ? { parentAlertId: m.alertId } : {}),
        defects: !/^soak-token-\d+$/.test(m.tokenName ?? '') ? ['token name missing'] : [],
      };
      this.consoleReceipts.push({ ...f, gen: g.g });
      this.killOnReceipt?.(f);
      return;
    }
    if (m.type !== 'okta-token-watch.alert' && m.type !== 'okta-token-watch.summary') return;
    const r: Receipt = {
      notifier: 'console',
      at: Date.now(),
      alertIds: m.type === 'okta-token-watch.alert' && m.id ? [m.id] : [],
      kind: m.type === 'okta-token-watch.alert' ? 'alert' : 'summary',
      defects: m.type === 'okta-token-watch.alert' && !/^soak-token-\d+$/.test(m.tokenName ?? '') ? ['token name missing'] : [],
    };
    this.consoleReceipts.push({ ...r, gen: g.g });
    this.killOnReceipt?.(r);
  }

  /** SIGKILL now (synchronous: the process is gone before the caller answers anyone). */
  killNow(trigger: string): void {
    const g = this.current;
    if (!this.child || !g || g.end !== null) return;
    g.end = 'sigkill';
    g.trigger = trigger;
    this.child.kill('SIGKILL');
    this.log.write(`[soak] gen ${g.g} SIGKILL (${trigger})\n`);
  }

  async waitExit(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(timer);
    return ok;
  }

  /** SIGTERM and wait: the daemon must finish its page, close the database and exit 0. */
  async stopGracefully(timeoutMs: number): Promise<{ ok: boolean; code: number | null; signal: NodeJS.Signals | null; ms: number; problem?: string }> {
    const g = this.current;
    if (!this.child || !g || g.end !== null) return { ok: false, code: null, signal: null, ms: 0, problem: 'no daemon running' };
    // Before its handlers are installed a SIGTERM just ends Node: wait until the daemon says it started.
    await until(() => g.ready || g.end !== null, 30_000);
    const t = Date.now();
    if (g.end !== null) return { ok: false, code: g.exitCode, signal: g.signal, ms: 0, problem: `gen ${g.g} ended before it was stopped (${g.end})` };
    g.end = 'sigterm';
    this.child.kill('SIGTERM');
    const exited = await this.waitExit(timeoutMs);
    if (!exited) {
      this.killNow('SIGTERM did not stop it in time');
      await this.waitExit(10_000);
      return { ok: false, code: null, signal: null, ms: Date.now() - t, problem: `gen ${g.g} did not exit within ${timeoutMs / 1000} s of SIGTERM` };
    }
    const ok = g.exitCode === 0;
    return { ok, code: g.exitCode, signal: g.signal, ms: Date.now() - t, ...(ok ? {} : { problem: `gen ${g.g} exited with ${g.exitCode ?? g.signal} after SIGTERM, not 0` }) };
  }
}

// ------------------------------------------------------------------------------------------------
// the run

interface Tally {
  [k: string]: number;
}

function bump(t: Tally, k: string, n = 1): void {
  t[k] = (t[k] ?? 0) + n;
}

/** Which notifiers this build of the daemon knows how to build (the notifier work may be in progress). */
function supportedNotifiers(env: Record<string, string>): string[] {
  const out: string[] = [];
  for (const name of ['slack', 'email', 'webhook', 'console']) {
    try {
      const config = parseConfig({ ...env, NOTIFIERS: name }, { requireOkta: false });
      const built = buildNotifiers(config.notify, { logger: nullLogger() });
      if (built.some((n) => n.name === name)) out.push(name);
      for (const n of built) void n.close?.();
    } catch {
      /* not supported by this build */
    }
  }
  return out;
}

async function main(): Promise<number> {
  const opts = options(process.argv.slice(2));
  const out = opts.json ? process.stderr : process.stdout;
  const say = (s: string): void => void out.write(s + '\n');
  const startedAt = new Date();
  const runId = startedAt.toISOString().replace(/[:.]/g, '-');
  const resultsDir = path.join(__dirname, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const logPath = path.join(resultsDir, `soak-${runId}-daemon.log`);
  const log = fs.createWriteStream(logPath);
  if (opts.only === 'scale') return scaleOnly(opts, { say, log, logPath, resultsDir, runId, startedAt });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-soak-'));
  const dbPath = path.join(dir, 'data', 'otw.sqlite');
  const emptyEnv = path.join(dir, 'empty.env');
  fs.writeFileSync(emptyEnv, '');

  // --- the world around the daemon
  const fake = new FakeOkta({ rateLimit: 600 });
  await fake.start();
  const webhookSecret = crypto.randomBytes(24).toString('hex');
  // Slack as a bot (chat.postMessage, chat.update): follow-ups reply in their alert's thread.
  const slack = new HttpReceiver('slack', null, true);
  const webhook = new HttpReceiver('webhook', webhookSecret);
  const smtp = new SmtpReceiver();
  await Promise.all([slack.start(), webhook.start(), smtp.start()]);

  const hookPort = await freePort();
  const hookSecret = crypto.randomBytes(24).toString('base64url');
  const push = new SoakPush(`http://127.0.0.1:${hookPort}/okta/event-hook`, hookSecret, opts.seed * 7 + 5, dbPath);
  const baseEnv: Record<string, string> = {
    OKTA_ORG_URL: fake.origin,
    OKTA_API_TOKEN: fake.token,
    DB_PATH: dbPath,
    // A tick every 2 s; Okta answers within 2 s or the request is retried (twice); a 429 whose reset
    // is more than 3 s away fails the tick (the next one resumes from the cursor).
    POLL_SCHEDULE: '*/2 * * * * *',
    LOOKBACK: '30m',
    OKTA_REQUEST_TIMEOUT: '2s',
    OKTA_MAX_RETRIES: '2',
    OKTA_MAX_RATE_LIMIT_WAIT: '3s',
    // Deliveries: a pass every second, never given up during the soak, one message per alert (no
    // summaries: MAX_ALERTS_PER_RUN is far above what a tick sees).
    DELIVERY_INTERVAL: '1s',
    DELIVERY_MAX_ATTEMPTS: '1000',
    MAX_ALERTS_PER_RUN: '100000',
    NOTIFY_TIMEOUT: '5s',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    SLACK_BOT_TOKEN: 'xoxb-FAKE-soak-bot-token',
    SLACK_CHANNEL: SOAK_SLACK_CHANNEL,
    SLACK_API_URL: slack.url,
    // Follow each new token for a short window, so that windows end (and their digests go out)
    // while the soak kills and restarts the daemon.
    FOLLOW_WINDOW: opts.short ? '1m' : '2m',
    // Digests wait this long after a watch ends for events Okta stores late (default LOOKBACK, 30m here).
    FOLLOW_SETTLE: '10s',
    WEBHOOK_URL: webhook.url,
    WEBHOOK_SECRET: webhookSecret,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtp.port),
    SMTP_REQUIRE_TLS: 'false',
    EMAIL_FROM: 'okta-token-watch-soak@example.com',
    EMAIL_TO: 'secops@example.com',
    // Push: the same port in every process, so Okta's URL stays valid across restarts.
    EVENT_HOOK_HOST: '127.0.0.1',
    EVENT_HOOK_PORT: String(hookPort),
    EVENT_HOOK_SECRET: hookSecret,
  };
  const supported = supportedNotifiers(baseEnv);
  const notifiers = (opts.notifiers ?? supported).filter((n) => supported.includes(n));
  for (const n of opts.notifiers ?? []) if (!supported.includes(n)) say(`note: notifier ${n} is not supported by this build of the daemon; left out`);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, SOAK_EMPTY_ENV: emptyEnv, ...baseEnv, NOTIFIERS: notifiers.join(',') };
  const receivers = [slack, webhook, smtp].filter((r) => notifiers.includes(r.notifier));

  say(
    `okta-token-watch soak: seed ${opts.seed}, ${opts.kills} SIGKILLs, ~${opts.eventsPerMinute} events/min, notifiers ${notifiers.join(', ')}${opts.short ? ' [short]' : ''}`,
  );
  say(`  daemon log: ${path.relative(process.cwd(), logPath)}; database: ${dbPath}`);

  // --- injected events, in persistence order
  const injected: Injected[] = [];
  let nextN = 1;
  const persist = (matching: boolean, late: boolean, publishedMs: number): PushedEvent => {
    const n = nextN++;
    const published = new Date(publishedMs).toISOString();
    const event = matching
      ? tokenEvent(n, published, {
          target: [{ id: `00T${String(n).padStart(17, '0')}`, type: 'Token', alternateId: 'unknown', displayName: `soak-token-${n}` }],
        })
      : otherEvent(n, published);
    const uuid = uuidFor(n);
    injected.push({ seq: injected.length, n, uuid, alertId: `otw-${uuid}`, matching, late, persistedAt: Date.now() });
    fake.persist(event);
    return { uuid, matching, event };
  };
  if (fake.persistedCount !== 0) throw new Error('the fake must start empty');

  const faults = new AbortController();
  const tallies = { okta: {} as Tally, receivers: {} as Tally, kills: {} as Tally };

  // Events: small batches at random moments; some persisted late (published long ago), batches
  // shuffled so persistence order differs from published order; one in ten of another type.
  const injector = (async () => {
    const rand = prng(opts.seed * 7 + 1);
    const meanGap = 60_000 / opts.eventsPerMinute;
    while (!faults.signal.aborted) {
      const size = 1 + Math.floor(rand() * 3);
      const now = Date.now();
      const batch = Array.from({ length: size }, () => {
        const late = rand() < 0.15;
        const matching = rand() >= 0.1;
        return { matching, late, published: late ? now - between(rand, [10 * 60_000, 3 * 3_600_000]) : now - between(rand, [0, 20_000]) };
      });
      // Okta pushes what it persisted (the other type too, as a hook subscribed to more would: the
      // receiver must ignore it).
      push.push(batch.map((e) => persist(e.matching, e.late, e.published)));
      await sleep(between(rand, [meanGap * size * 0.3, meanGap * size * 1.7]), faults.signal);
    }
  })();

  // Token lives: some alerted tokens are then used (the first request from the creation's place or
  // from another country, some of them sensitive), some revoked. Only tokens whose creation alert
  // is already in the database and whose watch is open for at least 20 s more are picked, so each
  // use must give a first-use follow-up and each revoke a lifecycle follow-up and a digest. A used
  // token is revoked only once its first use shows in the database: a revoke closes the watch, and
  // a use the follow tick had not read by then would never be attributed.
  const lives = { used: new Map<string, string[]>(), revoked: new Map<string, string>(), sensitiveUses: 0, foreignUses: 0, foreign: new Set<string>() };
  const persistFollowed = (as: 'use' | 'revoke', tokenId: string, build: (uuid: string) => Record<string, unknown>): PushedEvent => {
    const n = nextN++;
    const uuid = uuidFor(n);
    const event = build(uuid);
    injected.push({ seq: injected.length, n, uuid, alertId: `otw-${uuid}`, matching: false, late: false, persistedAt: Date.now(), followed: { as, tokenId } });
    fake.persist(event);
    return { uuid, matching: false, event };
  };
  // Where token creations come from (test/helpers/events.ts): a first use from there is no news.
  const creationPlace = (n: number): EventClient => ({
    ip: `198.51.100.${n % 250}`,
    geo: { city: 'Amsterdam', state: 'North Holland', country: 'Netherlands', lat: 52.37, lon: 4.89 },
    asn: { number: 64496, org: 'example transit', isp: 'example isp', domain: 'example.net', proxy: false },
    ua: { raw: 'okta-sdk-python/2.9.0 python/3.12', browser: 'UNKNOWN', os: 'Linux' },
  });
  const lifeInjector = (async () => {
    const rand = prng(opts.seed * 7 + 4);
    while (!faults.signal.aborted) {
      await sleep(between(rand, opts.short ? [1500, 4000] : [2500, 6000]), faults.signal);
      if (faults.signal.aborted) break;
      let s: Snapshot;
      try {
        s = snapshot(dbPath, injected, notifiers);
      } catch {
        continue;
      }
      const now = Date.now();
      const open = s.watches.filter((w) => w.closedAt === null && Date.parse(w.watchUntil) > now + 20_000 && !lives.revoked.has(w.tokenId) && /^00T\d+$/.test(w.tokenId));
      const unused = open.filter((w) => !lives.used.has(w.tokenId));
      const revocable = open.filter((w) => !lives.used.has(w.tokenId) || w.firstUseUuid !== null);
      const admin = { id: '00usoakadmin00000001', login: 'soak-admin@example.com', name: 'Soak Admin' };
      if (unused.length && (rand() < 0.6 || !revocable.length)) {
        const w = pick(rand, unused);
        const n = Number(w.tokenId.slice(3));
        const foreign = rand() < 0.6;
        const client = foreign ? DEMO_CLIENTS.bucharestVps : creationPlace(n);
        const uuids: string[] = [];
        for (let i = 0, k = 1 + Math.floor(rand() * 3); i < k; i++) {
          const published = new Date(now - between(rand, [0, 1500]) + i);
          const sensitive = rand() < 0.5;
          const e = persistFollowed('use', w.tokenId, (uuid) =>
            sensitive
              ? privilegeGrantEvent({ uuid, published, actor: admin, client, tokenId: w.tokenId, user: { id: `00usoakuser${String(nextN).padStart(9, '0')}`, login: `soak-user-${nextN}@example.com`, name: `Soak User ${nextN}` } })
              : tokenActivityEvent({ uuid, published, actor: admin, client, tokenId: w.tokenId, eventType: 'user.account.update_profile', displayMessage: 'Update user profile for Okta' }),
          );
          if (sensitive) lives.sensitiveUses++;
          uuids.push(e.uuid);
        }
        if (foreign) {
          lives.foreignUses++;
          lives.foreign.add(w.tokenId);
        }
        lives.used.set(w.tokenId, uuids);
      } else if (revocable.length) {
        const w = pick(rand, revocable);
        const n = Number(w.tokenId.slice(3));
        const e = persistFollowed('revoke', w.tokenId, (uuid) =>
          tokenRevokeEvent({ uuid, published: new Date(now - between(rand, [0, 1500])), actor: admin, client: DEMO_CLIENTS.copenhagenOffice, token: { id: w.tokenId, name: `soak-token-${n}` } }),
        );
        lives.revoked.set(w.tokenId, e.uuid);
        // A revoke is an event type Okta's hook may carry: pushed too.
        push.push([e]);
      }
    }
  })();

  // Okta: 5xx bursts, 429s (a far reset and an exhausted bucket with a near one), hangs beyond the
  // request timeout, reset connections, a non-JSON answer, and now and then every cursor expired.
  const oktaFaults = (async () => {
    const rand = prng(opts.seed * 7 + 2);
    while (!faults.signal.aborted) {
      await sleep(between(rand, opts.oktaFaultEvery), faults.signal);
      if (faults.signal.aborted) break;
      const kind = pick(rand, ['5xx', '5xx', '429', 'exhausted', 'hang', 'hang', 'reset', 'not-json', 'expire-cursors'] as const);
      bump(tallies.okta, kind);
      switch (kind) {
        case '5xx':
          fake.failStatus(1 + Math.floor(rand() * 4), pick(rand, [500, 502, 503]));
          break;
        case '429':
          fake.failStatus(1 + Math.floor(rand() * 2), 429);
          break;
        case 'exhausted':
          fake.exhaustRateLimit(between(rand, [1000, 6000]));
          break;
        case 'hang':
          fake.fail(1 + Math.floor(rand() * 2), { kind: 'hang', ms: between(rand, [2500, 6000]) });
          break;
        case 'reset':
          fake.fail(1, { kind: 'destroy' });
          break;
        case 'not-json':
          fake.fail(1, { kind: 'not-json' });
          break;
        case 'expire-cursors':
          if (rand() < 0.5) fake.expireCursors();
          break;
      }
    }
  })();

  // Receivers: up, then down for a while (errors, 429 with Retry-After, or closed), and so on.
  const receiverFaults = receivers.map((r, i) =>
    (async () => {
      const rand = prng(opts.seed * 7 + 10 + i);
      const modes: ReceiverMode[] = r.notifier === 'email' ? ['error', 'closed', 'closed'] : ['error', 'ratelimit', 'closed', 'closed'];
      while (!faults.signal.aborted) {
        await sleep(between(rand, opts.receiverUp), faults.signal);
        if (faults.signal.aborted) break;
        const mode = pick(rand, modes);
        bump(tallies.receivers, `${r.notifier}:${mode}`);
        await r.setMode(mode);
        await sleep(between(rand, opts.receiverDown), faults.signal);
        await r.setMode('up');
      }
    })(),
  );

  // While the daemon runs: read the committed state every second and check the same guarantees
  // (a reader sees exactly what a crash at that moment would leave).
  const liveChecks = { states: 0, violations: [] as string[] };
  const liveChecker = (async () => {
    while (!faults.signal.aborted) {
      await sleep(1000, faults.signal);
      try {
        const s = snapshot(dbPath, injected, notifiers);
        if (s.exists) liveChecks.states++;
        for (const v of s.violations) if (!liveChecks.violations.includes(v)) liveChecks.violations.push(v);
      } catch {
        /* the database is being created or migrated; the next look will do */
      }
    }
  })();

  // --- kills
  const sup = new Supervisor(env, log);
  push.onLine = (line) => log.write(line + '\n');
  for (const r of receivers) r.onAccept = (receipt) => sup.killOnReceipt?.(receipt);
  const killRand = prng(opts.seed * 7 + 3);
  const problems: string[] = [];
  let kills = 0;
  // Every strategy once first (in a seeded order, so even --short has each), then at random.
  const firstRound: KillStrategy[] = ['timer', 'startup', 'after-receipt', 'after-page', 'after-push'];
  for (let i = firstRound.length - 1; i > 0; i--) {
    const j = Math.floor(killRand() * (i + 1));
    [firstRound[i], firstRound[j]] = [firstRound[j]!, firstRound[i]!];
  }
  let committedPushKills = 0;
  while (kills < opts.kills) {
    const strategy: KillStrategy =
      firstRound[kills] ?? pick(killRand, ['timer', 'timer', 'startup', 'after-receipt', 'after-receipt', 'after-page', 'after-page', 'after-push', 'after-push'] as const);
    // after-push: the daemon holds every push answer after its commit (a test hook bound to this
    // process's pid, see src/daemon.ts), so the kill, made from outside as soon as the commit shows in
    // the database, always lands between the commit and the answer.
    const g = sup.spawn(strategy, strategy === 'after-push' ? { OTW_TEST_HOLD_PUSH_ANSWER: String(process.pid) } : {});
    const delay = strategy === 'startup' ? between(killRand, [50, 1500]) : strategy === 'timer' ? between(killRand, [1500, 9000]) : 0;
    const fallback = 15_000;
    let armed: NodeJS.Timeout | null = null;
    if (strategy === 'after-receipt') {
      // Let it start and get going first, then kill on the next accepted message, before answering it.
      armed = setTimeout(() => (sup.killOnReceipt = (r) => sup.killNow(`right after ${r.notifier} accepted ${r.alertIds[0] ?? r.kind}, before the answer`)), between(killRand, [1500, 4000]));
    } else if (strategy === 'after-page') {
      const skip = between(killRand, [1000, 4000]);
      const lag = between(killRand, [0, 25]);
      armed = setTimeout(() => {
        let seen = fake.requests.length;
        const poll = setInterval(() => {
          for (; seen < fake.requests.length; seen++) {
            const q = fake.requests[seen]!;
            if (q.status === 0) break;
            if (q.path === '/api/v1/logs' && q.status === 200) {
              clearInterval(poll);
              setTimeout(() => sup.killNow(`${lag} ms after Okta served a page`), lag);
              return;
            }
          }
          if (sup.current !== g || g.end !== null) clearInterval(poll);
        }, 2);
      }, skip);
    } else if (strategy === 'after-push') {
      let db: Database.Database | null = null;
      let before: number | null = null;
      const poll = setInterval(() => {
        if (sup.current !== g || g.end !== null) {
          clearInterval(poll);
          db?.close();
          return;
        }
        try {
          db ??= new Database(dbPath, { readonly: true, fileMustExist: true });
          const batches = SoakPush.committedBatches(db);
          before ??= batches;
          if (batches > before) {
            sup.killNow('right after a push was committed, before its answer');
            committedPushKills++;
          }
        } catch {
          db?.close();
          db = null; // not created or migrated yet
        }
      }, 3);
      armed = setTimeout(() => clearInterval(poll), fallback + 20_000);
    } else {
      armed = setTimeout(() => sup.killNow(`${strategy} after ${delay} ms`), delay);
    }
    const fallbackTimer = setTimeout(() => sup.killNow('fallback timer'), strategy === 'timer' || strategy === 'startup' ? delay + fallback : fallback);
    if (!(await sup.waitExit(fallback + 20_000))) {
      sup.killNow('did not die in time');
      await sup.waitExit(10_000);
    }
    clearTimeout(armed);
    clearTimeout(fallbackTimer);
    sup.killOnReceipt = null;
    // Okta pushes while the daemon is down: refused, retried once (maybe reaching the next process),
    // else dropped; the poller must store these events all the same.
    push.push([persist(true, false, Date.now() - between(killRand, [0, 5000]))], true);
    if (g.end === 'crashed') {
      if (sup.generations.filter((x) => x.end === 'crashed').length >= 3) {
        problems.push(`the daemon keeps exiting by itself; last: ${g.stderrTail.slice(-3).join(' | ').slice(0, 500)}`);
        break;
      }
      problems.push(`gen ${g.g} exited by itself (code ${g.exitCode}, signal ${g.signal}): ${g.stderrTail.slice(-3).join(' | ').slice(0, 500)}`);
    } else {
      kills++;
      // What actually fired: a strategy that saw no receipt or page in time falls back to its timer.
      bump(tallies.kills, g.trigger === 'fallback timer' ? `${strategy} (fell back to the timer)` : strategy);
    }
    // Let the receivers finish handling anything the dead process wrote, then look at what it left.
    await sleep(300);
    g.after = snapshot(dbPath, injected, notifiers);
    for (const v of g.after.violations) problems.push(`after gen ${g.g} (${g.trigger ?? g.end}): ${v}`);
    say(
      `  kill ${kills}/${opts.kills}: gen ${g.g} ${g.trigger ?? g.end} after ${((g.endedAt! - g.spawnedAt) / 1000).toFixed(1)}s; ` +
        `stored ${g.after.events}/${injected.filter((e) => e.matching).length}, deliveries ${JSON.stringify(g.after.deliveries)}`,
    );
  }

  // --- drain: no more faults; the daemon catches up, is stopped with SIGTERM, the backoff waits the
  // outages caused are compressed, and a last process delivers what is left.
  faults.abort();
  await Promise.all([injector, lifeInjector, oktaFaults, liveChecker, ...receiverFaults]);
  for (const v of liveChecks.violations) problems.push(`while running: ${v}`);
  for (const r of receivers) await r.setMode('up');
  const matching = injected.filter((e) => e.matching);
  const followedInjected = injected.filter((e) => e.followed);
  const drainStart = Date.now();
  say(
    `  faults stopped; draining (${matching.length} events to deliver to ${notifiers.length} notifiers; ` +
      `${followedInjected.length} token-life events: ${lives.used.size} tokens used, ${lives.revoked.size} revoked)`,
  );

  const receiptsOf = (): Array<Receipt & { gen?: number }> => [...receivers.flatMap((r) => r.receipts), ...sup.consoleReceipts];
  const delivered = (): Map<string, Set<string>> => {
    const m = new Map<string, Set<string>>(notifiers.map((n) => [n, new Set<string>()]));
    for (const r of receiptsOf()) for (const id of r.alertIds) m.get(r.notifier)?.add(id);
    return m;
  };
  // Every alert, and every follow-up the database holds at that moment (more may come: a window
  // that ends during the drain queues its digest).
  const allDelivered = (): boolean => {
    const d = delivered();
    if (!notifiers.every((n) => matching.every((e) => d.get(n)!.has(e.alertId)))) return false;
    let followups: FollowUpRow[];
    try {
      followups = snapshot(dbPath, injected, notifiers).followups;
    } catch {
      return false;
    }
    return notifiers.every((n) => followups.every((f) => d.get(n)!.has(f.id)));
  };

  const gCatchUp = sup.spawn('none');
  // Okta's verification GET, once this process's receiver listens.
  if (await until(() => gCatchUp.hookListening || gCatchUp.end !== null, 30_000)) await push.verify();
  else problems.push('push: the event hook receiver never said it listens');
  const caughtUp = await until(
    () => {
      const s = snapshot(dbPath, injected, notifiers);
      // Every revoked token's digest too: it waits FOLLOW_SETTLE after the revoke.
      const digests = new Set(s.followups.filter((f) => f.kind === 'digest').map((f) => f.key));
      return s.events >= matching.length && s.followedEvents >= followedInjected.length && [...lives.revoked.keys()].every((t) => digests.has(`digest:${t}`));
    },
    opts.drainTimeoutMs,
    500,
  );
  if (!caughtUp) problems.push(`the daemon did not store every injected event within ${opts.drainTimeoutMs / 1000} s after the faults stopped`);
  // Pushes still held back, and their retries, land (or are refused) before the stop.
  await push.idle();
  const stop1 = await sup.stopGracefully(20_000);
  if (!stop1.ok) problems.push(`SIGTERM: ${stop1.problem}`);
  gCatchUp.after = snapshot(dbPath, injected, notifiers);
  for (const v of gCatchUp.after.violations) problems.push(`after gen ${gCatchUp.g} (SIGTERM): ${v}`);
  let fastForwarded = fastForwardPending(dbPath);

  const stops = [stop1];
  let drainedAll = false;
  let gDrain: Generation;
  let drainRounds = 0;
  for (;;) {
    drainRounds++;
    gDrain = sup.spawn('none');
    // Slack takes one message a second (SlackNotifier.minIntervalMs): a drain that must send every
    // alert and follow-up there gets that long, at least, on top of the timeout.
    const messages = matching.length + snapshot(dbPath, injected, notifiers).followups.length;
    drainedAll = await until(allDelivered, Math.max(opts.drainTimeoutMs, notifiers.includes('slack') ? messages * 1000 + 30_000 : 0), 300);
    await sleep(1500); // anything still in flight lands now, so a late duplicate is counted
    const stop2 = await sup.stopGracefully(20_000);
    stops.push(stop2);
    if (!stop2.ok) problems.push(`SIGTERM: ${stop2.problem}`);
    gDrain.after = snapshot(dbPath, injected, notifiers);
    for (const v of gDrain.after.violations) problems.push(`after gen ${gDrain.g} (SIGTERM, final): ${v}`);
    // A follow window that ended in the last seconds queued a digest after the last look: one more
    // process delivers it (at most three in all).
    if (!drainedAll || (gDrain.after.deliveries.pending ?? 0) === 0 || drainRounds >= 3) break;
    fastForwarded += fastForwardPending(dbPath);
  }
  const drainMs = Date.now() - drainStart;
  const sourceOf = SoakPush.sources(dbPath);
  const pushReport = push.finish(sourceOf);
  problems.push(...push.problems);
  const bySource: Record<string, number> = {};
  for (const src of sourceOf.values()) bump(bySource, src);

  // --- verdicts
  const final = gDrain.after!;
  const finalStored = final.events;
  if (finalStored !== matching.length) problems.push(`the database holds ${finalStored} events; ${matching.length} were injected`);
  if ((final.deliveries.failed ?? 0) > 0) problems.push(`${final.deliveries.failed} delivery row(s) ended failed`);
  // Everything was received and the last process stopped gracefully: a row still pending would be
  // sent again by the next start, a duplicate in waiting.
  if (drainedAll && (final.deliveries.pending ?? 0) > 0) problems.push(`${final.deliveries.pending} delivery row(s) still pending after every message was received`);

  const processes: ProcessRecord[] = sup.generations.map((x) => ({ g: x.g, spawnedAt: x.spawnedAt, end: x.end, trigger: x.trigger, sentAfter: x.after?.sent ?? null }));
  const attributed = receiptsOf().map((r) => attribute(r, processes));
  const perNotifier: Record<string, NotifierVerdict & { refused: Record<string, number> }> = {};
  const unexplainedList: Duplicate[] = [];
  const explainedList: Duplicate[] = [];
  for (const n of notifiers) {
    const { verdict: v, explained, unexplained } = judge(n, matching.map((e) => e.alertId), attributed, processes);
    perNotifier[n] = { ...v, refused: receivers.find((r) => r.notifier === n)?.refused ?? {} };
    explainedList.push(...explained);
    unexplainedList.push(...unexplained);
    if (v.lost) problems.push(`${n}: ${v.lost} event(s) never delivered (first: ${v.lostAlertIds[0]})`);
    if (v.unexplained) problems.push(`${n}: ${v.unexplained} duplicate(s) not explained by a SIGKILL between send and record (${unexplained[0]!.alertId}: ${unexplained[0]!.why})`);
    if (v.foreign) problems.push(`${n}: ${v.foreign} message(s) about events that were not injected as token creations`);
    if (v.defects.length) problems.push(`${n}: message defects: ${v.defects.join('; ')}`);
    if (v.summaries) problems.push(`${n}: ${v.summaries} summary message(s); the soak expects one message per alert (MAX_ALERTS_PER_RUN=100000)`);
  }
  // --- follow-ups: every one the final database holds reached every notifier exactly once (the same
  // judge: a duplicate needs a SIGKILL between its send and its record), never before its alert;
  // every one the soak's token lives call for exists, and none it does not.
  const followUps = final.followups;
  const followUpVerdicts: Record<string, NotifierVerdict> = {};
  for (const n of notifiers) {
    const { verdict: v, explained, unexplained } = judge(n, followUps.map((f) => f.id), attributed, processes, 'followup');
    followUpVerdicts[n] = v;
    explainedList.push(...explained);
    unexplainedList.push(...unexplained);
    if (v.lost) problems.push(`${n}: ${v.lost} follow-up(s) never delivered (first: ${v.lostAlertIds[0]})`);
    if (v.unexplained) problems.push(`${n}: ${v.unexplained} follow-up duplicate(s) not explained by a SIGKILL between send and record (${unexplained[0]!.alertId}: ${unexplained[0]!.why})`);
    if (v.foreign) problems.push(`${n}: ${v.foreign} follow-up message(s) the database does not hold`);
    const early = followUpsBeforeAlert(n, attributed);
    if (early.length) problems.push(`${n}: ${early.length} follow-up(s) received before their alert (first: ${early[0]!.followUpId} of ${early[0]!.alertId})`);
  }
  const keys = new Set(followUps.map((f) => f.key));
  const missing: string[] = [];
  for (const tokenId of lives.used.keys()) if (!keys.has(`first-use:${tokenId}`)) missing.push(`first-use:${tokenId}`);
  // A first use from Bucharest is news (another country and network than the creation's); one from
  // the creation's own place is not.
  const wrongSignals = followUps.filter((f) => {
    if (f.kind !== 'first-use') return false;
    const tokenId = f.key.slice('first-use:'.length);
    const news = f.signals.includes('new-country') && f.signals.includes('new-network');
    return lives.foreign.has(tokenId) ? !news : f.signals.length > 0;
  });
  if (wrongSignals.length) problems.push(`${wrongSignals.length} first-use follow-up(s) with the wrong signals (first: ${wrongSignals[0]!.key} ${JSON.stringify(wrongSignals[0]!.signals)})`);
  for (const [tokenId, uuid] of lives.revoked) {
    if (!keys.has(`lifecycle:${uuid}`)) missing.push(`lifecycle:${uuid} (revoke of ${tokenId})`);
    if (!keys.has(`digest:${tokenId}`)) missing.push(`digest:${tokenId} (revoked)`);
    const w = final.watches.find((x) => x.tokenId === tokenId);
    if (w?.closeReason !== 'revoked') problems.push(`the watch of revoked token ${tokenId} is ${w ? `closed as ${w.closeReason ?? 'nothing: still open'}` : 'missing'}`);
  }
  const digestReasons: Tally = {};
  let endedNotClosed = 0;
  for (const w of final.watches) {
    if (w.closedAt !== null) {
      bump(digestReasons, w.closeReason ?? 'unknown');
      if (!keys.has(`digest:${w.tokenId}`)) missing.push(`digest:${w.tokenId} (watch closed: ${w.closeReason})`);
    } else if (w.followedThrough !== null && Date.parse(w.followedThrough) >= Date.parse(w.watchUntil)) endedNotClosed++;
  }
  if (missing.length) problems.push(`${missing.length} follow-up(s) the token lives call for are missing (first: ${missing[0]})`);
  const revokeUuids = new Set(lives.revoked.values());
  const closed = new Set(final.watches.filter((w) => w.closedAt !== null).map((w) => w.tokenId));
  const unexpected = followUps.filter((f) => {
    const [kind, rest] = [f.key.slice(0, f.key.indexOf(':')), f.key.slice(f.key.indexOf(':') + 1)];
    return kind === 'first-use' ? !lives.used.has(rest) : kind === 'lifecycle' ? !revokeUuids.has(rest) : kind === 'digest' ? !closed.has(rest) : true;
  });
  if (unexpected.length) problems.push(`${unexpected.length} follow-up(s) about nothing the soak did (first: ${unexpected[0]!.key})`);
  const slackThreads = notifiers.includes('slack') ? slack.slackApiStats : null;
  if (slackThreads && slackThreads.unthreaded) problems.push(`slack: ${slackThreads.unthreaded} follow-up(s) posted outside their alert's thread`);
  const followUpKinds: Tally = {};
  for (const f of followUps) bump(followUpKinds, f.kind);

  const cursorChecks = sup.generations.filter((x) => x.after?.cursorPosition !== null && x.after?.cursorPosition !== undefined).length;
  say('  scenario: a write-locked database during delivery');
  const lockedDb = await lockedDatabaseScenario({ short: opts.short, seed: opts.seed, notifiers, log });
  problems.push(...lockedDb.problems);

  // --- scenario: a catch-up stopped by SIGTERM, then every cursor rejected (its own fake and database)
  const interruptedCatchUp = await runInterruptedCatchUp(say);
  problems.push(...interruptedCatchUp.problems);
  const clicks = await clicksScenario({ short: opts.short, seed: opts.seed, log, say });
  problems.push(...clicks.problems);
  const scale = await scaleScenario({ short: opts.short, seed: opts.seed, log, say, notifiers: opts.notifiers, engine: opts.scaleEngine });
  problems.push(...scale.problems);

  // --- report
  const okta: Tally = {};
  for (const q of fake.requests) bump(okta, `${q.path === '/api/v1/logs' ? 'logs' : q.path.startsWith('/api/v1/api-tokens/') ? 'api-tokens' : q.path} ${q.status || 'no answer'}`);
  const report = {
    tool: 'okta-token-watch soak',
    ok: problems.length === 0,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    options: opts,
    notifiers,
    injected: { events: injected.length, matching: matching.length, late: matching.filter((e) => e.late).length, otherTypes: injected.filter((e) => !e.matching && !e.followed).length, tokenLife: followedInjected.length },
    kills: { total: kills, byStrategy: tallies.kills, generations: sup.generations.length },
    faults: { okta: tallies.okta, receivers: tallies.receivers },
    push: { ...pushReport, firstStoredBy: bySource, killsBetweenCommitAndAnswer: committedPushKills },
    oktaRequests: okta,
    ticks: final.ticks,
    drain: { caughtUp, drainedAll, seconds: Math.round(drainMs / 1000), fastForwardedDeliveries: fastForwarded, gracefulStops: stops, drainProcesses: drainRounds },
    cursorChecks: { statesLeftByAProcess: cursorChecks, liveStates: liveChecks.states, violations: [...sup.generations.flatMap((x) => x.after?.violations ?? []), ...liveChecks.violations] },
    perNotifier,
    followUps: {
      total: followUps.length,
      byKind: followUpKinds,
      digestsByReason: digestReasons,
      watches: final.watches.length,
      watchesReadPastTheirEndNotYetClosed: endedNotClosed,
      tokenLives: { used: lives.used.size, foreignFirstUses: lives.foreignUses, sensitiveUses: lives.sensitiveUses, revoked: lives.revoked.size, events: followedInjected.length, stored: final.followedEvents },
      perNotifier: followUpVerdicts,
      slackThreads,
      missing,
      unexpected,
      firstUsesWithWrongSignals: wrongSignals,
    },
    lockedDatabase: lockedDb,
    duplicates: { explained: explainedList, unexplained: unexplainedList },
    interruptedCatchUp,
    clicks,
    scale,
    generations: sup.generations.map((x) => ({
      g: x.g,
      strategy: x.strategy,
      end: x.end,
      trigger: x.trigger,
      livedMs: x.endedAt !== null ? x.endedAt - x.spawnedAt : null,
      exitCode: x.exitCode,
      events: x.after?.events,
      cursorPosition: x.after?.cursorPosition,
      deliveries: x.after?.deliveries,
    })),
    problems,
    daemonLog: path.relative(ROOT, logPath),
  };

  say('');
  const rows = [['notifier', 'injected', 'received', 'lost', 'duplicates', 'explained', 'unexplained', 'refused while down']];
  for (const n of notifiers) {
    const p = perNotifier[n]!;
    rows.push([n, String(p.injected), String(p.received), String(p.lost), String(p.duplicates), String(p.explained), String(p.unexplained), JSON.stringify(p.refused)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  rows.forEach((r, j) => {
    say(r.map((c, i) => (i === 0 || i === 7 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
    if (j === 0) say(widths.map((w) => '-'.repeat(w)).join('  '));
  });
  say('');
  const frows = [['follow-ups', 'in database', 'received', 'lost', 'duplicates', 'explained', 'unexplained']];
  for (const n of notifiers) {
    const p = followUpVerdicts[n]!;
    frows.push([n, String(p.injected), String(p.received), String(p.lost), String(p.duplicates), String(p.explained), String(p.unexplained)]);
  }
  const fwidths = frows[0]!.map((_, i) => Math.max(...frows.map((r) => r[i]!.length)));
  frows.forEach((r, j) => {
    say(r.map((c, i) => (i === 0 ? c.padEnd(fwidths[i]!) : c.padStart(fwidths[i]!))).join('  '));
    if (j === 0) say(fwidths.map((w) => '-'.repeat(w)).join('  '));
  });
  say(
    `follow-ups: ${followUps.length} ${JSON.stringify(followUpKinds)}; digests by reason ${JSON.stringify(digestReasons)}; token lives: ${lives.used.size} used ` +
      `(${lives.foreignUses} first from another country, ${lives.sensitiveUses} sensitive events), ${lives.revoked.size} revoked, ${final.followedEvents}/${followedInjected.length} events stored; ` +
      `missing ${missing.length}, unexpected ${unexpected.length}` +
      (slackThreads ? `; slack thread replies ${slackThreads.threaded}, outside a thread ${slackThreads.unthreaded}, parent updates ${slackThreads.updates} (not found ${slackThreads.updatesNotFound})` : ''),
  );
  say('');
  say(`events: ${injected.length} persisted (${matching.length} token creations, ${report.injected.late} of them late, ${report.injected.otherTypes} of other types); stored ${finalStored}`);
  say(`kills: ${kills} SIGKILLs over ${sup.generations.length} processes ${JSON.stringify(tallies.kills)}; graceful stops: ${stops.every((x) => x.ok) ? 'exit 0' : 'FAILED'}`);
  say(`Okta faults: ${JSON.stringify(tallies.okta)}; requests: ${JSON.stringify(okta)}`);
  say(`receiver outages: ${JSON.stringify(tallies.receivers)}`);
  say(
    `push: ${pushReport.deliveries} deliveries (${pushReport.copies} duplicates, ${pushReport.reordered} out of order), answers ${JSON.stringify(pushReport.answers)}; ` +
      `Okta retries ${pushReport.retries} ${JSON.stringify(pushReport.retryAnswers)} (after an answer lost to a kill: ${JSON.stringify(pushReport.retriedAfterLostAnswer)}); dropped ${pushReport.dropped}; ` +
      `${committedPushKills} kill(s) between a push commit and its answer; verification ${pushReport.verification?.ok ? 'ok' : 'FAILED'}`,
  );
  say(
    `events first stored by: ${Object.entries(bySource).map(([k, v]) => `${k} ${v}`).join(', ')}; ${pushReport.droppedThenPolled} token creation(s) dropped by push and stored by the poller`,
  );
  say(
    `ticks: ${final.ticks.ok} ok, ${final.ticks.failed} failed; store guarantees checked in ${cursorChecks} states left by a process and ${liveChecks.states} live states: ${report.cursorChecks.violations.length} violation(s)`,
  );
  say(`drain: ${drainedAll ? 'everything delivered' : 'NOT everything delivered'} in ${report.drain.seconds}s (${fastForwarded} pending deliveries fast-forwarded)`);
  say(
    `locked database: ${lockedDb.locks} write locks held over the busy timeout while a receiver answered; ${lockedDb.recordRetries} records retried (${lockedDb.recordedAfterRetry} landed after retrying); ` +
      Object.entries(lockedDb.perNotifier).map(([k, v]) => `${k} ${v.received}/${lockedDb.events} lost ${v.lost} duplicates ${v.duplicates}`).join(', '),
  );
  for (const p of problems) say(`FAIL: ${p}`);
  say(problems.length ? `soak FAILED (seed ${opts.seed})` : `soak passed (seed ${opts.seed})`);

  const file = path.join(resultsDir, `soak-${runId}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  say(`results written to ${path.relative(process.cwd(), file)}`);
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');

  for (const r of [slack, webhook, smtp]) await r.stop();
  await fake.stop();
  log.end();
  fs.rmSync(dir, { recursive: true, force: true });
  return problems.length ? 1 : 0;
}

/** `--only scale`: the two-replica, many-orgs scenario alone, with its own report. */
async function scaleOnly(
  opts: Options,
  o: { say: (s: string) => void; log: fs.WriteStream; logPath: string; resultsDir: string; runId: string; startedAt: Date },
): Promise<number> {
  o.say(`okta-token-watch soak, scale scenario only: seed ${opts.seed}${opts.short ? ' [short]' : ''}`);
  o.say(`  daemon log: ${path.relative(process.cwd(), o.logPath)}`);
  const scale = await scaleScenario({ short: opts.short, seed: opts.seed, log: o.log, say: o.say, notifiers: opts.notifiers, engine: opts.scaleEngine });
  const report = {
    tool: 'okta-token-watch soak',
    ok: scale.problems.length === 0,
    startedAt: o.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: opts,
    scale,
    problems: scale.problems,
    daemonLog: path.relative(ROOT, o.logPath),
  };
  for (const p of scale.problems) o.say(`FAIL: ${p}`);
  o.say(scale.problems.length ? `soak FAILED (seed ${opts.seed})` : `soak passed (seed ${opts.seed})`);
  const file = path.join(o.resultsDir, `soak-${o.runId}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  o.say(`results written to ${path.relative(process.cwd(), file)}`);
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  o.log.end();
  return scale.problems.length ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Sockets of the receivers or the fake must not keep a finished run alive.
    setTimeout(() => process.exit(code), 3000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(2);
  },
);
