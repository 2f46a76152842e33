import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

/** The superuser's password in every test cluster: obviously fake, and only ever on 127.0.0.1. */
export const PG_TEST_PASSWORD = 'FAKE-pg-password-for-tests';
const PG_USER = 'otw_test';

/** A throwaway PostgreSQL server for one test file (or one soak or bench run). */
export interface PgCluster {
  /** The port it listens on, on 127.0.0.1 only. */
  readonly port: number;
  /** The temporary directory holding the data directory, the log and the unix socket. */
  readonly dir: string;
  /** A connection URL (user, FAKE password, 127.0.0.1, port) for a database, `postgres` by default. */
  url(dbName?: string): string;
  /** Creates a fresh, empty database and returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server (immediate) and removes the directory; safe to call twice. */
  stop(): Promise<void>;
}

/** PostgreSQL's server binaries: Debian's /usr/lib/postgresql/<version>/bin, newest first, else PATH. */
export function findPgBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length) return path.join(root, versions[0]!, 'bin');
  for (const d of (process.env.PATH ?? '').split(':')) if (d && fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl'))) return d;
  throw new Error('PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin or on PATH): install postgresql-15 (.ci/run does).');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a PostgreSQL server in a new temporary directory: initdb (scram-sha-256 for every
 * connection, the FAKE password), listening on 127.0.0.1 only on a free port, its unix socket in the
 * temporary directory, fsync off (a test's data need not survive a power cut). PostgreSQL refuses
 * to run as root, so as root the directory is given to the `postgres` user and the binaries run
 * through `runuser -u postgres --`.
 *
 * The server is stopped and the directory removed by `stop()`, when this process exits, and also
 * when it is killed: a detached watchdog polls this process's pid and stops the server when it is
 * gone, so no test run leaves a postgres behind.
 */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = findPgBin();
  const root = process.getuid?.() === 0;
  const owner = root ? pgOwner() : null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  const pwFile = path.join(dir, 'pwfile');
  fs.writeFileSync(pwFile, `${PG_TEST_PASSWORD}\n`, { mode: 0o600 });
  if (owner) {
    fs.chownSync(dir, owner.uid, owner.gid);
    fs.chownSync(pwFile, owner.uid, owner.gid);
  }
  // Where the postgres user cannot look itself up (a hardened /etc/passwd readable by root only),
  // initdb refuses to start; a small preload library answers that one lookup.
  const preload = canLookUpSelf(!!owner) ? null : buildUserShim(dir);
  const cmd = (name: string, args: string[]): [string, string[]] => {
    const env = preload ? ['env', `LD_PRELOAD=${preload}`] : [];
    if (!owner) return env.length ? ['env', [...env.slice(1), path.join(bin, name), ...args]] : [path.join(bin, name), args];
    return ['runuser', ['-u', 'postgres', '--', ...env, path.join(bin, name), ...args]];
  };
  const runSync = (name: string, args: string[]): void => {
    const [file, argv] = cmd(name, args);
    execFileSync(file, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  };

  let stopped = false;
  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    try {
      if (fs.existsSync(path.join(data, 'postmaster.pid'))) runSync('pg_ctl', ['-D', data, 'stop', '-m', 'immediate', '-w']);
    } catch {
      /* already gone */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  let watchdog: number | undefined;
  try {
    runSync('initdb', ['-D', data, '-U', PG_USER, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync', '--no-instructions']);
    // The watchdog: a shell detached from this process that stops the server and removes the
    // directory once this pid is gone (a SIGKILLed test leaves no server and no files behind).
    const [stopFile, stopArgs] = cmd('pg_ctl', ['-D', data, 'stop', '-m', 'immediate']);
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.5; done; ${[stopFile, ...stopArgs].map(shellQuote).join(' ')} >/dev/null 2>&1; rm -rf ${shellQuote(dir)}`;
    const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
    child.unref();
    watchdog = child.pid;

    let port = 0;
    let lastErr: unknown;
    // A free port can be taken between finding it and the server binding it: try another.
    for (let attempt = 0; attempt < 5; attempt++) {
      port = await freePort();
      const opts = [`-p ${port}`, "-c listen_addresses=127.0.0.1", `-c unix_socket_directories=${dir}`, '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c shared_buffers=16MB', '-c max_connections=200', '-c log_min_messages=warning'].join(' ');
      try {
        runSync('pg_ctl', ['-D', data, '-l', logFile, '-o', opts, '-w', '-t', '60', 'start']);
        lastErr = undefined;
        break;
      } catch (err) {
        lastErr = err;
      }
    }
    if (lastErr) {
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '';
      throw new Error(`the test PostgreSQL did not start: ${(lastErr as Error).message}\n${log}`);
    }

    const onExit = (): void => stopSync();
    process.on('exit', onExit);
    let dbCount = 0;
    const url = (dbName = 'postgres'): string => `postgresql://${PG_USER}:${encodeURIComponent(PG_TEST_PASSWORD)}@127.0.0.1:${port}/${dbName}`;
    return {
      port,
      dir,
      url,
      async createDatabase(): Promise<string> {
        const name = `otw_${++dbCount}_${process.pid}`;
        const client = new Client({ connectionString: url() });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        return url(name);
      },
      async stop(): Promise<void> {
        process.off('exit', onExit);
        stopSync();
        if (watchdog) killQuietly(watchdog);
      },
    };
  } catch (err) {
    stopSync();
    if (watchdog) killQuietly(watchdog);
    throw err;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid);
  } catch {
    /* already gone */
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** True when the user that runs the binaries (postgres under root, else us) can find its own name: initdb needs it. */
function canLookUpSelf(asPostgres: boolean): boolean {
  try {
    if (asPostgres) execFileSync('runuser', ['-u', 'postgres', '--', 'id', '-un'], { stdio: 'ignore' });
    else execFileSync('id', ['-un'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// getpwuid/getpwuid_r for the calling user when the password file cannot be read: the user
// `postgres`, with the real uid and gid. Every other lookup goes to the C library as usual.
const USER_SHIM = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>
static struct passwd me;
static void fill(struct passwd *p) { p->pw_name = "postgres"; p->pw_passwd = "x"; p->pw_uid = geteuid(); p->pw_gid = getegid(); p->pw_gecos = ""; p->pw_dir = "/"; p->pw_shell = "/bin/sh"; }
struct passwd *getpwuid(uid_t uid) {
  struct passwd *(*real)(uid_t) = (struct passwd *(*)(uid_t))dlsym(RTLD_NEXT, "getpwuid");
  struct passwd *p = real(uid);
  if (p || uid != geteuid()) return p;
  fill(&me);
  return &me;
}
int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t len, struct passwd **out) {
  int (*real)(uid_t, struct passwd *, char *, size_t, struct passwd **) = (int (*)(uid_t, struct passwd *, char *, size_t, struct passwd **))dlsym(RTLD_NEXT, "getpwuid_r");
  int rc = real(uid, pwd, buf, len, out);
  if ((rc == 0 && *out) || uid != geteuid()) return rc;
  fill(pwd);
  *out = pwd;
  return 0;
}
`;

function buildUserShim(dir: string): string {
  const src = path.join(dir, 'usershim.c');
  const lib = path.join(dir, 'usershim.so');
  fs.writeFileSync(src, USER_SHIM);
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', lib, src, '-ldl'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`the postgres user cannot look up its own name (is /etc/passwd readable?), and no C compiler is here to work around it: ${(err as Error).message}`);
  }
  fs.chmodSync(lib, 0o755);
  return lib;
}

/** The `postgres` OS user, which owns the cluster when we are root. */
function pgOwner(): { uid: number; gid: number } {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, and there is no postgres user to run PostgreSQL as: install postgresql-15 (it creates one).');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
