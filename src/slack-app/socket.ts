import type { SocketModeClient, Logger as SlackLogger, LogLevel } from '@slack/socket-mode';
import { redact, type Logger } from '../logger';

/** Envelope ids remembered, so an envelope Slack sends again is acknowledged but not acted on twice. */
const SEEN_MAX = 1000;
const RECONNECT_MAX_MS = 60_000;

/** A Socket Mode envelope as Slack's client hands it over. */
interface Envelope {
  ack: (response?: Record<string, unknown>) => Promise<void>;
  envelope_id?: string;
  type?: string;
  body?: unknown;
}

/** An error as one bounded log field, secrets redacted. */
export function errorText(err: unknown): string {
  return redact(err instanceof Error ? err.message : String(err)).slice(0, 300);
}

/**
 * Slack's client logs through this: its debug lines hold whole payloads and the WebSocket URL (a
 * one-time ticket), so they are dropped; its info becomes our debug, its errors our warnings.
 */
export function slackLogger(logger: Logger): SlackLogger {
  const text = (msg: unknown[]): string => redact(msg.map((m) => (m instanceof Error ? m.message : String(m))).join(' ')).slice(0, 500);
  return {
    debug: () => undefined,
    info: (...msg: unknown[]) => logger.debug(`slack app: ${text(msg)}`, {}),
    warn: (...msg: unknown[]) => logger.warn(`slack app: ${text(msg)}`, {}),
    // Its errors are ones this module handles (a failed connection is retried and logged here).
    error: (...msg: unknown[]) => logger.warn(`slack app: ${text(msg)}`, {}),
    setLevel: () => undefined,
    getLevel: () => 'info' as LogLevel,
    setName: () => undefined,
  };
}

/**
 * The Socket Mode connection: opens it with the app-level token, keeps it open, acknowledges every
 * envelope the moment it arrives, and passes each interactive payload on once (an envelope Slack
 * sends again after a lost ack is acknowledged and dropped).
 */
export class SocketConnection {
  private client: SocketModeClient | null = null;
  private readonly seen = new Set<string>();
  private stopping = false;
  private connecting = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private failures = 0;

  constructor(
    private readonly opts: {
      appToken: string;
      /** The Web API base with a trailing slash. */
      slackApiUrl: string;
      logger: Logger;
      /** The first reconnect's delay, doubled per failure up to a minute (default 1 s). */
      reconnectBaseMs?: number;
      /**
       * Called for a new interactive envelope BEFORE it is acknowledged: it must store the payload
       * durably (the inbox) and return true, or throw, and then the envelope is not acknowledged
       * (Slack sends it again). False: it was received before; it is acknowledged and dropped.
       */
      receive: (envelopeId: string, payload: unknown) => Promise<boolean>;
      onInteractive: (envelopeId: string, payload: unknown) => void;
    },
  ) {}

  /** Starts connecting and returns at once: Slack being unreachable must not hold up the daemon. */
  async start(): Promise<void> {
    const { SocketModeClient: Client } = await import('@slack/socket-mode');
    const { logger } = this.opts;
    // Reconnects are ours, not the client's: its own path rethrows an unrecoverable error (a revoked
    // token, one HTTP 5xx from apps.connections.open) as an unhandled rejection, which would stop
    // the daemon and its detection with it.
    const client = new Client({
      appToken: this.opts.appToken,
      logger: slackLogger(logger),
      autoReconnectEnabled: false,
      clientOptions: { slackApiUrl: this.opts.slackApiUrl, allowAbsoluteUrls: false, timeout: 10_000, retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 5_000 } },
    });
    this.client = client;
    client.on('connected', () => logger.info('slack app: connected to Slack (Socket Mode)', {}));
    client.on('disconnected', () => this.scheduleReconnect());
    client.on('slack_event', (e: Envelope) => void this.onEnvelope(e));
    this.connect();
  }

  /** Closes the connection; no reconnect follows. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const client = this.client;
    this.client = null;
    if (!client) return;
    // A peer that never completes the close handshake would hold this for 30 s.
    await Promise.race([client.disconnect().catch(() => undefined), new Promise((r) => setTimeout(r, 3_000).unref())]);
    client.removeAllListeners();
  }

  /** One connection attempt; a failure schedules the next. Never throws. */
  private connect(): void {
    const client = this.client;
    if (!client || this.stopping || this.connecting) return;
    this.connecting = true;
    client.start().then(
      () => {
        this.connecting = false;
        this.failures = 0;
      },
      (err: unknown) => {
        this.connecting = false;
        if (this.stopping) return;
        this.opts.logger.error('slack app: could not connect to Slack; buttons on alerts wait until it works (run "okta-token-watch check")', { error: errorText(err), attempt: this.failures + 1 });
        this.scheduleReconnect();
      },
    );
  }

  /** After a drop, a refresh Slack asked for, or a failed attempt: 1 s, doubling to a minute, with jitter. */
  private scheduleReconnect(): void {
    if (this.stopping || this.connecting || this.reconnectTimer) return;
    const base = this.opts.reconnectBaseMs ?? 1_000;
    const delay = Math.min(base * 2 ** this.failures, RECONNECT_MAX_MS) * (0.8 + Math.random() * 0.4);
    this.failures++;
    this.opts.logger.info('slack app: reconnecting to Slack', { inMs: Math.round(delay) });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  /** Never rejects: a failure to store is logged and the envelope left unacknowledged. */
  private async onEnvelope(e: Envelope): Promise<void> {
    const { logger } = this.opts;
    const ack = (): void =>
      void e.ack().catch((err: unknown) => logger.warn('slack app: an envelope could not be acknowledged; Slack will send it again and it will not be acted on twice', { error: errorText(err) }));
    const id = typeof e.envelope_id === 'string' && e.envelope_id !== '' && e.envelope_id.length <= 200 ? e.envelope_id : null;
    if (!id || e.type !== 'interactive') {
      ack();
      return;
    }
    if (this.seen.has(id)) {
      ack();
      logger.debug('slack app: an envelope sent again was acknowledged and not acted on twice', {});
      return;
    }
    // Stored before it is acknowledged (a few ms of the database, well inside Slack's 3 s): once Slack
    // has the ack it never sends the envelope again, so a process killed between the ack and the
    // action must find it in the inbox at its next start. Acting comes after the ack.
    let fresh: boolean;
    try {
      fresh = await this.opts.receive(id, e.body);
    } catch (err) {
      logger.error('slack app: a click could not be stored, so it is not acknowledged; Slack will send it again', { error: errorText(err) });
      return;
    }
    ack();
    this.seen.add(id);
    if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.values().next().value as string);
    if (fresh) this.opts.onInteractive(id, e.body);
  }
}
