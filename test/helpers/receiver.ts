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

/** An answer computed from the request (a fake API with state), used when the script is empty. */
export type Responder = (req: { method: string; path: string; body: string; json: unknown }) => Answer;

/**
 * A loopback HTTP server standing in for Slack and webhook receivers: records every request, and
 * answers from a script (then with the default answer, 200 "ok").
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly script: Answer[] = [];
  private readonly hanging = new Set<http.ServerResponse>();
  private server: http.Server | null = null;
  defaultAnswer: Answer | Responder = { status: 200, body: 'ok' };
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
        const d = this.defaultAnswer;
        const answer = this.script.shift() ?? (typeof d === 'function' ? d({ method: req.method ?? '', path: req.url ?? '', body, json }) : d);
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

/** One message the fake Slack API holds. */
export interface FakeSlackMessage {
  channel: string;
  ts: string;
  /** The ts of the thread's parent, for a reply. */
  threadTs: string | null;
  /** The request bodies this message had: the post, then each chat.update. */
  versions: Array<Record<string, unknown>>;
}

/**
 * A stand-in for Slack's Web API on a Receiver: chat.postMessage answers {ok, channel, ts} with a
 * new ts each time, chat.update edits a message it holds (message_not_found otherwise), auth.test
 * answers ok. Scripted answers (`receiver.answer(...)`) still go first, and are not recorded here:
 * Slack did not take those messages.
 */
export class FakeSlackApi {
  readonly messages: FakeSlackMessage[] = [];
  /** Every Web API call in order, as `method` names (refused ones too). */
  readonly calls: string[] = [];
  private readonly failures = new Map<string, Answer[]>();
  private seq = 0;

  constructor(
    readonly receiver: Receiver,
    /** The channel id Slack answers with (a bot may be configured with a channel name). */
    readonly channelId = 'C0FAKE0001',
  ) {
    receiver.defaultAnswer = (req) => this.respond(req.path, req.json);
  }

  /** The next calls of `method` get these answers instead (Slack refused or failed them). */
  fail(method: string, ...answers: Answer[]): this {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...answers]);
    return this;
  }

  /** An answer of Slack's ok:false form. */
  static refusal(error: string, headers: Record<string, string> = {}): Answer {
    return { status: 200, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ ok: false, error }) };
  }

  private respond(path: string, json: unknown): Answer {
    const method = path.slice(path.lastIndexOf('/') + 1);
    this.calls.push(method);
    const failure = this.failures.get(method)?.shift();
    if (failure) return failure;
    const body = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>;
    const ok = (extra: Record<string, unknown>): Answer => ({ status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ok: true, ...extra }) });
    if (path.endsWith('/chat.postMessage')) {
      const ts = `1764650000.${String(++this.seq).padStart(6, '0')}`;
      const threadTs = typeof body.thread_ts === 'string' ? body.thread_ts : null;
      this.messages.push({ channel: this.channelId, ts, threadTs, versions: [body] });
      return ok({ channel: this.channelId, ts });
    }
    if (path.endsWith('/chat.update')) {
      const m = this.messages.find((x) => x.channel === body.channel && x.ts === body.ts);
      if (!m) return { status: 200, body: JSON.stringify({ ok: false, error: 'message_not_found' }) };
      m.versions.push(body);
      return ok({ channel: m.channel, ts: m.ts });
    }
    return ok({});
  }

  /** The replies posted in the thread of `ts`. */
  replies(ts: string): FakeSlackMessage[] {
    return this.messages.filter((m) => m.threadTs === ts);
  }
}
