import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { ROOT, waitFor } from './helpers/harness';

/** True while the process runs (a zombie waiting for its reaper does not count). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

describe('the test PostgreSQL cluster', () => {
  test('when the process that started it is SIGKILLed, then the server stops and its directory is removed', async () => {
    const tsx = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    const script = `const { startPgCluster } = require(${JSON.stringify(path.join(ROOT, 'test', 'helpers', 'pg-cluster.ts'))});
      startPgCluster().then((c) => { console.log(c.dir); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ['--import', tsx, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const dir = await waitFor(() => out.includes('\n') && out.trim(), 'the cluster to start', 120_000);
    const postmaster = Number(fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    assert.ok(alive(postmaster), 'the server runs');
    child.kill('SIGKILL');
    await waitFor(() => !fs.existsSync(dir) && !alive(postmaster), 'the server to stop and its directory to go', 60_000, 50);
  });
});
