import type http from 'node:http';
import { Receiver, type Answer } from './receiver';

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
  /** The loopback server: it records each request and plays scripted failures first. */
  readonly receiver = new Receiver();
  /** Incident state by dedup_key, as the events left it. */
  readonly incidents = new Map<string, 'triggered' | 'acknowledged' | 'resolved'>();

  constructor(private readonly routingKey: string) {
    this.receiver.defaultAnswer = (req) => this.respond(req);
  }

  /** Every request, with the status it was answered with. */
  get requests(): PagerDutyRequest[] {
    return this.receiver.requests.map((r) => ({ path: r.path, headers: r.headers, body: r.body, event: r.json && typeof r.json === 'object' ? (r.json as Record<string, any>) : null, status: r.answeredWith === 'hang' ? 0 : r.answeredWith }));
  }

  get port(): number {
    return this.receiver.port;
  }

  async start(): Promise<string> {
    await this.receiver.start();
    return this.url;
  }

  private respond(req: { method: string; path: string; json: unknown }): Answer {
    const reply = (status: number, answer: unknown): Answer => ({ status, body: JSON.stringify(answer), headers: { 'Content-Type': 'application/json' } });
    if (req.method !== 'POST' || req.path !== '/v2/enqueue') return reply(404, { status: 'not found' });
    const event = req.json && typeof req.json === 'object' ? (req.json as Record<string, any>) : null;
    const errors = this.problems(event);
    if (errors.length) return reply(400, { status: 'invalid event', message: 'Event object is invalid', errors });
    const key = String(event!.dedup_key);
    const action = String(event!.event_action);
    const state = this.incidents.get(key);
    if (action === 'trigger' && state !== 'triggered' && state !== 'acknowledged') this.incidents.set(key, 'triggered');
    // Acknowledge and resolve act on an open incident only; on anything else they do nothing.
    if (action === 'acknowledge' && state === 'triggered') this.incidents.set(key, 'acknowledged');
    if (action === 'resolve' && (state === 'triggered' || state === 'acknowledged')) this.incidents.set(key, 'resolved');
    return reply(202, { status: 'success', message: 'Event processed', dedup_key: key });
  }

  /** The enqueue URL, for PAGERDUTY_EVENTS_URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/v2/enqueue`;
  }

  /** Queues failures for the next requests, in order. */
  fail(...answers: PagerDutyFailure[]): this {
    this.receiver.answer(...answers.map((a) => ({ ...a, headers: { 'Content-Type': 'application/json', ...a.headers } })));
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
    await this.receiver.stop();
  }
}
