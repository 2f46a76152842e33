import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** One Web API call the fake received. */
export interface SlackCall {
  method: string;
  /** The bearer token the call carried. */
  token: string | null;
  /** The arguments, form or JSON, with Block Kit fields (blocks, view, ...) parsed. */
  args: Record<string, unknown>;
}

/** A message the fake holds, as chat.postMessage / chat.update left it. */
export interface SlackMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text?: string;
  blocks?: Array<Record<string, unknown>>;
}

/** An envelope sent over Socket Mode, and what became of it. */
export interface SentEnvelope {
  envelope_id: string;
  type: string;
  payload: Record<string, unknown>;
  /** Times it was written to a socket (Slack re-sends an envelope that was not acknowledged). */
  sends: number;
  /** When the ack arrived (ms after the first send), or null. */
  ackedAfterMs: number | null;
  ackPayload: unknown;
  firstSentAt: number | null;
  /** Acks of this envelope that were lost (see sendInteractive's `loseAck`). */
  lostAcks: number;
}

export interface FakeSlackOptions {
  botToken?: string;
  appToken?: string;
  /** Members of user groups, for usergroups.users.list. */
  userGroups?: Record<string, string[]>;
  /** Interval of the server's WebSocket pings (Slack pings the client; the client times out without them). */
  pingIntervalMs?: number;
}

const FIELDS_JSON = new Set(['blocks', 'attachments', 'view', 'metadata']);

/**
 * A loopback Slack: the Web API methods this program calls (driven by SLACK_API_URL) and a Socket
 * Mode WebSocket server behaving like Slack's where the app depends on it: `apps.connections.open`
 * (app token only) hands out a one-time `ws://127.0.0.1` URL; each connection gets `hello`; every
 * interactive envelope waits for its `{envelope_id}` ack (Slack's limit is 3 s) and is sent again on
 * the next connection while unacknowledged; the server can ask for a refresh (`disconnect`) or just
 * drop the socket.
 */
export class FakeSlack {
  readonly calls: SlackCall[] = [];
  readonly messages: SlackMessage[] = [];
  readonly envelopes: SentEnvelope[] = [];
  /** Every `hello` sent: one per accepted connection. */
  connections = 0;
  /** Frames the client sent that were not a well-formed ack. */
  readonly strayFrames: string[] = [];
  private server: http.Server | null = null;
  private wss: WebSocketServer | null = null;
  private socket: WebSocket | null = null;
  private readonly tickets = new Set<string>();
  private readonly loseAckOf = new Set<string>();
  private readonly triggers = new Set<string>();
  private pinger: NodeJS.Timeout | null = null;
  private tsCounter = 0;
  /** Answers for the next calls of a method, e.g. `{ ok: false, error: 'ratelimited' }`. */
  private readonly scripted = new Map<string, Array<Record<string, unknown>>>();
  port = 0;

  constructor(readonly opts: FakeSlackOptions = {}) {}

  get botToken(): string {
    return this.opts.botToken ?? 'xoxb-FAKE-bot-token-for-tests';
  }

  get appToken(): string {
    return this.opts.appToken ?? 'xapp-FAKE-app-token-for-tests';
  }

  /** The SLACK_API_URL for this fake. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, sock, head) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const ticket = url.searchParams.get('ticket') ?? '';
      if (url.pathname !== '/link/' || !this.tickets.delete(ticket)) {
        sock.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      this.wss!.handleUpgrade(req, sock, head, (ws) => this.onConnection(ws));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.apiUrl;
  }

  async stop(): Promise<void> {
    if (this.pinger) clearInterval(this.pinger);
    this.socket?.terminate();
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Queues answers for the next calls of `method`. */
  answer(method: string, ...bodies: Array<Record<string, unknown>>): void {
    this.scripted.set(method, [...(this.scripted.get(method) ?? []), ...bodies]);
  }

  /** The calls of one method. */
  callsOf(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** True while a client is connected and has had its hello. */
  get connected(): boolean {
    return this.socket !== null && this.socket.readyState === this.socket.OPEN;
  }

  /** A trigger_id as Slack puts in a click (views.open accepts only these). */
  newTriggerId(): string {
    const t = `${Date.now()}.${crypto.randomInt(1e9)}.${crypto.randomBytes(8).toString('hex')}`;
    this.triggers.add(t);
    return t;
  }

  /**
   * Sends an interactive envelope (a click or a modal submission). With `dropFirst`, the socket is
   * dropped instead, as if the connection broke just then: the envelope goes out on the next one.
   * With `loseAck`, the client gets the envelope but the connection breaks before its ack arrives:
   * the ack is discarded, the socket dropped, and the envelope sent again on the next connection.
   */
  sendInteractive(payload: Record<string, unknown>, opts: { dropFirst?: boolean; loseAck?: boolean } = {}): SentEnvelope {
    const env: SentEnvelope = { envelope_id: crypto.randomUUID(), type: 'interactive', payload, sends: 0, ackedAfterMs: null, ackPayload: undefined, firstSentAt: null, lostAcks: 0 };
    if (opts.loseAck) this.loseAckOf.add(env.envelope_id);
    this.envelopes.push(env);
    if (opts.dropFirst) this.dropSocket();
    else this.deliver(env);
    return env;
  }

  /** Slack's "please reconnect": the client should open a new connection and the old one ends. */
  requestRefresh(): void {
    this.socket?.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'fake-slack' } }));
  }

  /** Breaks the connection without a close handshake (a network failure). */
  dropSocket(): void {
    this.socket?.terminate();
    this.socket = null;
  }

  async waitForAck(env: SentEnvelope, timeoutMs = 10_000): Promise<void> {
    await this.until(() => env.ackedAfterMs !== null, `the ack of envelope ${env.envelope_id}`, timeoutMs);
  }

  async waitForConnections(n: number, timeoutMs = 20_000): Promise<void> {
    await this.until(() => this.connections >= n && this.connected, `${n} Socket Mode connection(s)`, timeoutMs);
  }

  async waitForCalls(method: string, n: number, timeoutMs = 10_000): Promise<SlackCall[]> {
    await this.until(() => this.callsOf(method).length >= n, `${n} call(s) of ${method}`, timeoutMs);
    return this.callsOf(method);
  }

  async until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`fake Slack: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private deliver(env: SentEnvelope): void {
    if (!this.connected) return;
    env.sends++;
    env.firstSentAt ??= Date.now();
    this.socket!.send(JSON.stringify({ envelope_id: env.envelope_id, type: env.type, payload: env.payload, accepts_response_payload: env.payload.type === 'view_submission' }));
  }

  private onConnection(ws: WebSocket): void {
    // Slack keeps one connection per ticket; a refresh overlaps old and new briefly. The fake sends
    // on the newest one only.
    this.socket = ws;
    ws.on('message', (data: Buffer) => this.onFrame(data.toString('utf8')));
    ws.on('close', () => {
      if (this.socket === ws) this.socket = null;
    });
    ws.on('error', () => undefined);
    this.connections++;
    ws.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 3600 }, connection_info: { app_id: 'A0FAKEAPP' } }));
    if (!this.pinger) {
      this.pinger = setInterval(() => {
        for (const c of this.wss?.clients ?? []) c.ping();
      }, this.opts.pingIntervalMs ?? 5000);
      this.pinger.unref();
    }
    for (const env of this.envelopes) if (env.ackedAfterMs === null) this.deliver(env);
  }

  private onFrame(text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      this.strayFrames.push(text);
      return;
    }
    const id = (frame as { envelope_id?: unknown }).envelope_id;
    const env = typeof id === 'string' ? this.envelopes.find((e) => e.envelope_id === id) : undefined;
    if (!env) {
      this.strayFrames.push(text);
      return;
    }
    if (this.loseAckOf.delete(env.envelope_id)) {
      env.lostAcks++;
      this.dropSocket();
      return;
    }
    if (env.ackedAfterMs === null) {
      env.ackedAfterMs = Date.now() - (env.firstSentAt ?? Date.now());
      env.ackPayload = (frame as { payload?: unknown }).payload;
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = url.pathname.replace(/^\/api\//, '');
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const args = parseArgs(req.headers['content-type'] ?? '', body);
    const token = auth?.[1] ?? (typeof args.token === 'string' ? args.token : null);
    this.calls.push({ method, token, args });
    const reply = (payload: Record<string, unknown>): void => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(payload));
    };
    if (req.method !== 'POST') return reply({ ok: false, error: 'method_not_supported_for_channel_type' });
    const script = this.scripted.get(method);
    if (script?.length) return reply(script.shift()!);

    if (method === 'apps.connections.open') {
      if (token === this.botToken) return reply({ ok: false, error: 'not_allowed_token_type' });
      if (token !== this.appToken) return reply({ ok: false, error: 'invalid_auth' });
      const ticket = crypto.randomBytes(12).toString('hex');
      this.tickets.add(ticket);
      return reply({ ok: true, url: `ws://127.0.0.1:${this.port}/link/?ticket=${ticket}&app_id=A0FAKEAPP` });
    }
    if (token !== this.botToken) return reply({ ok: false, error: token === this.appToken ? 'not_allowed_token_type' : 'invalid_auth' });
    switch (method) {
      case 'auth.test':
        return reply({ ok: true, url: 'https://fake.slack.test/', team: 'Fake', user: 'otw', team_id: 'T0FAKE', user_id: 'U0BOT', bot_id: 'B0BOT' });
      case 'chat.postMessage': {
        const channel = String(args.channel ?? '');
        const ts = this.nextTs();
        const m: SlackMessage = { channel, ts, text: args.text as string | undefined, blocks: args.blocks as SlackMessage['blocks'] };
        if (typeof args.thread_ts === 'string') m.thread_ts = args.thread_ts;
        this.messages.push(m);
        return reply({ ok: true, channel, ts, message: { type: 'message', text: m.text ?? '', ts } });
      }
      case 'chat.update': {
        const m = this.messages.find((x) => x.channel === args.channel && x.ts === args.ts);
        if (!m) return reply({ ok: false, error: 'message_not_found' });
        m.text = args.text as string | undefined;
        m.blocks = args.blocks as SlackMessage['blocks'];
        return reply({ ok: true, channel: m.channel, ts: m.ts, text: m.text ?? '' });
      }
      case 'chat.postEphemeral':
        if (typeof args.user !== 'string' || typeof args.channel !== 'string') return reply({ ok: false, error: 'invalid_arguments' });
        return reply({ ok: true, message_ts: this.nextTs() });
      case 'views.open':
        if (typeof args.trigger_id !== 'string' || !this.triggers.delete(args.trigger_id)) return reply({ ok: false, error: 'invalid_trigger_id' });
        return reply({ ok: true, view: { id: `V${crypto.randomBytes(5).toString('hex').toUpperCase()}`, ...(args.view as Record<string, unknown>) } });
      case 'usergroups.users.list': {
        const users = this.opts.userGroups?.[String(args.usergroup ?? '')];
        return reply(users ? { ok: true, users } : { ok: false, error: 'no_such_subteam' });
      }
      default:
        return reply({ ok: false, error: 'unknown_method' });
    }
  }

  private nextTs(): string {
    return `${1_700_000_000 + ++this.tsCounter}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  /** The response buttons of the newest top-level message (what an analyst sees and clicks). */
  responseButtons(message: SlackMessage = this.messages.filter((m) => !m.thread_ts).at(-1)!): Array<Record<string, unknown>> {
    return (message.blocks ?? []).filter((b) => b.type === 'actions').flatMap((b) => b.elements as Array<Record<string, unknown>>).filter((e) => typeof e.value === 'string');
  }

  /**
   * The `block_actions` payload Slack sends when `user` clicks `button` on `message` (the fields
   * this program reads, and a few it must not trust).
   */
  blockActions(message: SlackMessage, button: Record<string, unknown>, user: { id: string; name: string }, overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      type: 'block_actions',
      team: { id: 'T0FAKE', domain: 'fake' },
      user: { id: user.id, username: user.name, name: user.name, team_id: 'T0FAKE' },
      api_app_id: 'A0FAKEAPP',
      token: 'verification-token-not-used',
      container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
      trigger_id: this.newTriggerId(),
      channel: { id: message.channel, name: 'security' },
      message: { type: 'message', ts: message.ts, text: message.text, blocks: message.blocks },
      response_url: `http://127.0.0.1:${this.port}/actions/response-url-not-used`,
      actions: [{ type: 'button', action_id: button.action_id, block_id: 'otw_respond', value: button.value, text: button.text, action_ts: `${Date.now() / 1000}` }],
      ...overrides,
    };
  }

  /** The `view_submission` payload for the newest opened modal, with `reason` typed in. */
  viewSubmission(user: { id: string; name: string }, reason: string): Record<string, unknown> {
    const open = this.callsOf('views.open').at(-1);
    if (!open) throw new Error('fake Slack: no modal was opened');
    const view = open.args.view as Record<string, unknown>;
    const blocks = (view.blocks as Array<Record<string, unknown>>) ?? [];
    const input = blocks.find((b) => b.type === 'input')!;
    const element = input.element as Record<string, unknown>;
    return {
      type: 'view_submission',
      team: { id: 'T0FAKE', domain: 'fake' },
      user: { id: user.id, username: user.name, name: user.name, team_id: 'T0FAKE' },
      api_app_id: 'A0FAKEAPP',
      trigger_id: this.newTriggerId(),
      view: {
        id: 'V0FAKE',
        type: 'modal',
        callback_id: view.callback_id,
        private_metadata: view.private_metadata,
        state: { values: { [String(input.block_id)]: { [String(element.action_id)]: { type: 'plain_text_input', value: reason } } } },
      },
    };
  }
}

function parseArgs(contentType: string, body: string): Record<string, unknown> {
  if (contentType.includes('application/json')) {
    try {
      return JSON.parse(body) as Record<string, unknown>;
    } catch {
      return {};
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    if (FIELDS_JSON.has(k)) {
      try {
        out[k] = JSON.parse(v);
        continue;
      } catch {
        /* keep the text */
      }
    }
    out[k] = v;
  }
  return out;
}
