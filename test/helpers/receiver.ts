import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The raw body, exactly as sent. */
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  /** What the receiver answered. */
  answeredWith: number | 'hang';
}

/** A scripted answer: a status with body and headers, or never answering at all. */
export type Answer = { status: number; body?: string; headers?: Record<string, string>; /** Answer only after this long. */ delayMs?: number } | 'hang';

/**
 * A loopback HTTP server standing in for Slack and webhook receivers: records every request, and
 * answers from a script (then with the default answer, 200 "ok").
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly script: Answer[] = [];
  private readonly hanging = new Set<http.ServerResponse>();
  private server: http.Server | null = null;
  defaultAnswer: Answer = { status: 200, body: 'ok' };
  port = 0;

  /** Listens on 127.0.0.1 (port 0: the system picks one). */
  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const answer = this.script.shift() ?? this.defaultAnswer;
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json, answeredWith: answer === 'hang' ? 'hang' : answer.status });
        if (answer === 'hang') {
          this.hanging.add(res);
          return;
        }
        const reply = (): void => {
          res.writeHead(answer.status, { 'Content-Type': 'text/plain', ...answer.headers });
          res.end(answer.body ?? '');
        };
        if (answer.delayMs) setTimeout(reply, answer.delayMs);
        else reply();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.url('');
  }

  /** http://127.0.0.1:<port><path> */
  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Resolves when `n` requests have arrived (polling; bounded). */
  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.requests.length < n) {
      if (Date.now() > end) throw new Error(`receiver: expected ${n} request(s), got ${this.requests.length}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Queues answers for the next requests, in order. */
  answer(...answers: Answer[]): this {
    this.script.push(...answers);
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
