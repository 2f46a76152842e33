import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FakeOkta } from './helpers/fake-okta';
import { ROOT, runCli, tmpDir, waitFor } from './helpers/harness';

const TOKEN = 'FAKE-okta-api-token-for-tests';

/** Every process below `pid` (children, grandchildren...), read from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name sits in parentheses and may hold spaces: the parent pid follows the last ')'.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the daemon as a process', () => {
  test('when npm start gets SIGTERM, then the daemon itself stops cleanly and nothing is left polling', async () => {
    const fake = new FakeOkta({ token: TOKEN });
    const origin = await fake.start();
    const dir = tmpDir();
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        npm_config_update_notifier: 'false',
        OKTA_ORG_URL: origin,
        OKTA_API_TOKEN: TOKEN,
        DB_PATH: path.join(dir, 'db.sqlite'),
        POLL_SCHEDULE: '0 0 1 1 *',
      } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    npm.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    npm.stdout!.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => npm.on('exit', (code, signal) => resolve({ code, signal })));
    let tree: number[] = [];
    try {
      await waitFor(() => /tick finished/.test(stderr), 'the first tick', 120_000, 50);
      tree = descendants(npm.pid!);
      assert.ok(tree.length > 0, 'npm runs the daemon as a child');
      npm.kill('SIGTERM');
      const r = await exited;
      assert.equal(r.code, 0, `npm start exits 0 after a clean stop (got ${r.code ?? r.signal}): ${stderr}`);
      await waitFor(() => tree.every((p) => !alive(p)), 'every process under npm to exit', 20_000, 50).catch(() => undefined);
      assert.deepEqual(tree.filter(alive), [], 'no process of npm start keeps running');
      assert.match(stderr, /stopping: finishing the page in hand/);
      const requests = fake.logRequests().length;
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(fake.logRequests().length, requests, 'nothing polls Okta any more');
    } finally {
      // Whatever happened above, nothing this test started may outlive it.
      for (const p of [...tree, ...(npm.pid ? [npm.pid] : [])]) if (alive(p)) process.kill(p, 'SIGKILL');
      await fake.stop();
    }
  });

  test('when a scheduled tick overruns its slot, then the skipped slot is one JSON log line of ours, and nothing else reaches stderr', async () => {
    const fake = new FakeOkta({ token: TOKEN });
    const origin = await fake.start();
    const dir = tmpDir();
    try {
      // The tick at start is request 1; the first scheduled tick (every second) hangs on request 2
      // long enough for the next slots to find it still running.
      fake.failAt(2, { kind: 'hang', ms: 4000 });
      const r = await runCli(['run'], { OKTA_ORG_URL: origin, OKTA_API_TOKEN: TOKEN, DB_PATH: path.join(dir, 'db.sqlite'), POLL_SCHEDULE: '* * * * * *' }, {
        onSpawn: (child) => {
          let err = '';
          child.stderr!.on('data', (c: Buffer) => {
            err += c.toString();
            if (/skipping this slot|overlap/.test(err) && !child.killed) child.kill('SIGTERM');
          });
        },
      });
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `not a JSON log line: ${JSON.stringify(l)}`);
      assert.ok(
        lines.some((l) => (JSON.parse(l) as { level: string; message: string }).message === 'previous tick still running; skipping this slot'),
        r.stderr,
      );
    } finally {
      await fake.stop();
    }
  });
});

describe('POLL_SCHEDULE', () => {
  for (const c of [
    { value: '61 * * * *', message: /^okta-token-watch: configuration error: POLL_SCHEDULE is out of range in its minute field: use 0-59\.$/m },
    { value: '0 0 25 * * *', message: /POLL_SCHEDULE is out of range in its hour field: use 0-23\./ },
    { value: '0 12 *', message: /POLL_SCHEDULE must have five fields \(or six, with seconds first\), like \*\/5 \* \* \* \*; it has 3\./ },
  ]) {
    test(`when it is "${c.value}", then start-up stops with exit 78 and one sentence saying what kind of mistake it is, without the value`, async () => {
      const r = await runCli(['poll'], { OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: TOKEN, POLL_SCHEDULE: c.value });
      assert.equal(r.code, 78);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, c.message);
      assert.ok(!r.stderr.includes(c.value), r.stderr);
    });
  }
});

describe('a stop signal while Okta is being retried', () => {
  for (const c of [
    { args: ['poll'], said: /tick interrupted/ },
    { args: ['run'], said: /tick interrupted/ },
    { args: ['backfill', '--since', '1h'], said: /backfill stopped by a signal/ },
  ]) {
    test(`when ${c.args[0]} gets SIGTERM between retries, then it is reported as a stop, with no error line`, async () => {
      const fake = new FakeOkta({ token: TOKEN });
      const origin = await fake.start();
      const dir = tmpDir();
      try {
        fake.fail(50, { kind: 'status', status: 503, errorCode: 'E0000009', errorSummary: 'Service Unavailable' });
        const r = await runCli(c.args, { OKTA_ORG_URL: origin, OKTA_API_TOKEN: TOKEN, DB_PATH: path.join(dir, 'db.sqlite'), POLL_SCHEDULE: '0 0 1 1 *' }, {
          onSpawn: (child) => {
            let err = '';
            child.stderr!.on('data', (chunk: Buffer) => {
              err += chunk.toString();
              if (/Okta request failed; retrying/.test(err) && !child.killed) child.kill('SIGTERM');
            });
          },
        });
        const logs = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; message: string });
        assert.deepEqual(logs.filter((l) => l.level === 'error'), [], r.stderr);
        assert.match(r.stderr + r.stdout, c.said);
        assert.doesNotMatch(r.stdout, /failed/);
        if (c.args[0] === 'run') assert.equal(r.code, 0, r.stderr);
      } finally {
        await fake.stop();
      }
    });
  }
});
