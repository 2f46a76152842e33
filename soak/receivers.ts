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
  /**
   * Alert ids (`otw-<uuid>`) the message is about: one for an alert, several for a summary; for a
   * follow-up, its own id (`otw-followup-<uuid>`).
   */
  alertIds: string[];
  kind: 'alert' | 'summary' | 'followup' | 'unknown';
  /** A follow-up's alert (`otw-<uuid>`). */
  parentAlertId?: string;
  /** Problems with the message itself (bad signature, token name missing...). */
  defects: string[];
  /**
   * Where it came in: the request path (HTTP) or the envelope sender (SMTP). The many-orgs soak gives
   * each daemon process its own path and sender, so this names the process that sent it.
   */
  via?: string;
}

/** What a receiver does with the next message. */
export type ReceiverMode = 'up' | 'error' | 'ratelimit' | 'closed';

/** Called with each accepted message before the answer goes out; may kill the daemon (see soak.ts). */
export type OnAccept = (r: Receipt) => void;

const ALERT_ID = /otw-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const FOLLOWUP_ID = /otw-followup-[0-9a-f-]+/;

/** A header's RFC 2047 encoded words (UTF-8, Q or B), decoded; the space between two of them dropped. */
export function decodeWords(header: string): string {
  return header
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?utf-8\?([qb])\?([^?]*)\?=/gi, (_, enc: string, text: string) =>
      enc.toLowerCase() === 'b'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
    );
}

/** The distinct alert ids in a text. */
export function alertIdsIn(text: string): string[] {
  return [...new Set(text.match(ALERT_ID) ?? [])];
}

/** The channel id the soak's Slack Web API stand-in answers with. */
export const SOAK_SLACK_CHANNEL = 'C0SOAK0001';

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
 * Slack (incoming webhook, or the bot's Web API) or generic webhook receiver. Identification: the
 * webhook body is the envelope {type, id, alert|summary|followup}; the Slack message carries the
 * alert id (and a follow-up's own id) in its context block.
 */
export class HttpReceiver extends Receiver {
  private server: http.Server | null = null;
  /**
   * Slack Web API stand-in (`slackApi`): every message chat.postMessage accepted, by ts, with the
   * alert it is about, so a follow-up's `thread_ts` can be checked against its own alert.
   */
  readonly slackMessages = new Map<string, { alertId: string | null; kind: Receipt['kind'] }>();
  /** chat.update calls answered ok / message_not_found; follow-ups posted in / outside a thread. */
  readonly slackApiStats = { updates: 0, updatesNotFound: 0, threaded: 0, unthreaded: 0 };
  private seq = 0;

  constructor(
    notifier: 'slack' | 'webhook',
    /** WEBHOOK_SECRET, to verify X-OTW-Signature (webhook only). */
    private readonly secret: string | null = null,
    /** Slack only: speak the bot's Web API (chat.postMessage, chat.update) instead of a webhook. */
    readonly slackApi = false,
  ) {
    super(notifier);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/${this.notifier === 'slack' ? (this.slackApi ? 'api' : 'slack') : 'hook'}`;
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
    if (this.slackApi && !(req.url ?? '').endsWith('/chat.postMessage')) {
      this.slackOther(req.url ?? '', body, res);
      return;
    }
    const r: Receipt = { notifier: this.notifier, at: Date.now(), alertIds: [], kind: 'unknown', defects: [], via: req.url ?? '' };
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
        } else if (env.type === 'okta-token-watch.alert.followup' && typeof env.id === 'string') {
          r.kind = 'followup';
          r.alertIds = [env.id];
          const parent = (env as { alertId?: unknown }).alertId;
          if (typeof parent === 'string') r.parentAlertId = parent;
          else r.defects.push('follow-up without alertId');
        }
        if (req.headers['idempotency-key'] !== env.id) r.defects.push('Idempotency-Key differs from the id');
      } catch {
        r.defects.push('body is not JSON');
      }
    } else {
      // Slack: the alert id is in the context block; a summary has none (it lists no ids); a
      // follow-up names its own id and its alert's.
      const ids = alertIdsIn(body);
      const followup = FOLLOWUP_ID.exec(body)?.[0];
      if (followup) {
        r.kind = 'followup';
        r.alertIds = [followup];
        if (ids.length === 1) r.parentAlertId = ids[0]!;
        else r.defects.push('follow-up does not name exactly one alert');
      } else {
        if (/"text":"[^"]*\(summary\)/.test(body)) r.kind = 'summary';
        else if (ids.length === 1) r.kind = 'alert';
        r.alertIds = ids;
      }
    }
    if ((r.kind === 'alert' || r.kind === 'followup') && !/soak-token-\d+/.test(body)) r.defects.push('token name missing');
    if (this.slackApi) {
      // A follow-up goes in its alert's thread: the daemon holds it until the alert was recorded sent
      // on Slack, with the alert message's ts as its receipt.
      let threadTs: unknown = null;
      try {
        threadTs = (JSON.parse(body) as { thread_ts?: unknown }).thread_ts ?? null;
      } catch {
        r.defects.push('chat.postMessage body is not JSON');
      }
      if (r.kind === 'followup') {
        if (typeof threadTs !== 'string') this.slackApiStats.unthreaded++;
        else {
          this.slackApiStats.threaded++;
          const parent = this.slackMessages.get(threadTs);
          if (!parent || parent.kind !== 'alert' || parent.alertId !== r.parentAlertId) r.defects.push('follow-up replied in a thread that is not its alert message');
        }
      }
      const ts = `1764650000.${String(++this.seq).padStart(6, '0')}`;
      this.slackMessages.set(ts, { alertId: r.kind === 'followup' ? (r.parentAlertId ?? null) : (r.alertIds[0] ?? null), kind: r.kind });
      this.accept(r);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, channel: SOAK_SLACK_CHANNEL, ts }));
      return;
    }
    this.accept(r);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  }

  /** Slack Web API calls other than chat.postMessage: chat.update edits a message (not a receipt). */
  private slackOther(url: string, body: string, res: http.ServerResponse): void {
    const answer = (x: Record<string, unknown>): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(x));
    };
    if (url.endsWith('/chat.update')) {
      let ts: unknown = null;
      try {
        ts = (JSON.parse(body) as { ts?: unknown }).ts;
      } catch {
        /* answered as not found */
      }
      if (typeof ts === 'string' && this.slackMessages.has(ts)) {
        this.slackApiStats.updates++;
        answer({ ok: true, channel: SOAK_SLACK_CHANNEL, ts });
      } else {
        this.slackApiStats.updatesNotFound++;
        answer({ ok: false, error: 'message_not_found' });
      }
      return;
    }
    answer({ ok: true });
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
      onData: (stream, session, cb) => {
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
          const from = session.envelope.mailFrom;
          const r: Receipt = { notifier: 'email', at: Date.now(), alertIds: [], kind: 'unknown', defects: [], via: from ? from.address : '' };
          if (/^otw-summary-/.test(header)) r.kind = 'summary';
          else if (/^otw-followup-[0-9a-f-]+$/.test(header)) {
            // A reply to its alert's email: In-Reply-To is the alert's Message-ID.
            r.kind = 'followup';
            r.alertIds = [header];
            const parent = alertIdsIn(/^In-Reply-To:\s*(.*)$/im.exec(head)?.[1] ?? '');
            if (parent.length === 1) r.parentAlertId = parent[0]!;
            else r.defects.push('follow-up email without In-Reply-To naming its alert');
            const subject = decodeWords(/^Subject:\s*(.*)$/im.exec(head)?.[1] ?? '');
            if (!/^Re: .*soak-token-\d+/.test(subject)) r.defects.push('follow-up subject is not "Re: " and its alert\'s subject');
          } else if (alertIdsIn(header).length === 1) {
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
