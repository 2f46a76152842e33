import { randomBytes } from 'node:crypto';
import os from 'node:os';

let id: string | null = null;

/**
 * This process's name among the replicas sharing a database: `<hostname>:<pid>:<8 hex>`. Made
 * once per process. The random part tells apart two processes that reuse a pid (a container
 * restarted as pid 1, a host that rebooted), so a restarted replica never mistakes the leases or
 * delivery claims of its dead predecessor for its own.
 */
export function replicaId(): string {
  id ??= `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  return id;
}

/** True when a process with this pid runs on this host (one we may not signal counts: it exists). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True when `holder` (a {@link replicaId}) names a process on this host that no longer runs, so
 * its leases and claims may go at once rather than when it stops counting as live. Our own pid
 * under another name is a predecessor that had it (pid 1 in a container). A replica on another
 * host is never judged here: a pid means nothing across hosts.
 */
export function localReplicaGone(holder: string): boolean {
  const m = /^(.*):(\d+):[0-9a-f]+$/.exec(holder);
  if (!m || m[1] !== os.hostname()) return false;
  const pid = Number(m[2]);
  if (holder === replicaId()) return false;
  return pid === process.pid || !processAlive(pid);
}
