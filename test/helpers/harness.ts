import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PassThrough } from 'node:stream';
import { createApp, tickDepsFor, type App } from '../../src/app';
import { FakeClock } from '../../src/clock';
import { parseConfig, type Env } from '../../src/config';
import { createLogger } from '../../src/logger';
import { runTick, type TickResult } from '../../src/ingest/poll';
import { FakeOkta, type FakeOktaOptions } from './fake-okta';

export const ROOT = path.resolve(__dirname, '..', '..');

export function tmpDir(prefix = 'otw-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Collects what a stream receives, as lines. */
export class LineSink extends PassThrough {
  private buf = '';
  readonly lines: string[] = [];
  constructor() {
    super();
    this.on('data', (c: Buffer) => {
      this.buf += c.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
    });
  }
  get text(): string {
    return this.lines.join('\n') + this.buf;
  }
  json(): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

/** An in-process program against a fake Okta with a fake clock, a real SQLite file and real HTTP. */
export interface Harness {
  clock: FakeClock;
  fake: FakeOkta;
  dir: string;
  env: Env;
  app: App;
  stdout: LineSink;
  logs: LineSink;
  tick(signal?: AbortSignal): Promise<TickResult>;
  /** Closes the program (not the fake) and builds a new one over the same database: a restart. */
  restart(extraEnv?: Env): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(opts: { env?: Env; fake?: FakeOktaOptions; clock?: FakeClock } = {}): Promise<Harness> {
  const clock = opts.clock ?? new FakeClock();
  const fake = new FakeOkta({ now: () => clock.now().getTime(), ...opts.fake });
  const origin = await fake.start();
  const dir = tmpDir();
  const env: Env = {
    OKTA_ORG_URL: origin,
    OKTA_API_TOKEN: fake.token,
    DB_PATH: path.join(dir, 'db', 'otw.sqlite'),
    LOG_LEVEL: 'debug',
    ...opts.env,
  };
  const stdout = new LineSink();
  const logs = new LineSink();
  const build = (e: Env): Promise<App> => {
    const config = parseConfig(e, { requireOkta: true });
    return createApp(config, { clock, stdout, logger: createLogger(config.log, { stream: logs }) });
  };
  const h: Harness = {
    clock,
    fake,
    dir,
    env,
    app: await build(env),
    stdout,
    logs,
    async tick(signal) {
      const app = h.app;
      const r = await runTick({ ...tickDepsFor(app, signal), clock });
      await app.dispatcher.runOnce();
      return r;
    },
    async restart(extraEnv = {}) {
      await h.app.close();
      Object.assign(h.env, extraEnv);
      h.app = await build(h.env);
    },
    async close() {
      await h.app.close();
      await fake.stop();
    },
  };
  return h;
}

let emptyDirPath: string | null = null;
/** One empty directory per test process, readable by anyone (tests run children as other users). */
function emptyDir(): string {
  if (emptyDirPath === null) {
    emptyDirPath = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-cwd-'));
    fs.chmodSync(emptyDirPath, 0o755);
  }
  return emptyDirPath;
}

/** Runs the real CLI as a child process (through tsx) and collects its output. */
export function runCli(
  args: string[],
  env: Env,
  opts: { cwd?: string; timeoutMs?: number; onSpawn?: (child: ReturnType<typeof spawn>) => void; uid?: number; gid?: number; wrap?: (argv: string[]) => string[] } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // tsx by absolute URL: the child may run in another working directory.
    const tsx = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    // `wrap` runs the CLI under another program (e.g. unshare); `uid`/`gid` as another user.
    const argv = [process.execPath, '--import', tsx, path.join(ROOT, 'src', 'cli.ts'), ...args];
    const [cmd, ...rest] = opts.wrap ? opts.wrap(argv) : argv;
    const child = spawn(cmd!, rest, {
      // Not the checkout: a developer's own .env there (README step 3) must not leak into tests.
      cwd: opts.cwd ?? emptyDir(),
      uid: opts.uid,
      gid: opts.gid,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    opts.onSpawn?.(child);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Polls `cond` every 20 ms until it holds; throws after `timeoutMs` (real time: for child processes). */
export async function until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  await waitFor(cond, 'a condition', timeoutMs, 20);
}

/** Polls `probe` until it returns a truthy value and returns it; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | null | undefined | false, what: string, timeoutMs = 60_000, everyMs = 5): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs a `SELECT count(*) AS n ...` on a database file, read-only, while another process may hold it. */
export function countRows(dbPath: string, sql: string): number {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
}
