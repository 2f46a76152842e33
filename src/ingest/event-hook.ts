import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../clock';
import type { PollConfig } from '../config';
import type { Detector } from '../detect/detector';
import type { EventHookConfig } from '../hook/config';
import { redact, type Logger } from '../logger';
import type { HookRejectReason, Metrics } from '../metrics';
import { jsonEscape } from '../notify/sanitize';
import { HOOK_ELIGIBLE_EVENT_TYPES } from '../detect/rules';
import { ingest } from './ingest';
import type { Store } from '../store/store';

/**
 * The push receiver: Okta Event Hooks POST batches of System Log events here. It only receives and
 * hands the batch to the ingest path; the poller stays the source of truth and catches whatever
 * push misses (Okta delivers at most twice and drops events past its daily cap).
 */

/** Largest body accepted. Okta batches a few dozen events (~2 KiB each); 1 MiB is far above that. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Requests handled at once; beyond it a request gets 503 at once (Okta retries it once). */
export const MAX_CONCURRENT_REQUESTS = 16;
/** Most events accepted in one delivery (Okta sends a few dozen at most). */
export const MAX_EVENTS_PER_DELIVERY = 1000;
/** Longest verification challenge echoed back (Okta's is a few dozen characters). */
export const MAX_CHALLENGE_LENGTH = 512;
/**
 * Events per transaction. SQLite writes are synchronous and block the event loop: a 1 MiB batch
 * committed at once could hold ticks, deliveries and /healthz for a noticeable time. Between
 * chunks the loop runs (setImmediate), and a uuid committed by an earlier chunk is simply "seen"
 * when Okta retries the whole batch.
 */
export const EVENTS_PER_COMMIT = 50;

/** The event types a hook delivery is matched against (the rule set's hook-eligible types). */
const HOOK_EVENT_TYPES: ReadonlySet<string> = new Set(HOOK_ELIGIBLE_EVENT_TYPES);

/** What the push adapter needs from the wired program. */
export interface PushIngestDeps {
  store: Store;
  detector: Detector;
  notifiers: string[];
  poll: PollConfig;
  clock: Clock;
  logger: Logger;
}

/** What committing one hook delivery did. */
export interface PushIngestResult {
  newEvents: number;
  newAlerts: number;
}

/**
 * How push reaches the one ingest function (src/ingest/ingest.ts), in chunks of EVENTS_PER_COMMIT.
 *
 * The token lookup (an Okta call of up to TOKEN_LOOKUP_TIMEOUT) is skipped: Okta waits only 3 s
 * for the answer, and the alert matters more than its enrichment.
 */
export async function ingestPushBatch(deps: PushIngestDeps, events: readonly unknown[]): Promise<PushIngestResult> {
  const detector: Detector = { ...deps.detector, lookupTokens: () => Promise.resolve(new Map()) };
  const out: PushIngestResult = { newEvents: 0, newAlerts: 0 };
  // MAX_ALERTS_PER_RUN holds for push too, counted over the poll interval (since the last tick
  // began) rather than per delivery: Okta sends small batches, so a per-delivery count would let a
  // token-making loop page everyone once per token. Alerts past it are stored without deliveries
  // and go out in the next tick's summary.
  const since = (await deps.store.lastTick('poll'))?.startedAt ?? new Date(deps.clock.now().getTime() - 3_600_000).toISOString();
  const earlier = await deps.store.pushAlertsSince(since);
  for (let i = 0; i < events.length; i += EVENTS_PER_COMMIT) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const r = await ingest(
      { ...deps, detector },
      { entries: events.slice(i, i + EVENTS_PER_COMMIT), tickId: null, checkpoint: { source: 'push', receivedAt: deps.clock.now() }, alertsSoFar: earlier + out.newAlerts },
    );
    out.newEvents += r.newEvents;
    out.newAlerts += r.newAlerts;
  }
  return out;
}

/** True when an entry of `data.events` is of a type the rules watch by push. */
export function matchesHookRule(entry: unknown): boolean {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return false;
  const type = (entry as { eventType?: unknown }).eventType;
  return typeof type === 'string' && HOOK_EVENT_TYPES.has(type);
}

/** Everything the receiver needs, passed in. */
export interface EventHookDeps {
  config: EventHookConfig;
  /** Commits the matched events; resolves only once they are durable. */
  ingest: (events: unknown[]) => Promise<PushIngestResult>;
  /** Called after a commit that created alerts: start their deliveries now, not at the next tick. */
  onAlerts: () => void;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  /** Defaults: MAX_CONCURRENT_REQUESTS, MAX_BODY_BYTES (tests lower them). */
  maxConcurrent?: number;
  maxBodyBytes?: number;
  /** Default 10 s for the headers, 15 s for the whole request (tests shorten them). */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Test hook: runs after the commit, before the answer (the crash test holds it there). */
  afterCommit?: () => Promise<void>;
}

/** A running receiver. */
export interface EventHookReceiver {
  port: number;
  /** Stops accepting, lets requests in flight finish their commit and get their answer, then closes. */
  close(): Promise<void>;
}

/** The client closed or was cut off before its body was complete. */
class ClientGone extends Error {
  constructor() {
    super('the client went away before sending the whole body');
  }
}

class Refused extends Error {
  constructor(readonly status: number, readonly reason: HookRejectReason, message: string) {
    super(message);
  }
}

/** Starts the receiver on EVENT_HOOK_HOST:EVENT_HOOK_PORT (HTTPS when TLS files are set). */
export async function startEventHookReceiver(deps: EventHookDeps): Promise<EventHookReceiver> {
  const { config, metrics, logger, clock } = deps;
  const maxConcurrent = deps.maxConcurrent ?? MAX_CONCURRENT_REQUESTS;
  const maxBody = deps.maxBodyBytes ?? MAX_BODY_BYTES;
  const secretDigest = digest(config.secret);
  const inFlight = new Set<Promise<void>>();
  let active = 0;
  let stopping = false;
  // One warning per reason per minute: a flood of bad requests must not become a flood of log lines
  // (stdout writes are synchronous on pipes). The counter in /metrics has every one.
  const lastWarned = new Map<HookRejectReason, number>();
  const warnRefused = (r: Refused): void => {
    const now = clock.now().getTime();
    if (r.reason === 'not_found' || now - (lastWarned.get(r.reason) ?? -Infinity) < 60_000) return;
    lastWarned.set(r.reason, now);
    // Never the Authorization header: it is the secret (or someone's guess at it).
    logger.warn('event hook request refused (further ones for this reason within a minute are only counted in otw_hook_requests_rejected_total)', { status: r.status, reason: r.reason });
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (active >= maxConcurrent || stopping) {
      // Fast and without reading the body: a flood costs one small answer per request.
      const busy = new Refused(503, 'busy', stopping ? 'stopping' : 'too many requests at once');
      warnRefused(busy);
      refuse(res, busy, { 'retry-after': '1', connection: 'close' });
      req.resume();
      return;
    }
    active++;
    const done = handle(req, res).finally(() => {
      active--;
      inFlight.delete(done);
    });
    inFlight.add(done);
  };

  const refuse = (res: http.ServerResponse, r: Refused, headers: Record<string, string> = {}): void => {
    metrics.observeHookRejected(r.reason);
    if (res.headersSent) return;
    res.writeHead(r.status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers }).end(`${r.message}\n`);
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = clock.now();
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== config.path) throw new Refused(404, 'not_found', 'not found');
      if (req.method !== 'GET' && req.method !== 'POST') {
        res.setHeader('allow', 'GET, POST');
        throw new Refused(405, 'method', 'method not allowed');
      }
      if (!authorized(req.headers.authorization, secretDigest)) throw new Refused(401, 'unauthorized', 'unauthorized');
      if (req.method === 'GET') {
        answerChallenge(req, res);
        return;
      }
      const body = await readBody(req, maxBody);
      const events = parseEnvelope(body);
      const matched = events.filter(matchesHookRule);
      const receivedAt = clock.now();
      let result: PushIngestResult = { newEvents: 0, newAlerts: 0 };
      if (matched.length > 0) {
        try {
          result = await deps.ingest(matched);
        } catch (err) {
          // Okta retries a 5xx once; whatever is still missing, the poller reads later.
          logger.error('an event hook delivery could not be committed; answering 500 so Okta retries it', { events: matched.length, error: redact(err instanceof Error ? err.message : String(err)) });
          throw new Refused(500, 'commit_failed', 'could not store the events; retry later');
        }
      }
      await deps.afterCommit?.();
      const lags = matched.map((e) => (receivedAt.getTime() - Date.parse(String((e as { published?: unknown }).published))) / 1000).filter(Number.isFinite);
      metrics.observeHookDelivery({ matched: matched.length, ignored: events.length - matched.length, lagsSeconds: lags, durationSeconds: (clock.now().getTime() - started.getTime()) / 1000, at: clock.now() });
      logger.info('event hook delivery committed', { events: events.length, matched: matched.length, newEvents: result.newEvents, newAlerts: result.newAlerts });
      if (result.newAlerts > 0) deps.onAlerts();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } catch (err) {
      if (err instanceof Refused) {
        warnRefused(err);
        refuse(res, err, err.status === 413 ? { connection: 'close' } : {});
        if (err.status === 413) {
          // Drain briefly so the client can read the 413, then drop a sender that keeps going.
          req.resume();
          res.on('finish', () => setTimeout(() => req.socket.destroy(), 1000).unref());
        }
        return;
      }
      // Nobody to answer, nothing of ours failed; a request timeout was already counted by clientError.
      if (err instanceof ClientGone) {
        res.destroy();
        return;
      }
      logger.error('event hook request failed', { error: redact(err instanceof Error ? err.message : String(err)) });
      refuse(res, new Refused(500, 'commit_failed', 'internal error'));
    }
  }

  const options: http.ServerOptions = {
    // Slowloris bounds: headers within 10 s, the whole request within 15 s, idle keep-alive 5 s.
    headersTimeout: deps.headersTimeoutMs ?? 10_000,
    requestTimeout: deps.requestTimeoutMs ?? 15_000,
    keepAliveTimeout: 5_000,
    // How often Node looks for requests past those timeouts (default 30 s, which would let a
    // slow client hold its socket three times longer than the timeouts say).
    connectionsCheckingInterval: 1_000,
    maxHeaderSize: 16 * 1024,
  };
  const server = config.tls ? https.createServer({ ...options, cert: config.tls.cert, key: config.tls.key }, handler) : http.createServer(options, handler);
  // Sockets beyond this are dropped by the kernel-facing accept path, before any parsing.
  server.maxConnections = maxConcurrent * 8;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const reason: HookRejectReason = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT' ? 'timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? 'too_large' : 'bad_request';
    metrics.observeHookRejected(reason);
    const status = reason === 'timeout' ? '408 Request Timeout' : reason === 'too_large' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    // end() alone only half-closes: a client that never closes its side would keep the socket,
    // and with it one of maxConnections, for good. Destroy once the answer is written.
    if (socket.writable) {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
      setTimeout(() => socket.destroy(), 1_000).unref();
    } else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'another program listens there' : err.code === 'EACCES' ? 'this user may not use that port' : err.code === 'EADDRNOTAVAIL' ? 'no interface of this host has that address' : (err.code ?? 'error');
      reject(new Error(`the push receiver cannot listen on EVENT_HOOK_HOST ${config.host} EVENT_HOOK_PORT ${config.port}: ${why}.`));
    });
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info('event hook receiver listening', { host: config.host, port, path: config.path, tls: config.tls !== null });

  let closed: Promise<void> | null = null;
  return {
    port,
    close() {
      closed ??= (async () => {
        stopping = true;
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // Requests in flight finish: their commit completes and Okta gets its answer.
        await Promise.allSettled([...inFlight]);
        server.closeAllConnections();
        await serverClosed;
      })();
      return closed;
    },
  };
}

function digest(s: string): Buffer {
  return crypto.createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time: both sides are hashed to 32 bytes, so neither content nor length leaks. */
function authorized(header: string | undefined, secretDigest: Buffer): boolean {
  return crypto.timingSafeEqual(digest(header ?? ''), secretDigest) && header !== undefined;
}

function answerChallenge(req: http.IncomingMessage, res: http.ServerResponse): void {
  const challenge = req.headers['x-okta-verification-challenge'];
  if (typeof challenge !== 'string' || challenge.length === 0) throw new Refused(400, 'bad_request', 'a GET must carry X-Okta-Verification-Challenge');
  if (challenge.length > MAX_CHALLENGE_LENGTH) throw new Refused(400, 'bad_request', 'the verification challenge is too long');
  res.writeHead(200, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
  res.end(jsonEscape(JSON.stringify({ verification: challenge })));
}

/** The body, refused early by Content-Length and again while counting the bytes that arrive. */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.reject(new Refused(413, 'too_large', `the body is over ${max} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        reject(new Refused(413, 'too_large', `the body is over ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', () => reject(new ClientGone()));
    // A client that goes away (or is cut off by requestTimeout) mid-body: settle, so stop() never waits on it.
    req.on('close', () => {
      if (!req.complete) reject(new ClientGone());
    });
  });
}

/** `data.events` of an Okta event hook envelope; anything else is a 400. */
function parseEnvelope(body: Buffer): unknown[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Refused(400, 'bad_request', 'the body is not JSON');
  }
  const data = json !== null && typeof json === 'object' ? (json as { data?: unknown }).data : undefined;
  const events = data !== null && typeof data === 'object' ? (data as { events?: unknown }).events : undefined;
  if (!Array.isArray(events)) throw new Refused(400, 'bad_request', 'the body is not an Okta event hook delivery (no data.events array)');
  // Committing many thousands of tiny events would outlast Okta's 3 s; Okta never batches this many,
  // and a refused delivery is still read by the poller.
  if (events.length > MAX_EVENTS_PER_DELIVERY) throw new Refused(413, 'too_large', `more than ${MAX_EVENTS_PER_DELIVERY} events in one delivery`);
  return events;
}
