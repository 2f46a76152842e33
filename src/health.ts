import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthConfig } from './config';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { jsonEscape } from './notify/sanitize';

/** What /healthz needs to know. */
export interface HealthSource {
  /** When the last tick finished and whether it succeeded; null before the first. */
  lastTick(): { ok: boolean; finishedAt: Date; error?: string } | null;
  lastSuccessAt(): Date | null;
  /** Milliseconds between two scheduled ticks (from POLL_SCHEDULE). */
  intervalMs(): number;
  startedAt: Date;
  now(): Date;
  /**
   * The push receiver's figures, when it runs (it never makes the verdict unhealthy: polling is the
   * backstop). May answer later: its counts are read from the database.
   */
  push?: () => PushFigures | Promise<PushFigures>;
}

/** What /healthz says about the push receiver. */
export interface PushFigures {
  lastDeliveryAt: Date | null;
  eventsBySource: Record<string, number>;
  rejected: Record<string, number>;
}

/** The health verdict: healthy when the last tick succeeded within two schedule intervals. */
export function healthOf(src: HealthSource): { healthy: boolean; reason: string } {
  const now = src.now().getTime();
  const window = 2 * src.intervalMs();
  const last = src.lastTick();
  const success = src.lastSuccessAt();
  if (!last) {
    if (now - src.startedAt.getTime() <= window) return { healthy: true, reason: 'starting: no tick has finished yet' };
    return { healthy: false, reason: 'no tick has finished since start-up' };
  }
  if (!last.ok) return { healthy: false, reason: `the last tick failed: ${last.error ?? 'unknown error'}` };
  if (!success || now - success.getTime() > window) {
    return { healthy: false, reason: `no successful tick for more than two schedule intervals (${Math.round(window / 1000)}s)` };
  }
  return { healthy: true, reason: `last successful tick ${Math.round((now - success.getTime()) / 1000)}s ago` };
}

/** Serves /healthz and /metrics. Bound to HEALTH_HOST (127.0.0.1 by default). */
export async function startHealthServer(config: HealthConfig, src: HealthSource, metrics: Metrics, logger: Logger): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/healthz') {
      const h = healthOf(src);
      // The push figures are extra: a database that cannot answer them leaves the verdict (which
      // comes from the ticks) as it is, and says so.
      Promise.resolve()
        .then(() => src.push?.())
        .then(
          (p) => (p ? { push: { lastDeliveryAt: p.lastDeliveryAt?.toISOString() ?? null, eventsBySource: p.eventsBySource, rejected: p.rejected } } : {}),
          (err: unknown) => {
            logger.warn('healthz: the push figures could not be read', { error: err instanceof Error ? err.message : String(err) });
            return { push: null };
          },
        )
        .then((push) => {
          res.writeHead(h.healthy ? 200 : 503, { 'content-type': 'application/json' });
          // The reason can quote an Okta error body: its control and bidi characters go out as \u escapes.
          res.end(jsonEscape(JSON.stringify({ status: h.healthy ? 'ok' : 'unhealthy', reason: h.reason, ...push })) + '\n');
        });
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          logger.error('metrics collection failed', { error: err instanceof Error ? err.message : String(err) });
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info('health and metrics endpoint listening', { host: config.host, port });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
