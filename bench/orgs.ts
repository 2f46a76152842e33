/**
 * Bench scenario `orgs` (issue 14): one daemon process (`okta-token-watch run`, the transpiled build,
 * no tsx) watching 100 fake orgs from an ORGS_FILE, each org its own fake Okta on 127.0.0.1. Measured
 * from the fake orgs' request log and /proc:
 * - idle: System Log requests per tick (target: exactly one per org), the tick's length (slot start
 *   to the last org's answer; target 2 s), the process's resident memory (target 150 MB);
 * - one org hanging (it takes requests and never answers): once the other orgs' new token creations
 *   (one each) are alerted, every other org still read once in each slot and answered within 2 s;
 * - loss: one token creation per org before the start and one per other org during the hang, each
 *   stored under its org and alerted (console) once.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FakeOktaOrgs, orgNames, orgsFileYaml, type OrgRequest } from '../src/simulator/okta-orgs';
import { tokenEvent, uuidFor } from '../test/helpers/events';
import { BUILD_DIR } from './build';
import { sleep, until } from '../soak/wait';
import { round } from './shared';

/** Targets of issue 14 (loopback). */
export const ORGS_TARGETS = { orgs: 100, tickMs: 2000, rssMb: 150 } as const;
/** A slot every 5 s: long enough for a 2 s tick to be told apart from the next. */
const INTERVAL_MS = 5000;
/** As npm start and the systemd unit run the daemon (bench.ts's NODE_FLAGS). */
const NODE_FLAGS = ['--max-semi-space-size=2'];

/** Sizes of the scenario. */
export interface OrgsOptions {
  orgs: number;
  /** Slots measured idle, then with one org hanging. */
  idleTicks: number;
  hangTicks: number;
  say: (s: string) => void;
}

/** One schedule slot as the fake orgs saw it. */
export interface SlotFigures {
  slotStart: string;
  /** System Log requests in the slot, all orgs (the hanging one included). */
  requests: number;
  /** Orgs read in the slot (the hanging one left out when one hangs). */
  orgsRead: number;
  /** Orgs read more than once in the slot. */
  orgsReadTwice: number;
  /** Slot start to the last answer of an org that is not hanging (null: an answer is missing). */
  tickMs: number | null;
}

/** The figures of a run of slots. */
export interface PhaseFigures {
  slots: SlotFigures[];
  maxTickMs: number | null;
  /** Slots where some org (other than a hanging one) was not read, or read twice. */
  badSlots: number;
}

/**
 * Cuts the request log into schedule slots (aligned on the epoch, as cron's are) and reads each:
 * requests, orgs read, and how long after the slot's start the last one was answered. `skipOrg` (the
 * hanging org) is left out of the per-org figures.
 */
export function slotFigures(log: readonly OrgRequest[], o: { intervalMs: number; orgs: readonly string[]; fromSlot: number; slots: number; skipOrg?: string }): PhaseFigures {
  const slots: SlotFigures[] = [];
  let badSlots = 0;
  for (let s = o.fromSlot; s < o.fromSlot + o.slots; s++) {
    const start = s * o.intervalMs;
    const inSlot = log.filter((r) => r.systemLog && r.at >= start && r.at < start + o.intervalMs);
    const counted = inSlot.filter((r) => r.org !== o.skipOrg);
    const perOrg = new Map<string, number>();
    for (const r of counted) perOrg.set(r.org, (perOrg.get(r.org) ?? 0) + 1);
    const expected = o.orgs.filter((x) => x !== o.skipOrg);
    const orgsRead = expected.filter((x) => perOrg.has(x)).length;
    const twice = [...perOrg.values()].filter((n) => n > 1).length;
    const answered = counted.every((r) => r.answeredAt !== null);
    const tickMs = answered && counted.length ? Math.max(...counted.map((r) => r.answeredAt! - start)) : null;
    if (orgsRead !== expected.length || twice > 0) badSlots++;
    slots.push({ slotStart: new Date(start).toISOString(), requests: inSlot.length, orgsRead, orgsReadTwice: twice, tickMs });
  }
  const ticks = slots.map((x) => x.tickMs);
  return { slots, maxTickMs: ticks.some((t) => t === null) || ticks.length === 0 ? null : Math.max(...(ticks as number[])), badSlots };
}

/** Runs the scenario. The build (bench/build.ts) must have run: it runs `bench/.build/src/cli.js`. */
export async function benchOrgs(o: OrgsOptions): Promise<Record<string, unknown>> {
  const names = orgNames(o.orgs);
  const fakes = new FakeOktaOrgs(names, { rateLimit: 100_000 });
  await fakes.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-bench-orgs-'));
  const dbPath = path.join(dir, 'otw.sqlite');
  const emptyEnv = path.join(dir, 'empty.env');
  fs.writeFileSync(emptyEnv, '');
  const orgsFile = path.join(dir, 'orgs.yaml');
  fs.writeFileSync(orgsFile, orgsFileYaml(names.map((name) => ({ name, url: fakes.org(name).origin })), { tokenEnv: 'BENCH_OKTA_TOKEN' }));
  const token = 'FAKE-okta-api-token-bench-orgs';
  fakes.addToken(token, 'daemon');

  // Loss: one token creation per org, waiting before the start.
  let n = 70_000_000;
  const injected: Array<{ org: string; uuid: string }> = [];
  const persistOne = (org: string): void => {
    const k = n++;
    fakes.org(org).persist(tokenEvent(k, new Date(Date.now() - 30_000).toISOString()));
    injected.push({ org, uuid: uuidFor(k) });
  };
  for (const org of names) persistOne(org);

  const cli = path.join(BUILD_DIR, 'src', 'cli.js');
  const child = spawn(process.execPath, [...NODE_FLAGS, cli, 'run', '--env-file', emptyEnv], {
    cwd: BUILD_DIR,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ORGS_FILE: orgsFile,
      BENCH_OKTA_TOKEN: token,
      DB_PATH: dbPath,
      POLL_SCHEDULE: `*/${INTERVAL_MS / 1000} * * * * *`,
      LOOKBACK: '10m',
      OKTA_REQUEST_TIMEOUT: '4s',
      OKTA_MAX_RETRIES: '0',
      FOLLOW_WINDOW: '0',
      NOTIFIERS: 'console',
      MAX_ALERTS_PER_RUN: '100000',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const alerts = new Map<string, number>();
  let stdoutBuf = '';
  child.stdout!.on('data', (c: Buffer) => {
    stdoutBuf += c.toString();
    let i: number;
    while ((i = stdoutBuf.indexOf('\n')) >= 0) {
      const line = stdoutBuf.slice(0, i);
      stdoutBuf = stdoutBuf.slice(i + 1);
      try {
        const m = JSON.parse(line) as { type?: string; id?: string };
        if (m.type === 'okta-token-watch.alert' && typeof m.id === 'string') alerts.set(m.id, (alerts.get(m.id) ?? 0) + 1);
      } catch {
        /* not an alert line */
      }
    }
  });
  const stderrTail: string[] = [];
  child.stderr!.on('data', (c: Buffer) => {
    stderrTail.push(c.toString());
    if (stderrTail.length > 20) stderrTail.shift();
  });
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) => child.on('exit', (code) => ((exited = code), resolve())));

  // Resident memory, sampled every 250 ms from /proc (Linux).
  let peakRssMb = 0;
  const rssTimer = setInterval(() => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
      peakRssMb = Math.max(peakRssMb, kb / 1024);
    } catch {
      /* gone */
    }
  }, 250);

  const slotOf = (t: number): number => Math.floor(t / INTERVAL_MS);
  const problems: string[] = [];
  const result: Record<string, unknown> = { orgs: names.length, intervalMs: INTERVAL_MS };
  try {
    // Started: every org read once (the first tick, which stores the waiting events).
    const started = await until(() => exited !== undefined || new Set(fakes.requestLog().filter((r) => r.systemLog && r.status === 200).map((r) => r.org)).size === names.length, 60_000, 100);
    if (exited !== undefined) throw new Error('the daemon did not start');
    if (!started) throw new Error(`the daemon did not read every org within 60 s: ${stderrTail.join('').slice(-600)}`);
    // Idle slots: from the next full slot on.
    const idleFrom = slotOf(Date.now()) + 2;
    o.say(`orgs: the daemon read all ${names.length} orgs; measuring ${o.idleTicks} idle slots`);
    await until(() => exited !== undefined, (idleFrom + o.idleTicks) * INTERVAL_MS - Date.now() + 500, 200);
    const idle = slotFigures(fakes.requestLog(), { intervalMs: INTERVAL_MS, orgs: names, fromSlot: idleFrom, slots: o.idleTicks });
    result.idle = { ...idle, peakRssMb: round(peakRssMb, 1), requestsPerTick: idle.slots.map((s) => s.requests) };

    // One org hangs; one new token creation in each of the others.
    const hung = names[names.length - 1]!;
    fakes.org(hung).hang();
    for (const org of names) if (org !== hung) persistOne(org);
    // The slots that read the new events read a second page too; the hang is measured idle after them.
    const newFrom = slotOf(Date.now());
    const storedAll = await until(() => exited !== undefined || injected.every((e) => alerts.has(`otw-${e.uuid}`)), 30_000, 100);
    if (!storedAll) problems.push(`orgs: with ${hung} hanging, the other orgs' new token creations were not all alerted within 30 s`);
    result.hangNewEvents = slotFigures(fakes.requestLog(), { intervalMs: INTERVAL_MS, orgs: names, fromSlot: newFrom, slots: slotOf(Date.now()) - newFrom + 1, skipOrg: hung });
    const hangFrom = slotOf(Date.now()) + 1;
    o.say(`orgs: ${hung} hangs; measuring ${o.hangTicks} slots`);
    await until(() => exited !== undefined, (hangFrom + o.hangTicks) * INTERVAL_MS - Date.now() + 500, 200);
    const hang = slotFigures(fakes.requestLog(), { intervalMs: INTERVAL_MS, orgs: names, fromSlot: hangFrom, slots: o.hangTicks, skipOrg: hung });
    const hungReads = fakes.requestLog().filter((r) => r.org === hung && r.systemLog && r.at >= hangFrom * INTERVAL_MS).length;
    result.hang = { org: hung, ...hang, readsOfTheHangingOrg: hungReads };
    fakes.org(hung).unhang();

    // Stored under its org and alerted once each (the hanging org's second event was never persisted).
    await until(() => injected.every((e) => alerts.has(`otw-${e.uuid}`)), 15_000, 200);
    let rows: Array<{ uuid: string; org: string | null }> = [];
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      try {
        rows = db.prepare('SELECT uuid, org FROM events').all() as typeof rows;
      } catch {
        // A schema without events.org (before migration 014): stored, but no org to check.
        problems.push('orgs: the events table has no org column: which org an event was stored under is not checked');
        rows = (db.prepare('SELECT uuid FROM events').all() as Array<{ uuid: string }>).map((r) => ({ uuid: r.uuid, org: null }));
      }
    } finally {
      db.close();
    }
    const byUuid = new Map(rows.map((r) => [r.uuid, r.org]));
    const missing = injected.filter((e) => !byUuid.has(e.uuid)).length;
    const wrongOrg = injected.filter((e) => byUuid.has(e.uuid) && byUuid.get(e.uuid) !== null && byUuid.get(e.uuid) !== e.org).length;
    const notAlerted = injected.filter((e) => !alerts.has(`otw-${e.uuid}`)).length;
    const alertedTwice = [...alerts.values()].filter((k) => k > 1).length;
    result.loss = { injected: injected.length, missing, wrongOrg, notAlerted, alertedTwice };

    if (missing) problems.push(`orgs: ${missing} of ${injected.length} token creations not stored`);
    if (wrongOrg) problems.push(`orgs: ${wrongOrg} token creation(s) stored under another org`);
    if (notAlerted) problems.push(`orgs: ${notAlerted} token creation(s) never alerted`);
    if (alertedTwice) problems.push(`orgs: ${alertedTwice} alert(s) sent twice by one daemon`);
    if (idle.badSlots) problems.push(`orgs: in ${idle.badSlots} of ${o.idleTicks} idle slot(s) an org was not read exactly once (requests per slot: ${idle.slots.map((s) => s.requests).join(', ')}; target ${names.length})`);
    if (idle.slots.some((s) => s.requests !== names.length)) problems.push(`orgs: idle slots made ${idle.slots.map((s) => s.requests).join(', ')} System Log requests (target exactly ${names.length})`);
    if (hang.badSlots) problems.push(`orgs: with ${hung} hanging, in ${hang.badSlots} of ${o.hangTicks} slot(s) another org was not read exactly once`);
  } catch (err) {
    problems.push(`orgs: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearInterval(rssTimer);
    if (exited !== undefined) problems.push(`orgs: the daemon exited by itself (${exited}): ${stderrTail.join('').slice(-300)}`);
    else {
      child.kill('SIGTERM');
      const stopped = await Promise.race([exit.then(() => true), sleep(20_000).then(() => false)]);
      if (!stopped) {
        child.kill('SIGKILL');
        problems.push('orgs: the daemon did not exit within 20 s of SIGTERM');
      } else if (exited !== 0) problems.push(`orgs: the daemon exited ${exited} after SIGTERM, not 0`);
    }
    await fakes.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  result.peakRssMb = round(peakRssMb, 1);
  result.problems = problems;
  return result;
}
