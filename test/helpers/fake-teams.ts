import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One message the fake got. */
export interface TeamsRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  status: number;
}

/**
 * A loopback stand-in for a Teams Workflows webhook ("Post to a channel when a webhook request is
 * received"): accepts POSTs to its path carrying the right `sig`, checks the body is a message
 * with one Adaptive Card attachment, and answers 202 (or 200 with `okStatus`). A wrong signature
 * is 401, a wrong path 404, a body that is not a card 400. Failures can be scripted.
 */
export class FakeTeams {
  readonly requests: TeamsRequest[] = [];
  /** Cards accepted, in order (the attachment's `content`). */
  readonly cards: any[] = [];
  okStatus = 202;
  private readonly script: Array<{ status: number; body?: string; headers?: Record<string, string> }> = [];
  private server: http.Server | null = null;
  port = 0;
  readonly sig = 'FAKE-teams-flow-signature-0123456789';
  readonly path = '/workflows/0a1b2c3d/triggers/manual/paths/invoke';

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const reply = (status: number, answer = '', headers: Record<string, string> = {}): void => {
          this.requests.push({ path: req.url ?? '', headers: req.headers, body, json, status });
          res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
          res.end(answer);
        };
        const scripted = this.script.shift();
        if (scripted) return reply(scripted.status, scripted.body, scripted.headers);
        const u = new URL(req.url ?? '/', 'http://127.0.0.1');
        if (req.method !== 'POST' || u.pathname !== this.path) return reply(404, '{"error":{"code":"WorkflowNotFound"}}');
        if (u.searchParams.get('sig') !== this.sig) return reply(401, '{"error":{"code":"DirectApiAuthorizationRequired"}}');
        const card = json?.attachments?.[0];
        const ok = json?.type === 'message' && Array.isArray(json.attachments) && json.attachments.length === 1 && card?.contentType === 'application/vnd.microsoft.card.adaptive' && card.content?.type === 'AdaptiveCard' && Array.isArray(card.content.body) && Buffer.byteLength(body) <= 28 * 1024;
        if (!ok) return reply(400, '{"error":{"code":"InvalidRequestContent"}}');
        this.cards.push(card.content);
        reply(this.okStatus);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  /** The webhook URL, signature included (the secret), for TEAMS_WEBHOOK_URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}${this.path}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${this.sig}`;
  }

  /** Queues answers for the next requests, in order. */
  fail(...answers: Array<{ status: number; body?: string; headers?: Record<string, string> }>): this {
    this.script.push(...answers);
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
