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
