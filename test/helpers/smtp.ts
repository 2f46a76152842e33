import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

/** One message the server accepted. */
export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  /** A header, unfolded and with RFC 2047 encoded words decoded. */
  header(name: string): string | undefined;
}

/** A scripted SMTP failure: a code and text at RCPT TO (for listed addresses) or at DATA. */
export interface SmtpFailure {
  at: 'data' | 'rcpt';
  code: number;
  message: string;
  /** For 'rcpt': only these recipients (default: all). */
  recipients?: string[];
}

function decodeWords(s: string): string {
  return s.replace(/=\?([^?]+)\?([bqBQ])\?([^?]*)\?=\s*(?==\?)?/g, (_m, _charset: string, enc: string, text: string) => {
    if (enc.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8');
    const bytes = text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  });
}

/**
 * A real SMTP server (the smtp-server package) on 127.0.0.1 that records messages and can refuse
 * with scripted 4xx/5xx answers, or be stopped and started again on the same port (an outage).
 */
export class SmtpReceiver {
  readonly messages: ReceivedMail[] = [];
  /** Failures applied to the next transactions, one per transaction, in order. */
  readonly failures: SmtpFailure[] = [];
  /** Rejected permanently at RCPT TO on every transaction. */
  readonly rejectRecipients = new Set<string>();
  private server: SMTPServer | null = null;
  port = 0;
  private current: SmtpFailure | undefined;

  private options(): SMTPServerOptions {
    return {
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onMailFrom: (_address, _session, cb) => {
        this.current = this.failures.shift();
        cb();
      },
      onRcptTo: (address, _session, cb) => {
        const f = this.current;
        if (this.rejectRecipients.has(address.address)) return cb(Object.assign(new Error('5.1.1 no such mailbox here'), { responseCode: 550 }));
        if (f && f.at === 'rcpt' && (!f.recipients || f.recipients.includes(address.address))) {
          return cb(Object.assign(new Error(f.message), { responseCode: f.code }));
        }
        cb();
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const f = this.current;
          if (f && f.at === 'data') return cb(Object.assign(new Error(f.message), { responseCode: f.code }));
          const raw = Buffer.concat(chunks).toString('utf8');
          const headerPart = raw.split(/\r?\n\r?\n/)[0] ?? '';
          const unfolded = headerPart.replace(/\r?\n[ \t]+/g, ' ');
          this.messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            header: (name) => {
              const line = unfolded.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(name.toLowerCase() + ':'));
              return line === undefined ? undefined : decodeWords(line.slice(name.length + 1).trim());
            },
          });
          cb();
        });
      },
    };
  }

  /** Listens on 127.0.0.1: on `port`, or a free port the first time. */
  async start(port = this.port): Promise<number> {
    const server = new SMTPServer(this.options());
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
    return this.port;
  }

  /** Closes the port: the next connections are refused, as in an outage. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
