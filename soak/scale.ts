/**
 * Soak scenario "two replicas, many orgs" (issue 14; see soak/README.md): two `okta-token-watch run`
 * processes on one throwaway PostgreSQL split 20 fake orgs (ORGS_FILE) by lease. Token creations
 * arrive over time in every org, read by the pollers and pushed to `/okta/event-hook/<org>` on
 * either replica; the soak SIGKILLs either replica at random (on a timer, right after a notifier
 * accepted a message it sent, right after it committed a push it had not answered yet, or at start)
 * and restarts it. Then it drains and checks:
 * - lost = 0 for every org and notifier; every duplicate explained by a SIGKILL between a send and
 *   its record (each process has its own webhook path, Slack API path, mail sender and stdout, so
 *   every message names the process that sent it);
 * - each org a killed replica was reading is read by another process within LEASE_TTL + one interval
 *   (+ a tolerance for a loaded machine), from the fake orgs' request log;
 * - never two processes reading one org's System Log in one schedule slot (same log: each process
 *   has its own Okta token, so each request names the process that made it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { FakeOktaOrgs, orgNames, orgsFileYaml } from '../src/simulator/okta-orgs';
import { HookPusher, type AttemptResult } from '../src/simulator/hook-pusher';
import { tokenEvent, uuidFor } from '../test/helpers/events';
import { startPgCluster, type PgCluster } from '../test/helpers/pg-cluster';
import { prng } from '../test/helpers/random';
import { freePort } from './push';
import { HttpReceiver, SmtpReceiver, SOAK_SLACK_CHANNEL, type Receipt } from './receivers';
import { closestForeignReads, handovers, judgeReplicas, overlappingReads, senderOf, type Kill, type ProcessEnd, type SentBy } from './scale-checks';
import type { Duplicate, NotifierVerdict } from './verdict';
import { sleep, until } from './wait';

const ROOT = path.resolve(__dirname, '..');

/** LEASE_TTL and the POLL_SCHEDULE period the replicas run with. */
export const SCALE_LEASE_TTL_MS = 10_000;
export const SCALE_INTERVAL_MS = 2_000;
/** Slack a loaded 2-core machine gets on top of LEASE_TTL + one interval for a handover. */
const HANDOVER_TOLERANCE_MS = 1_500;

/** The scenario's report (part of soak's JSON). */
export interface ScaleReport {
  ran: boolean;
  /** Why it did not run (no PostgreSQL, say). */
  skipped?: string;
  orgs: number;
  seconds: number;
  injected: number;
  pushed: { deliveries: number; answers: Record<string, number>; dropped: number };
  kills: { total: number; byStrategy: Record<string, number> };
  processes: number;
  perNotifier: Record<string, NotifierVerdict>;
  perOrg: Record<string, { injected: number; stored: number; lost: number }>;
  duplicates: { explained: Duplicate[]; unexplained: Duplicate[] };
  handovers: { measured: number; notMeasured: number; maxMs: number | null; boundMs: number; late: Array<{ org: string; from: string; to: string | null; ms: number | null }> };
  overlaps: Array<{ org: string; slotStart: string; who: string[] }>;
  closestForeignReadsMs: number | null;
  systemLogReads: Record<string, number>;
  leaseChanges: number;
  problems: string[];
}

/** One daemon process. */
interface Proc extends ProcessEnd {
  g: number;
  slot: 0 | 1;
  child: ChildProcess;
  pid: number | undefined;
  spawnedAt: number;
  endedAt: number | null;
  ready: boolean;
  readyAt: number | null;
  exitCode: number | null;
  /** Holds every push answer after its commit (OTW_TEST_HOLD_PUSH_ANSWER), for the after-push kill. */
  holdsPush: boolean;
  /** Its event hook receiver said it listens. */
  hookListening: boolean;
  exited: Promise<void>;
  stderrTail: string[];
}

type Strategy = 'timer' | 'after-receipt' | 'after-push' | 'startup';

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

function between(rand: () => number, [min, max]: [number, number]): number {
  return Math.round(min + rand() * (max - min));
}

function answerOf(a: AttemptResult): string {
  if (a.status === 'timeout') return 'timeout';
  if (a.status === 'error') return /ECONNREFUSED/.test(a.error) ? 'refused' : /ECONNRESET|socket hang up/.test(a.error) ? 'reset' : 'error';
  return String(a.status);
}

/** Runs the scenario. */
export async function scaleScenario(o: {
  short: boolean;
  seed: number;
  log: fs.WriteStream;
  say: (s: string) => void;
  notifiers?: string[] | null;
  /** `sqlite`: both replicas on one SQLite file instead (a way to try the scenario without PostgreSQL). */
  engine?: 'postgres' | 'sqlite';
}): Promise<ScaleReport> {
  const t0 = Date.now();
  const problems: string[] = [];
  const names = orgNames(20);
  const report: ScaleReport = {
    ran: false,
    orgs: names.length,
    seconds: 0,
    injected: 0,
    pushed: { deliveries: 0, answers: {}, dropped: 0 },
    kills: { total: 0, byStrategy: {} },
    processes: 0,
    perNotifier: {},
    perOrg: {},
    duplicates: { explained: [], unexplained: [] },
    handovers: { measured: 0, notMeasured: 0, maxMs: null, boundMs: SCALE_LEASE_TTL_MS + SCALE_INTERVAL_MS + HANDOVER_TOLERANCE_MS, late: [] },
    overlaps: [],
    closestForeignReadsMs: null,
    systemLogReads: {},
    leaseChanges: 0,
    problems,
  };

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-soak-scale-'));
  // PostgreSQL (the subject); SQLite (one file, both replicas) only when asked, to try the scenario
  // on a daemon whose PostgreSQL path is not there yet.
  const engine = o.engine ?? 'postgres';
  let cluster: PgCluster | null = null;
  let dbEnv: Record<string, string>;
  let q: <T>(sql: string, params?: unknown[]) => Promise<T[]>;
  let closeDb: () => Promise<void>;
  if (engine === 'postgres') {
    try {
      cluster = await startPgCluster();
    } catch (err) {
      const why = `PostgreSQL could not be started: ${err instanceof Error ? err.message : String(err)}`;
      problems.push(`scale: ${why}`);
      fs.rmSync(dir, { recursive: true, force: true });
      return { ...report, skipped: why };
    }
    const databaseUrl = await cluster.createDatabase();
    dbEnv = { DATABASE_URL: databaseUrl };
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    pool.on('error', () => undefined);
    // `?` placeholders as the project's SQL writes them; `(?*)` is a list.
    q = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
      let i = 0;
      return (await pool.query(sql.replace(/\(\?\*\)/g, () => `= ANY($${++i})`).replace(/\?/g, () => `$${++i}`), params)).rows as T[];
    };
    closeDb = () => pool.end().catch(() => undefined);
  } else {
    const dbPath = path.join(dir, 'otw.sqlite');
    dbEnv = { DB_PATH: dbPath };
    let db: Database.Database | null = null;
    q = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
      db ??= new Database(dbPath, { fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      const flat: unknown[] = [];
      let k = 0;
      const expanded = sql.replace(/\(\?\*\)|\?/g, (m) => {
        const v = params[k++];
        if (m === '?') {
          flat.push(v);
          return '?';
        }
        const list = v as unknown[];
        flat.push(...list);
        return `IN (${list.map(() => '?').join(', ') || 'NULL'})`;
      });
      const st = db.prepare(expanded);
      return (st.reader ? st.all(...flat) : (st.run(...flat), [])) as T[];
    };
    closeDb = async () => {
      db?.close();
    };
  }
  report.ran = true;
  const emptyEnv = path.join(dir, 'empty.env');
  fs.writeFileSync(emptyEnv, '');
  const fakes = new FakeOktaOrgs(names, { rateLimit: 6000 });
  await fakes.start();
  const orgsFile = path.join(dir, 'orgs.yaml');
  fs.writeFileSync(orgsFile, orgsFileYaml(names.map((name) => ({ name, url: fakes.org(name).origin })), { tokenEnv: 'SOAK_OKTA_TOKEN', hookSecretEnv: 'SOAK_EVENT_HOOK_SECRET' }));

  const webhookSecret = crypto.randomBytes(24).toString('hex');
  const slack = new HttpReceiver('slack', null, true);
  const webhook = new HttpReceiver('webhook', webhookSecret);
  const smtp = new SmtpReceiver();
  await Promise.all([slack.start(), webhook.start(), smtp.start()]);
  const notifiers = (o.notifiers ?? ['slack', 'email', 'webhook', 'console']).filter((n) => ['slack', 'email', 'webhook', 'console'].includes(n));
  const hookSecret = 'FAKE-soak-scale-hook-secret-' + crypto.randomBytes(12).toString('hex');
  const ports: [number, number] = [await freePort(), await freePort()];
  const rand = prng(o.seed * 13 + 101);
  const killRand = prng(o.seed * 13 + 102);

  // --- processes
  const procs: Proc[] = [];
  /** When each process was sent SIGTERM (graceful stops). */
  const stopAskedAt = new Map<string, number>();
  const current: [Proc | null, Proc | null] = [null, null];
  const consoleReceipts: SentBy[] = [];
  let killOnReceipt: ((r: SentBy) => void) | null = null;
  const alive = (p: Proc | null): p is Proc => p !== null && p.end === null;

  const spawnProc = (slot: 0 | 1, holdsPush = false): Proc => {
    const g = procs.length + 1;
    const who = `g${g}`;
    const token = `FAKE-okta-api-token-soak-scale-${who}`;
    fakes.addToken(token, who);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ORGS_FILE: orgsFile,
      SOAK_OKTA_TOKEN: token,
      ...dbEnv,
      LEASE_TTL: `${SCALE_LEASE_TTL_MS / 1000}s`,
      POLL_SCHEDULE: `*/${SCALE_INTERVAL_MS / 1000} * * * * *`,
      LOOKBACK: '30m',
      OKTA_REQUEST_TIMEOUT: '2s',
      OKTA_MAX_RETRIES: '1',
      OKTA_MAX_RATE_LIMIT_WAIT: '3s',
      DELIVERY_INTERVAL: '1s',
      DELIVERY_MAX_ATTEMPTS: '1000',
      MAX_ALERTS_PER_RUN: '100000',
      NOTIFY_TIMEOUT: '5s',
      // Following is the other scenarios' subject; here every System Log read is a poll.
      FOLLOW_WINDOW: '0',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      NOTIFIERS: notifiers.join(','),
      // Each process its own path and sender: a message names the process that sent it.
      SLACK_BOT_TOKEN: 'xoxb-FAKE-soak-scale-bot-token',
      SLACK_CHANNEL: SOAK_SLACK_CHANNEL,
      SLACK_API_URL: `${slack.url}/${who}`,
      WEBHOOK_URL: `${webhook.url}/${who}`,
      WEBHOOK_SECRET: webhookSecret,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtp.port),
      SMTP_REQUIRE_TLS: 'false',
      EMAIL_FROM: `otw-${who}@example.com`,
      EMAIL_TO: 'secops@example.com',
      EVENT_HOOK_HOST: '127.0.0.1',
      EVENT_HOOK_PORT: String(ports[slot]),
      SOAK_EVENT_HOOK_SECRET: hookSecret,
      ...(holdsPush ? { OTW_TEST_HOLD_PUSH_ANSWER: String(process.pid) } : {}),
    };
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli.ts'), 'run', '--env-file', emptyEnv], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const p: Proc = {
      g,
      who,
      slot,
      child,
      pid: child.pid,
      spawnedAt: Date.now(),
      endedAt: null,
      end: null,
      trigger: null,
      sentAfter: null,
      ready: false,
      readyAt: null,
      exitCode: null,
      holdsPush,
      hookListening: false,
      exited: Promise.resolve(),
      stderrTail: [],
    };
    p.exited = new Promise<void>((resolve) =>
      child.on('exit', (code) => {
        p.exitCode = code;
        p.endedAt = Date.now();
        if (p.end === null) p.end = 'crashed';
        resolve();
      }),
    );
    onLines(child.stderr!, (line) => {
      o.log.write(`[scale ${who} slot ${slot}] ${line}\n`);
      if (!p.ready && line.includes('"message":"okta-token-watch started"')) {
        p.ready = true;
        p.readyAt = Date.now();
      }
      if (line.includes('"message":"event hook receiver listening"')) p.hookListening = true;
      p.stderrTail.push(line);
      if (p.stderrTail.length > 10) p.stderrTail.shift();
    });
    onLines(child.stdout!, (line) => {
      if (!line.startsWith('{')) return;
      let m: { type?: string; id?: string; tokenName?: string | null };
      try {
        m = JSON.parse(line) as typeof m;
      } catch {
        return;
      }
      if (m.type !== 'okta-token-watch.alert' && m.type !== 'okta-token-watch.summary') return;
      const r: SentBy = {
        notifier: 'console',
        at: Date.now(),
        alertIds: m.type === 'okta-token-watch.alert' && m.id ? [m.id] : [],
        kind: m.type === 'okta-token-watch.alert' ? 'alert' : 'summary',
        defects: m.type === 'okta-token-watch.alert' && !/^soak-token-\d+$/.test(m.tokenName ?? '') ? ['token name missing'] : [],
        who,
      };
      consoleReceipts.push(r);
      killOnReceipt?.(r);
    });
    procs.push(p);
    current[slot] = p;
    o.log.write(`[scale] ${who} started in slot ${slot} (pid ${child.pid}${holdsPush ? ', holding push answers' : ''})\n`);
    return p;
  };

  /** What the database says was sent, read right after a kill (before anyone could resend). */
  const sentNow = async (): Promise<Set<string> | null> => {
    try {
      const rows = await q<{ alertId: string; notifier: string }>(
        `SELECT a.alert_id AS "alertId", d.notifier FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.status = 'sent'`,
      );
      return new Set(rows.map((r) => `${r.alertId}|${r.notifier}`));
    } catch {
      return null;
    }
  };

  const kills: Kill[] = [];
  const sentReads: Array<Promise<void>> = [];
  const killNow = (p: Proc, trigger: string): void => {
    if (p.end !== null) return;
    p.end = 'sigkill';
    p.trigger = trigger;
    p.child.kill('SIGKILL');
    kills.push({ who: p.who, at: Date.now() });
    o.log.write(`[scale] ${p.who} SIGKILL (${trigger})\n`);
    sentReads.push(sentNow().then((s) => void (p.sentAfter = s)));
  };

  const stopGracefully = async (p: Proc): Promise<string | null> => {
    if (p.end !== null) return null;
    await until(() => p.ready || p.end !== null, 30_000);
    if (p.end !== null) return `${p.who} ended before it was stopped (${p.end}): ${p.stderrTail.slice(-2).join(' | ').slice(0, 300)}`;
    p.end = 'sigterm';
    stopAskedAt.set(p.who, Date.now());
    p.child.kill('SIGTERM');
    // A graceful stop may wait for sends in flight to be recorded (RECORD_STOP_GRACE_MS, 30 s) after
    // the page in hand: 60 s is that budget with room, well inside the unit's TimeoutStopSec.
    const done = await Promise.race([p.exited.then(() => true), sleep(60_000).then(() => false)]);
    if (!done) {
      p.child.kill('SIGKILL');
      await p.exited;
      return `${p.who} did not exit within 60 s of SIGTERM`;
    }
    return p.exitCode === 0 ? null : `${p.who} exited ${p.exitCode} after SIGTERM, not 0`;
  };

  // --- receipts: every notifier's messages with the process that sent them
  const receipts = (): SentBy[] => [
    ...[slack, webhook, smtp].flatMap((r) => r.receipts.map((x: Receipt): SentBy => ({ ...x, who: senderOf(x.via) ?? '?' }))),
    ...consoleReceipts,
  ];
  for (const r of [slack, webhook, smtp]) r.onAccept = (x) => killOnReceipt?.({ ...x, who: senderOf(x.via) ?? '?' });

  // --- Okta's event hooks: one pusher per replica and org (a load balancer in front of both)
  const pushers = new Map<string, HookPusher>();
  const pushOutcomes: Array<{ delivered: boolean; answers: string[] }> = [];
  const inFlight = new Map<number, { slot: 0 | 1; uuids: string[] }>();
  let flightSeq = 0;
  let pushPrefer: 0 | 1 | null = null;
  const pushes = new Set<Promise<void>>();
  const push = (org: string, events: Array<Record<string, unknown>>): void => {
    const slot: 0 | 1 = pushPrefer ?? (rand() < 0.5 ? 0 : 1);
    const key = `${slot}|${org}`;
    let pusher = pushers.get(key);
    if (!pusher) {
      const retryRand = prng(o.seed * 13 + 200 + pushers.size);
      pusher = new HookPusher({ url: `http://127.0.0.1:${ports[slot]}/okta/event-hook/${org}`, secret: hookSecret, orgUrl: fakes.org(org).origin, retryConnectionErrors: true, retryDelayMs: () => Math.round(200 + retryRand() * 3000) });
      pushers.set(key, pusher);
    }
    const id = ++flightSeq;
    inFlight.set(id, { slot, uuids: events.map((e) => String(e.uuid)) });
    const p = pusher
      .deliver(events)
      .then((out) => void pushOutcomes.push({ delivered: out.delivered, answers: out.attempts.map(answerOf) }))
      .finally(() => {
        inFlight.delete(id);
        pushes.delete(p);
      });
    pushes.add(p);
  };

  // --- events over time, in every org
  const injected: Array<{ n: number; org: string; uuid: string; alertId: string }> = [];
  let nextN = 1;
  const faults = new AbortController();
  const eventsPerMinute = o.short ? 60 : 45;
  const injector = (async () => {
    const meanGap = 60_000 / eventsPerMinute;
    while (!faults.signal.aborted) {
      const org = names[Math.floor(rand() * names.length)]!;
      const size = 1 + Math.floor(rand() * 3);
      const batch = Array.from({ length: size }, () => {
        const n = nextN++;
        const published = new Date(Date.now() - between(rand, [0, 20_000])).toISOString();
        const event = tokenEvent(n, published, { target: [{ id: `00T${String(n).padStart(17, '0')}`, type: 'Token', alternateId: 'unknown', displayName: `soak-token-${n}` }] });
        injected.push({ n, org, uuid: uuidFor(n), alertId: `otw-${uuidFor(n)}` });
        return event;
      });
      fakes.org(org).persist(...batch);
      // Most batches are pushed as well (to either replica); the rest only the poller finds.
      if (rand() < 0.7) push(org, batch);
      await sleep(between(rand, [meanGap * size * 0.3, meanGap * size * 1.7]), faults.signal);
    }
  })();

  // --- the leases as the database shows them (reported; the checks use the request log)
  let leaseChanges = 0;
  const holders = new Map<string, string>();
  const leaseWatcher = (async () => {
    while (!faults.signal.aborted) {
      await sleep(500, faults.signal);
      try {
        for (const r of await q<{ org: string; holder: string }>('SELECT org, holder FROM leases')) {
          if (holders.get(r.org) !== r.holder) {
            if (holders.has(r.org)) leaseChanges++;
            o.log.write(`[scale] lease ${r.org}: ${holders.get(r.org) ?? 'none'} -> ${r.holder}\n`);
            holders.set(r.org, r.holder);
          }
        }
      } catch {
        /* not migrated yet */
      }
    }
  })();

  o.say(`  scenario: two replicas on ${engine === 'postgres' ? 'PostgreSQL' : 'one SQLite file'}, ${names.length} orgs (LEASE_TTL ${SCALE_LEASE_TTL_MS / 1000}s, a poll every ${SCALE_INTERVAL_MS / 1000}s), notifiers ${notifiers.join(', ')}`);
  spawnProc(0);
  spawnProc(1);

  // --- kills: one replica at a time, the other up long enough for a handover to be measured
  const faultMs = o.short ? 80_000 : 300_000;
  const settleMs = SCALE_LEASE_TTL_MS + SCALE_INTERVAL_MS + HANDOVER_TOLERANCE_MS + 1000;
  const faultsEnd = t0 + faultMs;
  const restarts = new Set<Promise<void>>();
  const restart = (slot: 0 | 1): void => {
    const p = (async () => {
      await sleep(between(killRand, [500, 4000]));
      const holdsPush = killRand() < 0.35;
      const n = spawnProc(slot, holdsPush);
      if (killRand() < 0.2) {
        // Killed while it starts: it holds nothing yet, or just got its first leases.
        await sleep(between(killRand, [200, 2500]));
        if (n.end === null) {
          killNow(n, 'at start');
          bump(report.kills.byStrategy, 'startup');
          report.kills.total++;
          await n.exited;
          o.say(`  scale kill ${report.kills.total}: ${n.who} (slot ${slot}) at start, after ${((n.endedAt! - n.spawnedAt) / 1000).toFixed(1)}s`);
          await sleep(300);
          current[slot] = null;
          await sleep(between(killRand, [500, 2000]));
          spawnProc(slot, killRand() < 0.35);
        }
      }
    })().finally(() => restarts.delete(p));
    restarts.add(p);
  };
  let lastKill = 0;
  let crashed = 0;
  const killsBySlot: [number, number] = [0, 0];
  while (Date.now() < faultsEnd - settleMs) {
    await sleep(between(killRand, [2000, 5000]));
    // A process that exited by itself is a problem (reported below); it is restarted, three end the run.
    for (const slot of [0, 1] as const) {
      const p = current[slot];
      if (p && p.end === 'crashed' && restarts.size === 0) {
        crashed++;
        current[slot] = null;
        if (crashed < 3) spawnProc(slot);
      }
    }
    if (crashed >= 3) {
      problems.push('scale: the daemon keeps exiting by itself; the run stops early');
      break;
    }
    // Either replica: the one killed fewer times so far, a coin toss between equals (so every run
    // kills both about as often, whatever the timing does to the draws).
    const slot: 0 | 1 = killsBySlot[0] === killsBySlot[1] ? (killRand() < 0.5 ? 0 : 1) : killsBySlot[0] < killsBySlot[1] ? 0 : 1;
    const target = current[slot];
    const other = current[slot === 0 ? 1 : 0];
    const wait =
      !alive(target) || !target.ready
        ? `slot ${slot} is not up`
        : !alive(other) || !other.ready
          ? `slot ${slot === 0 ? 1 : 0} is not up`
          : Date.now() - lastKill < settleMs
            ? 'the last handover may still run'
            : Date.now() - (other.readyAt ?? Infinity) < SCALE_INTERVAL_MS * 2
              ? `slot ${slot === 0 ? 1 : 0} only just started`
              : null;
    if (wait || !target) {
      o.log.write(`[scale] no kill of slot ${slot} now: ${wait}\n`);
      continue;
    }
    killsBySlot[slot]++;
    const strategy: Strategy = target.holdsPush ? 'after-push' : killRand() < 0.5 ? 'timer' : 'after-receipt';
    let trigger = 'fallback timer';
    if (strategy === 'timer') trigger = 'timer';
    else if (strategy === 'after-receipt') {
      const armed = new Promise<void>((resolve) => {
        killOnReceipt = (r) => {
          if (r.who !== target.who) return;
          killNow(target, `right after ${r.notifier} accepted ${r.alertIds[0] ?? r.kind} from it, before the answer`);
          resolve();
        };
      });
      await Promise.race([armed, sleep(10_000)]);
      killOnReceipt = null;
    } else {
      // Okta pushes to this replica until one of its pushes is committed and still unanswered.
      // A push batch's commit shows as source_receipts' push batches going up (written in the batch's
      // transaction); the events may have been stored by the poller already, so they say nothing.
      pushPrefer = slot;
      const pushBatches = async (): Promise<number> => Number((await q<{ n: number | string }>(`SELECT COALESCE(SUM(batches), 0) AS n FROM source_receipts WHERE source = 'push'`))[0]?.n ?? 0);
      let before: number | null = null;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && target.end === null) {
        try {
          const n = await pushBatches();
          before ??= n;
          const flights = [...inFlight.values()];
          // Only pushes to the target are open: the commit is its.
          if (n > before && flights.some((f) => f.slot === slot) && flights.every((f) => f.slot === slot)) {
            killNow(target, 'right after it committed a push, before its answer');
            break;
          }
          if (n > before) before = n;
        } catch {
          /* not migrated yet: the next look will do */
        }
        await sleep(20);
      }
      pushPrefer = null;
    }
    if (target.end === null) killNow(target, trigger);
    bump(report.kills.byStrategy, target.trigger === 'fallback timer' ? `${strategy} (fell back to the timer)` : strategy);
    report.kills.total++;
    lastKill = Date.now();
    await target.exited;
    o.say(`  scale kill ${report.kills.total}: ${target.who} (slot ${slot}) ${target.trigger} after ${((target.endedAt! - target.spawnedAt) / 1000).toFixed(1)}s`);
    current[slot] = null;
    restart(slot);
  }
  while (Date.now() < faultsEnd && crashed < 3) await sleep(250);
  const measurableUntil = Date.now();
  faults.abort();
  await Promise.all([injector, leaseWatcher, ...restarts]);
  for (const p of procs) if (p.end === 'crashed') problems.push(`scale: ${p.who} exited by itself (code ${p.exitCode}): ${p.stderrTail.slice(-2).join(' | ').slice(0, 300)}`);

  // --- drain: both replicas up; every event stored; then stop, compress the backoff, deliver the rest
  for (const slot of [0, 1] as const) {
    const p = current[slot];
    // A process holding push answers would hold its SIGTERM too (the receiver waits for them): it
    // goes the way such processes always go here, and a plain one takes its place.
    if (alive(p) && p.holdsPush) {
      killNow(p, 'drain: it holds push answers');
      await p.exited;
    }
    if (!alive(current[slot])) spawnProc(slot);
  }
  let noOrgColumn = false;
  const storedUuids = async (): Promise<Map<string, string>> => {
    try {
      return new Map((await q<{ uuid: string; org: string }>('SELECT uuid, org FROM events')).map((r) => [r.uuid, r.org]));
    } catch {
      // A schema without events.org (before migration 014): stored, under no org.
      try {
        const rows = await q<{ uuid: string }>('SELECT uuid FROM events');
        if (!noOrgColumn) problems.push('scale: the events table has no org column: which org an event was stored under is not checked');
        noOrgColumn = true;
        return new Map(rows.map((r) => [r.uuid, '?']));
      } catch {
        return new Map();
      }
    }
  };
  let stored = new Map<string, string>();
  // A daemon that cannot run is not waited for.
  const waitMs = (ms: number): number => (crashed >= 3 ? 0 : ms);
  for (const end = Date.now() + waitMs(o.short ? 60_000 : 180_000); Date.now() < end; await sleep(500)) {
    stored = await storedUuids();
    if (injected.every((e) => stored.has(e.uuid))) break;
  }
  if (!injected.every((e) => stored.has(e.uuid))) problems.push(`scale: ${injected.filter((e) => !stored.has(e.uuid)).length} of ${injected.length} injected token creations not stored after the faults stopped`);
  while (pushes.size) await Promise.allSettled([...pushes]);
  for (const slot of [0, 1] as const) {
    const why = await stopGracefully(current[slot]!);
    if (why) problems.push(`scale: SIGTERM: ${why}`);
  }
  // Nothing runs: pending rows (backing off, or claimed by a killed process) become due now.
  try {
    await q(`UPDATE deliveries SET next_attempt_at = ?, claimed_by = NULL WHERE status = 'pending'`, [new Date().toISOString()]);
  } catch (err) {
    problems.push(`scale: could not fast-forward pending deliveries: ${err instanceof Error ? err.message : String(err)}`);
  }
  const expected = injected.map((e) => e.alertId);
  const delivered = (): boolean => {
    const seen = new Map<string, Set<string>>(notifiers.map((n) => [n, new Set()]));
    for (const r of receipts()) for (const id of r.alertIds) seen.get(r.notifier)?.add(id);
    return notifiers.every((n) => expected.every((id) => seen.get(n)!.has(id)));
  };
  spawnProc(0);
  spawnProc(1);
  // Slack takes a message a second per process.
  const drained = await until(delivered, waitMs(Math.max(o.short ? 60_000 : 180_000, notifiers.includes('slack') ? expected.length * 600 + 30_000 : 0)), 300);
  if (!drained) problems.push('scale: not every alert reached every notifier after the drain');
  await sleep(1500);
  for (const slot of [0, 1] as const) {
    const why = await stopGracefully(current[slot]!);
    if (why) problems.push(`scale: SIGTERM: ${why}`);
  }

  // --- verdicts
  stored = await storedUuids();
  await Promise.all(sentReads);
  const all = receipts();
  for (const n of notifiers) {
    const { verdict, explained, unexplained } = judgeReplicas(n, expected, all, procs);
    report.perNotifier[n] = verdict;
    report.duplicates.explained.push(...explained);
    report.duplicates.unexplained.push(...unexplained);
    if (verdict.lost) problems.push(`scale: ${n}: ${verdict.lost} alert(s) never delivered (first: ${verdict.lostAlertIds[0]})`);
    if (verdict.unexplained) problems.push(`scale: ${n}: ${verdict.unexplained} duplicate(s) not explained by a SIGKILL between send and record (${unexplained[0]!.alertId}: ${unexplained[0]!.why})`);
    if (verdict.foreign) problems.push(`scale: ${n}: ${verdict.foreign} message(s) about alerts that were not injected`);
    if (verdict.summaries) problems.push(`scale: ${n}: ${verdict.summaries} summary message(s) (MAX_ALERTS_PER_RUN=100000 means one message per alert)`);
    if (verdict.defects.length) problems.push(`scale: ${n}: message defects: ${verdict.defects.join('; ')}`);
  }
  const unknownSender = all.filter((r) => r.who === '?').length;
  if (unknownSender) problems.push(`scale: ${unknownSender} message(s) that do not say which process sent them`);
  const receivedBy = new Map<string, Set<string>>(notifiers.map((n) => [n, new Set()]));
  for (const r of all) for (const id of r.alertIds) receivedBy.get(r.notifier)?.add(id);
  for (const name of names) {
    const mine = injected.filter((e) => e.org === name);
    const lost = Math.max(0, ...notifiers.map((n) => mine.filter((e) => !receivedBy.get(n)!.has(e.alertId)).length));
    const wrongOrg = noOrgColumn ? 0 : mine.filter((e) => stored.has(e.uuid) && stored.get(e.uuid) !== name).length;
    if (wrongOrg) problems.push(`scale: ${wrongOrg} event(s) of ${name} stored under another org`);
    report.perOrg[name] = { injected: mine.length, stored: mine.filter((e) => stored.get(e.uuid) === (noOrgColumn ? '?' : name)).length, lost };
  }

  const log = fakes.requestLog();
  const h = handovers(log, kills, { ttlMs: SCALE_LEASE_TTL_MS, intervalMs: SCALE_INTERVAL_MS, toleranceMs: HANDOVER_TOLERANCE_MS, measurableUntil });
  report.handovers.measured = h.handovers.length;
  report.handovers.notMeasured = h.notMeasured;
  report.handovers.maxMs = h.handovers.length ? Math.max(...h.handovers.map((x) => x.ms ?? Infinity)) : null;
  report.handovers.late = h.handovers.filter((x) => !x.ok).map(({ org, from, to, ms }) => ({ org, from, to, ms }));
  if (report.handovers.late.length) problems.push(`scale: ${report.handovers.late.length} org(s) not taken over within LEASE_TTL + one interval (+${HANDOVER_TOLERANCE_MS} ms): first ${JSON.stringify(report.handovers.late[0])}`);
  const killsWithLeases = kills.filter((k) => log.some((r) => r.systemLog && r.who === k.who && r.at <= k.at && r.at >= k.at - 2 * SCALE_INTERVAL_MS)).length;
  if (report.kills.total > 0 && killsWithLeases === 0) problems.push('scale: no killed replica was reading any org when it was killed: no handover was exercised');
  // A process stopped (it releases its leases) or killed hands its orgs over: reads of another
  // process after that, in the same slot, are a handover, not two readers.
  const endedAt = new Map<string, number>(stopAskedAt);
  for (const k of kills) endedAt.set(k.who, Math.min(k.at, endedAt.get(k.who) ?? Infinity));
  report.overlaps = overlappingReads(log, SCALE_INTERVAL_MS, endedAt);
  if (report.overlaps.length) problems.push(`scale: ${report.overlaps.length} slot(s) in which two processes read one org's System Log (first: ${JSON.stringify(report.overlaps[0])})`);
  report.closestForeignReadsMs = closestForeignReads(log)?.ms ?? null;
  for (const r of log) if (r.systemLog) report.systemLogReads[r.status ? String(r.status) : 'no answer'] = (report.systemLogReads[r.status ? String(r.status) : 'no answer'] ?? 0) + 1;
  const unlabelled = log.filter((r) => r.who === null && r.path !== '/oauth2/v1/token').length;
  if (unlabelled) problems.push(`scale: ${unlabelled} Okta request(s) made with a token no soak process was given`);
  report.leaseChanges = leaseChanges;
  report.injected = injected.length;
  report.processes = procs.length;
  for (const out of pushOutcomes) {
    report.pushed.deliveries++;
    if (!out.delivered) report.pushed.dropped++;
    for (const a of out.answers) bump(report.pushed.answers, a);
  }
  report.seconds = Math.round((Date.now() - t0) / 1000);
  const deaf = procs.filter((p) => p.ready && !p.hookListening).map((p) => p.who);
  if (deaf.length) problems.push(`scale: the event hook receiver never said it listens in ${deaf.length} of ${procs.filter((p) => p.ready).length} started process(es) (first: ${deaf[0]})`);
  if (report.pushed.deliveries > 0 && !pushOutcomes.some((x) => x.delivered)) problems.push(`scale: none of ${report.pushed.deliveries} push deliveries was accepted by either replica`);

  const lostTotal = Object.values(report.perNotifier).reduce((n, v) => n + v.lost, 0);
  o.say(
    `  scale: ${injected.length} token creations in ${names.length} orgs, ${report.kills.total} SIGKILLs ${JSON.stringify(report.kills.byStrategy)} over ${procs.length} processes; ` +
      `lost ${lostTotal}; duplicates ${report.duplicates.explained.length} explained, ${report.duplicates.unexplained.length} unexplained; ` +
      `handovers ${h.handovers.length} measured, slowest ${report.handovers.maxMs ?? '-'} ms (bound ${report.handovers.boundMs} ms); ` +
      `slots with two readers of one org: ${report.overlaps.length} (closest reads by two processes ${report.closestForeignReadsMs ?? '-'} ms apart); ` +
      `pushes ${report.pushed.deliveries} ${JSON.stringify(report.pushed.answers)}; lease changes seen ${leaseChanges}; ${report.seconds}s`,
  );

  for (const r of [slack, webhook, smtp]) await r.stop();
  await fakes.stop();
  await closeDb();
  await cluster?.stop().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
  return report;
}

function bump(t: Record<string, number>, k: string): void {
  t[k] = (t[k] ?? 0) + 1;
}
