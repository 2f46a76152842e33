/**
 * Soak scenario "interrupted tick + rejected cursor" (soak/README.md): the real daemon is stopped
 * with SIGTERM in the middle of a catch-up of 2,501 events, every cursor Okta issued then expires,
 * and the next daemon must still store and alert all of them, each exactly once. Self-contained:
 * its own fake Okta, database and daemons, the console notifier only (read from stdout).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { tokenEvent, uuidFor } from '../test/helpers/events';
import { FakeOkta } from '../test/helpers/fake-okta';
import { sleep, until } from './wait';

const ROOT = path.resolve(__dirname, '..');
const EVENTS = 2501;

/** What the scenario saw; `problems` empty when every guarantee held. */
export interface InterruptedCatchUpReport {
  events: number;
  stored: number;
  received: number;
  lost: number;
  duplicates: number;
  /** Result of the tick the SIGTERM stopped, as recorded in the database. */
  stoppedTick: string | null;
  /** Whether the next daemon logged a cursor fallback (the scenario tests nothing without one). */
  fellBack: boolean;
  seconds: number;
  problems: string[];
}

interface Daemon {
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

function startDaemon(env: NodeJS.ProcessEnv, emptyEnvFile: string): Daemon {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli.ts'), 'run', '--env-file', emptyEnvFile], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const d: Daemon = {
    stdout: [],
    stderr: [],
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    async stop() {
      // Before its handlers are in place a SIGTERM just ends Node: wait until the daemon says it started.
      await until(() => d.stderr.some((l) => l.includes('"message":"okta-token-watch started"')), 30_000, 100);
      child.kill('SIGTERM');
      const code = await Promise.race([d.exited, sleep(30_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        return null;
      }
      return code;
    },
  };
  const lines = (stream: NodeJS.ReadableStream, into: string[]): void => {
    let buf = '';
    stream.on('data', (c: Buffer) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        into.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  };
  lines(child.stdout!, d.stdout);
  lines(child.stderr!, d.stderr);
  return d;
}

/** One value read from the database while a daemon may be writing it; null when not there yet. */
function query<T>(dbPath: string, sql: string): T | null {
  if (!fs.existsSync(dbPath)) return null;
  try {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare(sql).get() as T | undefined) ?? null;
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
}

/** The alert ids the console notifier printed. */
function consoleAlertIds(stdout: string[]): string[] {
  const ids: string[] = [];
  for (const line of stdout) {
    if (!line.startsWith('{')) continue;
    try {
      const m = JSON.parse(line) as { type?: string; id?: string };
      if (m.type === 'okta-token-watch.alert' && m.id) ids.push(m.id);
    } catch {
      /* not an alert line */
    }
  }
  return ids;
}

/**
 * Runs the scenario (about 20-40 s):
 * 1. a daemon catches up on an empty log and is stopped;
 * 2. 2,501 token creations are persisted, then more than LOOKBACK passes;
 * 3. a daemon starts the catch-up; while its second page hangs, it gets SIGTERM: it commits that
 *    page and must record the tick as interrupted;
 * 4. every cursor expires; a new daemon must fall back far enough to store all 2,501, and every
 *    alert must reach the console exactly once across both daemons.
 */
export async function runInterruptedCatchUp(log: (line: string) => void): Promise<InterruptedCatchUpReport> {
  const started = Date.now();
  const problems: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-soak-interrupted-'));
  const dbPath = path.join(dir, 'otw.sqlite');
  const emptyEnv = path.join(dir, 'empty.env');
  fs.writeFileSync(emptyEnv, '');
  const fake = new FakeOkta({ rateLimit: 10_000 });
  await fake.start();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    OKTA_ORG_URL: fake.origin,
    OKTA_API_TOKEN: fake.token,
    DB_PATH: dbPath,
    POLL_SCHEDULE: '*/2 * * * * *',
    // Short, so that the catch-up starts more than LOOKBACK after the events were persisted: a
    // fallback based on the interrupted tick's start would then skip the events it never read.
    LOOKBACK: '2s',
    NOTIFIERS: 'console',
    MAX_ALERTS_PER_RUN: '100000',
    DELIVERY_INTERVAL: '1s',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
  };
  const daemons: Daemon[] = [];
  const tickCount = (result: string): number => query<{ n: number }>(dbPath, `SELECT COUNT(*) AS n FROM ticks WHERE result = '${result}'`)?.n ?? 0;
  const stored = (): number => query<{ n: number }>(dbPath, 'SELECT COUNT(*) AS n FROM events')?.n ?? 0;
  const stopped = async (d: Daemon, what: string): Promise<void> => {
    const code = await d.stop();
    if (code !== 0) problems.push(`interrupted catch-up: the daemon (${what}) exited with ${code ?? 'no exit within 30 s'} after SIGTERM, not 0`);
  };
  try {
    // 1. Caught up once on an empty log.
    const first = startDaemon(env, emptyEnv);
    daemons.push(first);
    if (!(await until(() => tickCount('ok') >= 1, 30_000))) problems.push('interrupted catch-up: the first daemon never finished a tick');
    await stopped(first, 'idle');

    // 2. The backlog, older than LOOKBACK by the time the catch-up starts.
    for (let i = 0; i < EVENTS; i++) fake.persist(tokenEvent(900_000 + i, new Date(Date.now() - 60_000).toISOString()));
    await sleep(3000);

    // 3. SIGTERM while the second page of the catch-up is in flight.
    const before = fake.logRequests().length;
    fake.failAt(before + 2, { kind: 'hang', ms: 2500 });
    const second = startDaemon(env, emptyEnv);
    daemons.push(second);
    if (!(await until(() => fake.logRequests().length >= before + 2, 30_000))) problems.push('interrupted catch-up: the catch-up never asked for its second page');
    await stopped(second, 'mid-catch-up');
    const stoppedTick = query<{ result: string }>(dbPath, `SELECT result FROM ticks ORDER BY id DESC LIMIT 1`)?.result ?? null;
    if (stoppedTick !== 'interrupted') problems.push(`interrupted catch-up: the tick stopped by SIGTERM was recorded as ${stoppedTick}, not interrupted`);
    const storedBefore = stored();
    if (storedBefore >= EVENTS) problems.push('interrupted catch-up: the stopped tick read everything; the scenario did not interrupt it');

    // 4. Every cursor expires; the next daemon must still get everything, once.
    fake.expireCursors();
    const third = startDaemon(env, emptyEnv);
    daemons.push(third);
    const expected = Array.from({ length: EVENTS }, (_, i) => `otw-${uuidFor(900_000 + i)}`);
    const received = (): Set<string> => new Set(daemons.flatMap((d) => consoleAlertIds(d.stdout)));
    await until(() => stored() >= EVENTS, 60_000);
    await until(() => received().size >= EVENTS, 30_000);
    await sleep(1500); // a late duplicate is counted too
    await stopped(third, 'after the fallback');

    const fellBack = third.stderr.some((l) => l.includes('rejected the stored cursor'));
    if (!fellBack) problems.push('interrupted catch-up: the last daemon never fell back from a rejected cursor; the scenario tested nothing');
    const all = daemons.flatMap((d) => consoleAlertIds(d.stdout));
    const got = new Set(all);
    const lost = expected.filter((id) => !got.has(id)).length;
    const duplicates = all.length - got.size;
    const finalStored = stored();
    if (finalStored !== EVENTS) problems.push(`interrupted catch-up: ${finalStored} of ${EVENTS} events stored (${storedBefore} before the fallback)`);
    if (lost) problems.push(`interrupted catch-up: ${lost} alert(s) never reached the console`);
    // Every daemon was stopped with SIGTERM: no duplicate has an explanation.
    if (duplicates) problems.push(`interrupted catch-up: ${duplicates} duplicate alert(s), none explained (no process was killed)`);
    const report = { events: EVENTS, stored: finalStored, received: got.size, lost, duplicates, stoppedTick, fellBack, seconds: Math.round((Date.now() - started) / 1000), problems };
    log(
      `  interrupted catch-up + rejected cursor: stopped tick ${stoppedTick} after ${storedBefore} events; fallback ${fellBack ? 'yes' : 'NO'}; ` +
        `stored ${finalStored}/${EVENTS}, console received ${got.size}, lost ${lost}, duplicates ${duplicates} (${report.seconds}s)`,
    );
    return report;
  } finally {
    await Promise.all(daemons.map(async (d) => (await Promise.race([d.exited.then(() => true), sleep(0).then(() => false)])) || d.stop()));
    await fake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
