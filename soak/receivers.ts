/**
 * Loopback stand-ins for the notifiers' destinations, built for fault injection: each can be up,
 * answer errors, or be closed (connection refused), and records every message it accepted with the
 * time it accepted it. A message counts as received only when the receiver accepts it (HTTP 2xx,
 * SMTP 250): a refused message is the daemon's to retry.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** One accepted message and which alerts it is about. */
export interface Receipt {
  notifier: string;
  /** Epoch ms at which the receiver accepted it. */
  at: number;
  /** Alert ids (`otw-<uuid>`) the message is about: one for an alert, several for a summary. */
  alertIds: string[];
  kind: 'alert' | 'summary' | 'unknown';
  /** Problems with the message itself (bad signature, token name missing...). */
  defects: string[];
}

/** What a receiver does with the next message. */
export type ReceiverMode = 'up' | 'error' | 'ratelimit' | 'closed';

/** Called with each accepted message before the answer goes out; may kill the daemon (see soak.ts). */
export type OnAccept = (r: Receipt) => void;

const ALERT_ID = /otw-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** The distinct alert ids in a text. */
export function alertIdsIn(text: string): string[] {
  return [...new Set(text.match(ALERT_ID) ?? [])];
}

/** Common part: mode switching and the receipt log. */
abstract class Receiver {
  readonly receipts: Receipt[] = [];
  /** Answers refused while not up, by mode. */
  readonly refused: Record<string, number> = {};
  mode: ReceiverMode = 'up';
  port = 0;
  onAccept: OnAccept | null = null;
  /** Time spent in each mode, for the report. */
  readonly modeLog: Array<{ mode: ReceiverMode; at: number }> = [];

  constructor(readonly notifier: string) {}

  protected accept(r: Receipt): void {
    this.receipts.push(r);
    this.onAccept?.(r);
  }

  protected refuse(): void {
    this.refused[this.mode] = (this.refused[this.mode] ?? 0) + 1;
  }

  abstract start(): Promise<void>;
  protected abstract listen(): Promise<void>;
  protected abstract unlisten(): Promise<void>;

  /** Switches mode; `closed` stops listening (connections are refused), leaving it re-listens on the same port. */
  async setMode(mode: ReceiverMode): Promise<void> {
    if (mode === this.mode) return;
    const was = this.mode;
    this.mode = mode;
    this.modeLog.push({ mode, at: Date.now() });
    if (mode === 'closed') await this.unlisten();
    else if (was === 'closed') await this.listen();
  }

  abstract stop(): Promise<void>;
}

/**
 * Slack incoming webhook or generic webhook receiver. Identification: the webhook body is the
 * envelope {type, id, alert|summary}; the Slack message carries the alert id in its context block.
 */
export class HttpReceiver extends Receiver {
  private server: http.Server | null = null;

  constructor(
    notifier: 'slack' | 'webhook',
    /** WEBHOOK_SECRET, to verify X-OTW-Signature (webhook only). */
    private readonly secret: string | null = null,
  ) {
    super(notifier);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/${this.notifier === 'slack' ? 'slack' : 'hook'}`;
  }

  async start(): Promise<void> {
    await this.listen();
  }

  protected async listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    // The first start picks a free port; later starts reuse it (the daemon's URL is fixed).
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  protected async unlisten(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    // Answers in progress are written synchronously in handle(): closing idle sockets loses none.
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    if (this.mode === 'error') {
      this.refuse();
      res.writeHead(this.notifier === 'slack' ? 503 : 500, { 'content-type': 'text/plain', 'retry-after': '1' });
      res.end('soak: injected failure');
      return;
    }
    if (this.mode === 'ratelimit') {
      this.refuse();
      res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '2' });
      res.end('rate_limited');
      return;
    }
    if (this.mode === 'closed') {
      // Closing already: a request that slipped in is refused like the rest.
      this.refuse();
      res.writeHead(503, { 'content-type': 'text/plain', connection: 'close' });
      res.end('closing');
      return;
    }
    const r: Receipt = { notifier: this.notifier, at: Date.now(), alertIds: [], kind: 'unknown', defects: [] };
    if (this.notifier === 'webhook') {
      if (this.secret) {
        const ts = String(req.headers['x-otw-timestamp'] ?? '');
        const sig = String(req.headers['x-otw-signature'] ?? '');
        const expected = 'sha256=' + crypto.createHmac('sha256', this.secret).update(`${ts}.${body}`, 'utf8').digest('hex');
        if (sig !== expected) r.defects.push('bad X-OTW-Signature');
      }
      try {
        const env = JSON.parse(body) as { type?: string; id?: string; alert?: unknown; summary?: { alertIds?: string[] } };
        if (env.type === 'okta-token-watch.alert' && typeof env.id === 'string') {
          r.kind = 'alert';
          r.alertIds = [env.id];
        } else if (env.type === 'okta-token-watch.summary') {
          r.kind = 'summary';
          r.alertIds = Array.isArray(env.summary?.alertIds) ? env.summary.alertIds : [];
        }
        if (req.headers['idempotency-key'] !== env.id) r.defects.push('Idempotency-Key differs from the id');
      } catch {
        r.defects.push('body is not JSON');
      }
    } else {
      // Slack: the alert id is in the context block; a summary has none (it lists no ids).
      const ids = alertIdsIn(body);
      if (/"text":"[^"]*\(summary\)/.test(body)) r.kind = 'summary';
      else if (ids.length === 1) r.kind = 'alert';
      r.alertIds = ids;
    }
    if (r.kind === 'alert' && !/soak-token-\d+/.test(body)) r.defects.push('token name missing');
    this.accept(r);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A real SMTP server (smtp-server) on loopback, no TLS, no AUTH. */
export class SmtpReceiver extends Receiver {
  private server: SMTPServer | null = null;

  constructor() {
    super('email');
  }

  async start(): Promise<void> {
    await this.listen();
  }

  protected async listen(): Promise<void> {
    const server = new SMTPServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      authOptional: true,
      disableReverseLookup: true,
      logger: false,
      closeTimeout: 500,
      size: 10 * 1024 * 1024,
      onConnect: (_session, cb) => {
        if (this.mode === 'error' || this.mode === 'ratelimit' || this.mode === 'closed') {
          this.refuse();
          return cb(Object.assign(new Error('soak: service not available, try again later'), { responseCode: 421 }));
        }
        cb();
      },
      onData: (stream, _session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (this.mode !== 'up') {
            // Went down during the transaction: a temporary failure after DATA, the message is not taken.
            this.refuse();
            return cb(Object.assign(new Error('soak: temporary failure, try again'), { responseCode: 451 }));
          }
          const raw = Buffer.concat(chunks).toString('utf8');
          // Long headers are folded over several lines: unfold before reading them.
          const head = raw.slice(0, raw.search(/\r?\n\r?\n/) >>> 0).replace(/\r?\n[ \t]+/g, ' ');
          const header = /^X-OTW-Notification-Id:\s*(\S+)/im.exec(head)?.[1] ?? '';
          const r: Receipt = { notifier: 'email', at: Date.now(), alertIds: [], kind: 'unknown', defects: [] };
          if (/^otw-summary-/.test(header)) r.kind = 'summary';
          else if (alertIdsIn(header).length === 1) {
            r.kind = 'alert';
            r.alertIds = alertIdsIn(header);
          } else r.defects.push('no X-OTW-Notification-Id header');
          if (r.kind === 'summary') r.alertIds = alertIdsIn(raw);
          if (r.kind === 'alert' && !/^Subject:.*soak-token-\d+/im.test(head)) r.defects.push('token name missing from the subject');
          this.accept(r);
          cb();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.server.address() as AddressInfo).port;
    this.server = server;
  }

  protected async unlisten(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async stop(): Promise<void> {
    await this.unlisten();
  }
}
