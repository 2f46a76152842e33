import type http from 'node:http';
import { Receiver, type Answer } from './receiver';

/** One message the fake got. */
export interface TeamsRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  status: number;
}

/** A scripted answer for the next request: a status, a body and headers. */
export interface TeamsFailure {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

/**
 * A loopback stand-in for a Teams Workflows webhook ("Post to a channel when a webhook request is
 * received"): accepts POSTs to its path carrying the right `sig`, checks the body is a message
 * with one Adaptive Card attachment, and answers 202 (or 200 with `okStatus`). A wrong signature
 * is 401, a wrong path 404, a body that is not a card 400. Failures can be scripted.
 */
export class FakeTeams {
  /** The loopback server: it records each request and plays scripted answers first. */
  readonly receiver = new Receiver();
  /** Cards accepted, in order (the attachment's `content`). */
  readonly cards: any[] = [];
  okStatus = 202;
  readonly sig = 'FAKE-teams-flow-signature-0123456789';
  readonly path = '/workflows/0a1b2c3d/triggers/manual/paths/invoke';

  constructor() {
    this.receiver.defaultAnswer = (req) => this.respond(req);
  }

  /** Every request, with the status it was answered with. */
  get requests(): TeamsRequest[] {
    return this.receiver.requests.map((r) => ({ path: r.path, headers: r.headers, body: r.body, json: r.json, status: r.answeredWith === 'hang' ? 0 : r.answeredWith }));
  }

  get port(): number {
    return this.receiver.port;
  }

  async start(): Promise<string> {
    await this.receiver.start();
    return this.url;
  }

  private respond(req: { method: string; path: string; body: string; json: any }): Answer {
    const reply = (status: number, body = ''): Answer => ({ status, body, headers: { 'Content-Type': 'application/json' } });
    const u = new URL(req.path || '/', 'http://127.0.0.1');
    if (req.method !== 'POST' || u.pathname !== this.path) return reply(404, '{"error":{"code":"WorkflowNotFound"}}');
    if (u.searchParams.get('sig') !== this.sig) return reply(401, '{"error":{"code":"DirectApiAuthorizationRequired"}}');
    const json = req.json;
    const card = json?.attachments?.[0];
    const ok = json?.type === 'message' && Array.isArray(json.attachments) && json.attachments.length === 1 && card?.contentType === 'application/vnd.microsoft.card.adaptive' && card.content?.type === 'AdaptiveCard' && Array.isArray(card.content.body) && Buffer.byteLength(req.body) <= 28 * 1024;
    if (!ok) return reply(400, '{"error":{"code":"InvalidRequestContent"}}');
    this.cards.push(card.content);
    return reply(this.okStatus);
  }

  /** The webhook URL, signature included (the secret), for TEAMS_WEBHOOK_URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}${this.path}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${this.sig}`;
  }

  /** Queues answers for the next requests, in order. */
  fail(...answers: TeamsFailure[]): this {
    this.receiver.answer(...answers.map((a) => ({ ...a, headers: { 'Content-Type': 'application/json', ...a.headers } })));
    return this;
  }

  async stop(): Promise<void> {
    await this.receiver.stop();
  }
}
