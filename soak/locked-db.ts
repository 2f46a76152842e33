/**
 * Soak scenario "a write-locked database during delivery" (see soak/README.md): while a receiver is
 * answering a message, the soak takes the database's write lock from its own connection
 * (BEGIN IMMEDIATE) and holds it longer than the daemon's 5-second busy timeout, so the daemon's
 * record of a send the receiver accepted fails. Nothing is killed, so every duplicate is
 * unexplained: the record must be retried, never the send.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { tokenEvent, uuidFor } from '../test/helpers/events';
import { FakeOkta } from '../test/helpers/fake-okta';
import { prng } from '../test/helpers/random';
import { fastForwardPending, snapshot, type Injected } from './inspect';
import { HttpReceiver, SmtpReceiver } from './receivers';
import { sleep, until } from './wait';

const ROOT = path.resolve(__dirname, '..');

/** What the scenario found, for the JSON report. */
export interface LockedDbReport {
  locks: number;
  /** Daemon log lines saying a record failed after a send and is being retried. */
  recordRetries: number;
  /** ... and that it landed later. */
  recordedAfterRetry: number;
  events: number;
  perNotifier: Record<string, { received: number; lost: number; duplicates: number }>;
  seconds: number;
  problems: string[];
}

/** Runs the scenario with its own fake Okta, receivers, database and daemon processes. */
export async function lockedDatabaseScenario(o: { short: boolean; seed: number; notifiers: string[]; log: fs.WriteStream }): Promise<LockedDbReport> {
  const started = Date.now();
  const rand = prng(o.seed * 7 + 99);
  const problems: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-soak-locked-'));
  const dbPath = path.join(dir, 'otw.sqlite');
  const emptyEnv = path.join(dir, 'empty.env');
  fs.writeFileSync(emptyEnv, '');
  const fake = new FakeOkta({ rateLimit: 600 });
  await fake.start();
  const secret = crypto.randomBytes(24).toString('hex');
  const all = { slack: new HttpReceiver('slack'), webhook: new HttpReceiver('webhook', secret), email: new SmtpReceiver() };
  const notifiers = o.notifiers.filter((n): n is keyof typeof all => n in all);
  const receivers = notifiers.map((n) => all[n]);
  await Promise.all(receivers.map((r) => r.start()));

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    OKTA_ORG_URL: fake.origin,
    OKTA_API_TOKEN: fake.token,
    DB_PATH: dbPath,
    POLL_SCHEDULE: '*/2 * * * * *',
    LOOKBACK: '30m',
    OKTA_REQUEST_TIMEOUT: '2s',
    DELIVERY_INTERVAL: '1s',
    DELIVERY_MAX_ATTEMPTS: '1000',
    MAX_ALERTS_PER_RUN: '100000',
    NOTIFY_TIMEOUT: '5s',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    NOTIFIERS: notifiers.join(','),
    SLACK_WEBHOOK_URL: all.slack.url,
    WEBHOOK_URL: all.webhook.url,
    WEBHOOK_SECRET: secret,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(all.email.port),
    SMTP_REQUIRE_TLS: 'false',
    EMAIL_FROM: 'okta-token-watch-soak@example.com',
    EMAIL_TO: 'secops@example.com',
  };
  let recordRetries = 0;
  let recordedAfterRetry = 0;
  const daemon = (label: string): { child: ChildProcess; exited: Promise<number | null> } => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli.ts'), 'run', '--env-file', emptyEnv], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let buf = '';
    child.stderr!.on('data', (c: Buffer) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        o.log.write(`[locked-db ${label}] ${line}\n`);
        if (line.includes('recording it failed; retrying the record')) recordRetries++;
        if (line.includes('recorded a delivery after retrying the record')) recordedAfterRetry++;
      }
    });
    return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  };
  const stop = async (d: { child: ChildProcess; exited: Promise<number | null> }, label: string): Promise<void> => {
    // SIGTERM before the handlers are in place would just end Node: give it time to start.
    await sleep(1500);
    d.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([d.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 60_000)))]);
    clearTimeout(timer);
    if (code === 'timeout') {
      d.child.kill('SIGKILL');
      problems.push(`locked database: the ${label} daemon did not exit within 60 s of SIGTERM`);
    } else if (code !== 0) problems.push(`locked database: the ${label} daemon exited ${code} after SIGTERM, not 0`);
  };

  // The lock: taken inside a receiver after it accepted a message and before it answers, held
  // longer than the daemon's busy timeout, then released.
  const locksWanted = o.short ? 3 : 8;
  let locks = 0;
  let locked = false;
  let unlockedAt = 0;
  let locker: Database.Database | null = null;
  for (const r of receivers) {
    r.onAccept = () => {
      if (locked || locks >= locksWanted || Date.now() - unlockedAt < 2000 || !fs.existsSync(dbPath)) return;
      locker ??= new Database(dbPath, { timeout: 10_000 });
      locker.exec('BEGIN IMMEDIATE');
      locked = true;
      locks++;
      setTimeout(() => {
        locker!.exec('COMMIT');
        locked = false;
        unlockedAt = Date.now();
      }, 6000 + Math.round(rand() * 2000));
    };
  }

  // Events: small batches while the locks come and go.
  const injected: Injected[] = [];
  const total = o.short ? 12 : 40;
  let n = 0;
  const first = daemon('run');
  while (n < total) {
    const size = Math.min(total - n, 1 + Math.floor(rand() * 3));
    for (let i = 0; i < size; i++) {
      n++;
      const uuid = uuidFor(500_000 + n);
      const event = tokenEvent(500_000 + n, new Date(Date.now() - Math.round(rand() * 20_000)).toISOString(), {
        target: [{ id: `00T${String(500_000 + n).padStart(17, '0')}`, type: 'Token', alternateId: 'unknown', displayName: `soak-token-${500_000 + n}` }],
      });
      injected.push({ seq: injected.length, n: 500_000 + n, uuid, alertId: `otw-${uuid}`, matching: true, late: false, persistedAt: Date.now() });
      fake.persist(event);
    }
    await sleep(1000 + Math.round(rand() * 1500));
  }
  const expected = injected.map((e) => e.alertId);
  const received = (): Map<string, Map<string, number>> => {
    const m = new Map<string, Map<string, number>>();
    for (const r of receivers) {
      const per = new Map<string, number>();
      for (const receipt of r.receipts) for (const id of receipt.alertIds) per.set(id, (per.get(id) ?? 0) + 1);
      m.set(r.notifier, per);
    }
    return m;
  };
  const allReceived = (): boolean => [...received().values()].every((per) => expected.every((id) => per.has(id)));
  const budget = o.short ? 60_000 : 180_000;
  await until(() => (locks >= locksWanted && !locked) || Date.now() - started > budget, budget + 5000);
  if (!(await until(() => snapshot(dbPath, injected, notifiers).events >= total, 30_000, 250))) problems.push('locked database: not every event was stored within 30 s');
  await until(() => !locked, 10_000);
  // Sends that failed while the database was locked wait 30 s or more for their retry: stop here
  // and let the next process deliver them.
  await stop(first, 'first');

  // A second process delivers what is left, with every pending row due now: a row whose record was
  // lost would go out again here.
  // A send that fails on its own (a reset connection on a loaded machine) waits 30 s or more for its
  // retry, longer than a drain waits: then another drain process, with due rows, at most three.
  for (let round = 0; round < 3; round++) {
    fastForwardPending(dbPath);
    const drain = daemon('drain');
    await until(allReceived, 30_000, 200);
    await sleep(2000);
    await stop(drain, 'drain');
    if (allReceived()) break;
  }

  const perNotifier: LockedDbReport['perNotifier'] = {};
  for (const [notifier, per] of received()) {
    const lost = expected.filter((id) => !per.has(id)).length;
    const duplicates = [...per.values()].reduce((s, c) => s + Math.max(0, c - 1), 0);
    perNotifier[notifier] = { received: per.size, lost, duplicates };
    if (lost) problems.push(`locked database: ${notifier}: ${lost} event(s) never delivered`);
    if (duplicates) problems.push(`locked database: ${notifier}: ${duplicates} duplicate(s), none explained (nothing was killed)`);
  }
  if (locks === 0) problems.push('locked database: no lock was taken during a delivery; the scenario tested nothing');
  else if (recordRetries === 0) problems.push('locked database: no record of a send failed under the lock; the scenario tested nothing');

  (locker as Database.Database | null)?.close();
  for (const r of receivers) await r.stop();
  await fake.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  return { locks, recordRetries, recordedAfterRetry, events: total, perNotifier, seconds: Math.round((Date.now() - started) / 1000), problems };
}
