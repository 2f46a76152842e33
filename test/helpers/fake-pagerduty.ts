import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One event the fake accepted or refused, as it arrived. */
export interface PagerDutyRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  event: Record<string, any> | null;
  status: number;
}

/** A scripted failure for the next request: a status, a body and headers. */
export interface PagerDutyFailure {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

const SEVERITIES = new Set(['critical', 'error', 'warning', 'info']);
const ACTIONS = new Set(['trigger', 'acknowledge', 'resolve']);

/**
 * A loopback stand-in for PagerDuty's Events API v2 (POST /v2/enqueue): checks each event the way
 * the real API does (routing key, action, dedup_key, a trigger's payload with summary, source and
 * severity), answers 202 {status, message, dedup_key} or 400 "invalid event", and keeps each
 * incident's state by dedup_key. Failures (429, 5xx) can be scripted for the next requests.
 */
export class FakePagerDuty {
  readonly requests: PagerDutyRequest[] = [];
  /** Incident state by dedup_key, as the events left it. */
  readonly incidents = new Map<string, 'triggered' | 'acknowledged' | 'resolved'>();
  private readonly script: PagerDutyFailure[] = [];
  private server: http.Server | null = null;
  port = 0;

  constructor(private readonly routingKey: string) {}

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let event: Record<string, any> | null = null;
        try {
          event = JSON.parse(body) as Record<string, any>;
        } catch {
          event = null;
        }
        const reply = (status: number, answer: unknown, headers: Record<string, string> = {}): void => {
          this.requests.push({ path: req.url ?? '', headers: req.headers, body, event, status });
          res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
          res.end(typeof answer === 'string' ? answer : JSON.stringify(answer));
        };
        const failure = this.script.shift();
        if (failure) return reply(failure.status, failure.body ?? '', failure.headers);
        if (req.method !== 'POST' || req.url !== '/v2/enqueue') return reply(404, { status: 'not found' });
        const errors = this.problems(event);
        if (errors.length) return reply(400, { status: 'invalid event', message: 'Event object is invalid', errors });
        const key = String(event!.dedup_key);
        const action = String(event!.event_action);
        const state = this.incidents.get(key);
        if (action === 'trigger' && state !== 'triggered' && state !== 'acknowledged') this.incidents.set(key, 'triggered');
        // Acknowledge and resolve act on an open incident only; on anything else they do nothing.
        if (action === 'acknowledge' && state === 'triggered') this.incidents.set(key, 'acknowledged');
        if (action === 'resolve' && (state === 'triggered' || state === 'acknowledged')) this.incidents.set(key, 'resolved');
        reply(202, { status: 'success', message: 'Event processed', dedup_key: key });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  /** The enqueue URL, for PAGERDUTY_EVENTS_URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/v2/enqueue`;
  }

  /** Queues failures for the next requests, in order. */
  fail(...answers: PagerDutyFailure[]): this {
    this.script.push(...answers);
    return this;
  }

  /** The accepted events, in order. */
  accepted(): Array<Record<string, any>> {
    return this.requests.filter((r) => r.status === 202).map((r) => r.event!);
  }

  private problems(e: Record<string, any> | null): string[] {
    if (!e || typeof e !== 'object') return ['Body is not a JSON object'];
    const out: string[] = [];
    if (e.routing_key !== this.routingKey) out.push('Invalid routing key');
    if (!ACTIONS.has(e.event_action)) out.push("'event_action' is invalid");
    if (typeof e.dedup_key !== 'string' || e.dedup_key.length === 0 || e.dedup_key.length > 255) out.push("'dedup_key' is invalid");
    if (e.event_action === 'trigger') {
      const p = e.payload;
      if (!p || typeof p !== 'object') out.push("'payload' is missing");
      else {
        if (typeof p.summary !== 'string' || p.summary.length === 0 || p.summary.length > 1024) out.push("'payload.summary' is invalid");
        if (typeof p.source !== 'string' || p.source.length === 0) out.push("'payload.source' is missing");
        if (!SEVERITIES.has(p.severity)) out.push("'payload.severity' is invalid");
        if (p.timestamp !== undefined && Number.isNaN(Date.parse(p.timestamp))) out.push("'payload.timestamp' is invalid");
      }
    }
    for (const l of Array.isArray(e.links) ? e.links : []) if (typeof l?.href !== 'string' || !/^https?:\/\//.test(l.href)) out.push("'links.href' is invalid");
    return out;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
