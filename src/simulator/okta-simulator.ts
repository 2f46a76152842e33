import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tokenRevokeEvent } from './demo-events';
import { HookPusher, type DeliveryOutcome } from './hook-pusher';

/**
 * An Okta org simulator on 127.0.0.1, used by the demo, the tests, the soak and the benchmark. It
 * behaves that like the System Log API where the poller depends on it:
 * - polling requests (no `until`, ASCENDING) return events in *persistence* order, bounded by `since`
 *   on persistence time, and ALWAYS carry a `next` link, also on an empty page (the stream is infinite);
 *   `after` is an opaque cursor that only comes from `next` links;
 * - bounded requests (`since` + `until`) filter and order by `published` and end;
 * - `self` and `next` come as separate `link` headers; X-Rate-Limit-* headers on every response
 *   with a per-minute bucket per endpoint (as Okta limits /api/v1/logs apart from other APIs); 429/5xx/400/401/403 with Okta's error body;
 * - `filter=` terms `eventType eq "a"` and `transaction.detail.requestApiTokenId eq "x"` joined with
 *   ` or ` honoured, in polling and bounded requests (other expressions: 400 E0000031); `limit` capped at 1000;
 * - SSWS and OAuth (private_key_jwt client credentials, optional DPoP nonce) authentication;
 * - the API Tokens API (`/api/v1/api-tokens`, see handleApiTokens): list with Link pagination, get,
 *   revoke (recorded as a System Log event), OAuth scopes honoured, a scriptable 403;
 * - the event hook management API (`/api/v1/eventHooks`, see handleEventHooks): verification makes
 *   the real challenge GET to the hook's URI, and lifecycle changes are recorded as System Log events.
 * Faults are scripted per request: failures, hangs, next links to another origin, expired cursors.
 */
export interface FakeOktaOptions {
  token?: string;
  /** OAuth service app accepted by the token endpoint. */
  oauth?: { clientId: string; publicKeyPem?: string; requireDpop?: boolean; grantScopes?: string[] };
  rateLimit?: number;
  /** The server's notion of now (ms); tests pass their fake clock. */
  now?: () => number;
  /** CA certificate(s) the hook verification trusts (tests serve the hook with a self-signed certificate). */
  hookCa?: string | Buffer;
  /**
   * Accept http:// hook URIs (Okta never does). Only the demo sets it: its receiver runs on
   * 127.0.0.1 without a certificate, so that the demo needs no openssl and no configuration.
   */
  allowHttpHooks?: boolean;
}

/** An event hook as the fake stores it; `secret` is write-only, as in Okta. */
export interface FakeEventHook {
  id: string;
  name: string;
  status: 'ACTIVE' | 'INACTIVE';
  verificationStatus: 'VERIFIED' | 'UNVERIFIED';
  uri: string;
  events: string[];
  authKey: string;
  secret: string;
  created: string;
  lastUpdated: string;
}

export interface RecordedRequest {
  method: string;
  url: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
  /** Epoch ms (wall clock) when the request arrived, and when it was answered (null: not answered). */
  at: number;
  answeredAt: number | null;
  /** For a request held by `hang()`: epoch ms when the client gave up and closed the connection (null: it did not). */
  clientClosedAt?: number | null;
  /** Who asked: the label of the SSWS token it carried (see `addToken`), else null. */
  who: string | null;
}

type Fault =
  | { kind: 'status'; status: number; errorCode: string; errorSummary: string; headers?: Record<string, string> }
  | { kind: 'hang'; ms: number }
  | { kind: 'destroy' }
  | { kind: 'next-origin'; origin: string }
  | { kind: 'not-json' }
  | { kind: 'redirect'; location: string };

interface Stored {
  seq: number;
  persistedAt: number;
  event: Record<string, unknown>;
}

export class FakeOkta {
  readonly requests: RecordedRequest[] = [];
  readonly tokenRequests: Array<{ params: URLSearchParams; dpop: string | undefined }> = [];
  private readonly stored: Stored[] = [];
  private readonly persistListeners: Array<(events: Array<Record<string, unknown>>) => void> = [];
  private readonly faults: Array<{ match: (path: string) => boolean; fault: Fault }> = [];
  private server: http.Server | null = null;
  private cursorEpoch = 1;
  // Okta rate-limits each endpoint family separately; the System Log has its own bucket.
  private readonly buckets = new Map<string, { used: number; resetAt: number }>();
  private currentPath = '/api/v1/logs';
  private get bucket(): { used: number; resetAt: number } {
    const key = this.currentPath === '/api/v1/logs' ? 'logs' : 'other';
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { used: 0, resetAt: 0 }));
    return b;
  }
  private set bucket(v: { used: number; resetAt: number }) {
    this.buckets.set(this.currentPath === '/api/v1/logs' ? 'logs' : 'other', v);
  }
  private readonly issuedTokens = new Map<string, string[]>();
  readonly eventHooks = new Map<string, FakeEventHook>();
  /** SSWS mode: the token's admin may not manage event hooks (403 E0000006, as for a non-super admin). */
  eventHooksForbidden = false;
  /** How long the hook verification waits for the endpoint per attempt (Okta: 3 s). */
  hookVerifyTimeoutMs = 3000;
  readonly apiTokens = new Map<string, Record<string, unknown>>();
  /** Extra SSWS tokens this org accepts, each with a label recorded as `who` on its requests. */
  private readonly labelledTokens = new Map<string, string>();
  /** System Log requests held without an answer while the org hangs (see `hang`). */
  private held: Array<() => void> | null = null;
  /** Remaining override for the next responses: simulates other integrations using the bucket. */
  remainingOverride: number | null = null;
  origin = '';

  constructor(readonly opts: FakeOktaOptions = {}) {}

  get token(): string {
    return this.opts.token ?? 'FAKE-okta-api-token-of-the-simulator';
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        void this.handle(req, res, body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.origin;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  /**
   * Accepts another SSWS token, labelled: every request made with it is recorded with `who: label`.
   * The soak gives each daemon process its own token, so the request log tells which process asked.
   */
  addToken(token: string, label: string): void {
    this.labelledTokens.set(token, label);
  }

  /**
   * Makes the org hang: from now on every System Log request is taken and never answered (as an org
   * behind a stalled proxy), until `unhang()`, which resets the held connections.
   */
  hang(): void {
    this.held ??= [];
  }

  /** Ends `hang()`: held requests get their connection reset, new ones are answered again. */
  unhang(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const drop of held) drop();
  }

  get hanging(): boolean {
    return this.held !== null;
  }

  /** Persists events now, in this order (persistence order, whatever their `published`). */
  persist(...events: Array<Record<string, unknown>>): void {
    for (const event of events) this.stored.push({ seq: this.stored.length, persistedAt: this.now(), event });
    for (const listener of this.persistListeners) listener(events);
  }

  /**
   * Also pushes what is persisted from now on, like an active event hook: each persist() call is one
   * delivery (retried once on a timeout or 5xx) of the events whose type is in `eventTypes`.
   */
  pushTo(pusher: HookPusher, eventTypes: readonly string[] = ['system.api_token.create']): void {
    const types = new Set(eventTypes);
    this.persistListeners.push((events) => {
      const eligible = events.filter((e) => typeof e.eventType === 'string' && types.has(e.eventType));
      if (eligible.length > 0) pusher.enqueue(eligible);
    });
  }

  /**
   * Pushes what is persisted from now on to the org's own event hooks, as Okta does: only to a hook
   * that is ACTIVE and VERIFIED when the event is persisted (so a deactivated hook gets nothing),
   * only the event types it subscribes to, with its URI and auth value; one delivery per persist()
   * call per hook, retried once on a timeout or 5xx. HTTPS endpoints are trusted through `hookCa`.
   */
  pushToHooks(opts: { timeoutMs?: number } = {}): void {
    this.persistListeners.push((events) => {
      for (const hook of this.eventHooks.values()) {
        if (hook.status !== 'ACTIVE' || hook.verificationStatus !== 'VERIFIED') continue;
        const types = new Set(hook.events);
        const eligible = events.filter((e) => typeof e.eventType === 'string' && types.has(e.eventType));
        if (eligible.length === 0) continue;
        // One pusher per endpoint and secret: an updated hook gets a fresh one.
        const key = JSON.stringify([hook.id, hook.uri, hook.secret]);
        let pusher = this.hookPushers.get(key);
        if (!pusher) {
          pusher = new HookPusher({ url: hook.uri, secret: hook.secret, orgUrl: this.origin, hookId: hook.id, ca: this.opts.hookCa, timeoutMs: opts.timeoutMs });
          this.hookPushers.set(key, pusher);
        }
        pusher.enqueue(eligible);
      }
    });
  }

  private readonly hookPushers = new Map<string, HookPusher>();

  /** Every delivery made to the org's hooks by pushToHooks(), hook by hook. */
  get hookDeliveries(): DeliveryOutcome[] {
    return [...this.hookPushers.values()].flatMap((p) => p.deliveries);
  }

  /** Resolves when every delivery to the org's hooks has finished (answered, retried or timed out). */
  async hooksIdle(): Promise<void> {
    for (const p of this.hookPushers.values()) await p.idle();
  }

  get persistedCount(): number {
    return this.stored.length;
  }

  /** Makes every cursor issued so far invalid (400 on `after`). */
  expireCursors(): void {
    this.cursorEpoch++;
  }

  private readonly faultsAt = new Map<number, Fault>();
  private logRequestCount = 0;

  /** Applies a fault to the n-th System Log request (1-based, counted from the start). */
  failAt(n: number, fault: Fault): void {
    this.faultsAt.set(n, fault);
  }

  /** Queues a fault for the next matching request(s). */
  fail(times: number, fault: Fault, match: (path: string) => boolean = (p) => p === '/api/v1/logs'): void {
    for (let i = 0; i < times; i++) this.faults.push({ match, fault });
  }

  failStatus(times: number, status: number, headers?: Record<string, string>): void {
    const [errorCode, errorSummary] = ERRORS[status] ?? ['E0000009', 'Internal Server Error'];
    this.fail(times, { kind: 'status', status, errorCode, errorSummary, headers });
  }

  /** Answers 429 on the System Log until its bucket resets, as Okta does when the limit is used up. */
  exhaustRateLimit(resetInMs: number): void {
    this.buckets.set('logs', { used: this.limit, resetAt: this.now() + resetInMs });
  }

  get limit(): number {
    return this.opts.rateLimit ?? 50;
  }

  logRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === '/api/v1/logs');
  }

  private rateHeaders(): Record<string, string> {
    const now = this.now();
    if (now >= this.bucket.resetAt) this.bucket = { used: 0, resetAt: now + 60_000 };
    const remaining = this.remainingOverride ?? Math.max(0, this.limit - this.bucket.used);
    return {
      'x-rate-limit-limit': String(this.limit),
      'x-rate-limit-remaining': String(remaining),
      'x-rate-limit-reset': String(Math.ceil(this.bucket.resetAt / 1000)),
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    this.currentPath = url.pathname;
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      url: url.href,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      status: 0,
      at: Date.now(),
      answeredAt: null,
      who: this.whoAsked(req),
    };
    this.requests.push(rec);
    const send = (status: number, payload: unknown, headers: Record<string, string | string[]> = {}): void => {
      rec.status = status;
      rec.answeredAt = Date.now();
      // Date from the simulator's own clock (Node's would be the wall clock): tests skew it against the client's.
      res.writeHead(status, { 'content-type': 'application/json', date: new Date(this.now()).toUTCString(), ...headers });
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
    };
    const error = (status: number, errorCode: string, errorSummary: string, headers: Record<string, string> = {}): void =>
      send(status, { errorCode, errorSummary, errorLink: errorCode, errorId: 'oae' + crypto.randomBytes(8).toString('hex'), errorCauses: [] }, { ...this.rateHeaders(), ...headers });

    if (url.pathname === '/oauth2/v1/token' && req.method === 'POST') return this.handleToken(req, body, send);
    if (this.held && url.pathname === '/api/v1/logs') {
      rec.clientClosedAt = null;
      let dropped = false;
      req.socket.once('close', () => {
        if (!dropped) rec.clientClosedAt = Date.now();
      });
      this.held.push(() => {
        dropped = true;
        req.socket.destroy();
      });
      return;
    }

    const faultIndex = this.faults.findIndex((f) => f.match(url.pathname));
    let nextOrigin: string | null = null;
    let notJson = false;
    let fault: Fault | undefined;
    if (url.pathname === '/api/v1/logs') {
      this.logRequestCount++;
      fault = this.faultsAt.get(this.logRequestCount);
    }
    if (!fault && faultIndex >= 0) fault = this.faults.splice(faultIndex, 1)[0]!.fault;
    if (fault) {
      if (fault.kind === 'status') return error(fault.status, fault.errorCode, fault.errorSummary, fault.headers);
      if (fault.kind === 'hang') {
        await new Promise((r) => setTimeout(r, fault.ms));
        if (res.destroyed) return;
        this.currentPath = url.pathname;
      }
      if (fault.kind === 'redirect') {
        rec.status = 302;
        res.writeHead(302, { location: fault.location });
        res.end();
        return;
      }
      if (fault.kind === 'destroy') {
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'next-origin') nextOrigin = fault.origin;
      if (fault.kind === 'not-json') notJson = true;
    }

    if (!this.authorized(req)) return error(401, 'E0000011', 'Invalid token provided');

    const rate = this.rateHeaders();
    if (this.bucket.used >= this.limit) return error(429, 'E0000047', 'API call exceeded rate limit due to too many requests.');
    this.bucket.used++;
    const fresh = this.rateHeaders();

    if (url.pathname === '/api/v1/eventHooks' || url.pathname.startsWith('/api/v1/eventHooks/')) {
      return this.handleEventHooks(req, url, body, fresh, send, error);
    }
    if (url.pathname === '/api/v1/api-tokens' || url.pathname.startsWith('/api/v1/api-tokens/')) {
      return this.handleApiTokens(req, url, fresh, send, error);
    }
    if (url.pathname !== '/api/v1/logs' || req.method !== 'GET') return error(404, 'E0000022', 'The endpoint does not support the provided HTTP method');
    void rate;
    if (notJson) return send(200, '<html>maintenance</html>', { ...fresh, 'content-type': 'text/html' });
    return this.handleLogs(url, fresh, send, error, nextOrigin);
  }

  private whoAsked(req: http.IncomingMessage): string | null {
    const m = /^SSWS (.+)$/.exec(req.headers.authorization ?? '');
    return m ? (this.labelledTokens.get(m[1]!) ?? null) : null;
  }

  private authorized(req: http.IncomingMessage): boolean {
    const auth = req.headers.authorization ?? '';
    if (auth === `SSWS ${this.token}`) return true;
    if (auth.startsWith('SSWS ') && this.labelledTokens.has(auth.slice(5))) return true;
    const m = /^(Bearer|DPoP) (.+)$/.exec(auth);
    if (m && this.issuedTokens.has(m[2]!)) {
      if (this.opts.oauth?.requireDpop && (m[1] !== 'DPoP' || !req.headers.dpop)) return false;
      return true;
    }
    return false;
  }

  /** The scopes of the OAuth access token on this request, or null for SSWS. */
  private tokenScopes(req: http.IncomingMessage): string[] | null {
    const m = /^(Bearer|DPoP) (.+)$/.exec(req.headers.authorization ?? '');
    return m ? (this.issuedTokens.get(m[2]!) ?? []) : null;
  }

  /**
   * Stores a token for the API Tokens API (insertion order is the list's order). Missing fields get
   * Okta's defaults: a 30-day window from `created`, no network restriction.
   */
  addApiToken(token: { id: string; name: string } & Record<string, unknown>): Record<string, unknown> {
    const created = typeof token.created === 'string' ? token.created : new Date(this.now()).toISOString();
    const stored = {
      userId: '00ufakeadmin00000001',
      clientName: 'Okta Admin Console',
      created,
      lastUpdated: created,
      expiresAt: new Date(Date.parse(created) + 30 * 86_400_000).toISOString(),
      tokenWindow: 'P30D',
      network: { connection: 'ANYWHERE', include: [], exclude: [] },
      ...token,
    };
    this.apiTokens.set(token.id, stored);
    return stored;
  }

  /**
   * Stores the token a `system.api_token.create` event made (its `Token` target; the actor as the
   * owner; the network condition from debugData), as Okta would list it. Null when the event names
   * no token.
   */
  addApiTokenFromEvent(event: Record<string, unknown>): Record<string, unknown> | null {
    const targets = Array.isArray(event.target) ? (event.target as Array<Record<string, unknown>>) : [];
    const t = targets.find((x) => x && x.type === 'Token' && typeof x.id === 'string');
    if (!t) return null;
    const actor = (event.actor ?? {}) as Record<string, unknown>;
    const debug = ((event.debugContext as Record<string, unknown> | undefined)?.debugData ?? {}) as Record<string, unknown>;
    const connection = typeof debug.networkConnection === 'string' ? debug.networkConnection : 'ANYWHERE';
    return this.addApiToken({
      id: t.id as string,
      name: typeof t.displayName === 'string' ? t.displayName : '',
      userId: typeof actor.id === 'string' ? actor.id : '00ufakeadmin00000001',
      created: typeof event.published === 'string' ? event.published : new Date(this.now()).toISOString(),
      network: { connection, include: Array.isArray(debug.includedNetworkZones) ? debug.includedNetworkZones : [], exclude: Array.isArray(debug.excludedNetworkZones) ? debug.excludedNetworkZones : [] },
    });
  }

  /** SSWS mode: the token's admin may not read or revoke API tokens (403 E0000006). */
  apiTokensForbidden = false;
  /** Who a revoke through the API is recorded as, for SSWS callers (an OAuth caller is its service app). */
  sswsActor = { id: '00ufakeadmin00000001', login: 'admin@example.com', name: 'Fake Admin' };
  /** The id Okta would record as `requestApiTokenId` for requests made with the SSWS token. */
  sswsTokenId = '00Tfakessws000000001';

  /**
   * The API Tokens API: `GET /api/v1/api-tokens` (`limit`, default 20, at most 200; `after` = the
   * last id of the previous page; a `Link: rel="next"` while more remain), `GET /{id}`, and
   * `DELETE /{id}` (204, then 404; records a system.api_token.revoke with the caller as actor).
   * OAuth: reads need okta.apiTokens.read or manage, a revoke needs manage; SSWS: allowed unless
   * `apiTokensForbidden`. A refusal is 403 E0000006, as Okta answers.
   */
  private handleApiTokens(
    req: http.IncomingMessage,
    url: URL,
    headers: Record<string, string>,
    send: (status: number, payload: unknown, headers?: Record<string, string | string[]>) => void,
    error: (status: number, code: string, summary: string, headers?: Record<string, string>) => void,
  ): void {
    const method = req.method ?? 'GET';
    const scopes = this.tokenScopes(req);
    const need = method === 'GET' ? ['okta.apiTokens.read', 'okta.apiTokens.manage'] : ['okta.apiTokens.manage'];
    const allowed = scopes === null ? !this.apiTokensForbidden : scopes.some((x) => need.includes(x));
    const forbidden = (): void =>
      error(403, 'E0000006', 'You do not have permission to perform the requested action', scopes === null ? {} : { 'www-authenticate': `Bearer error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="${url.pathname}"` });
    const id = url.pathname === '/api/v1/api-tokens' ? null : decodeURIComponent(url.pathname.slice('/api/v1/api-tokens/'.length));
    if (id === null) {
      if (method !== 'GET') return error(405, 'E0000022', 'The endpoint does not support the provided HTTP method');
      if (!allowed) return forbidden();
      const limitRaw = url.searchParams.get('limit');
      const limit = limitRaw === null ? 20 : Number(limitRaw);
      if (!Number.isInteger(limit) || limit < 1) return error(400, 'E0000001', 'Api validation failed: limit');
      const all = [...this.apiTokens.values()];
      const after = url.searchParams.get('after');
      const start = after === null ? 0 : all.findIndex((t) => t.id === after) + 1;
      const page = all.slice(start, start + Math.min(limit, 200));
      const links = [`<${url.href}>; rel="self"`];
      if (start + page.length < all.length && page.length > 0) {
        const next = new URL('/api/v1/api-tokens', this.origin);
        next.searchParams.set('after', String(page[page.length - 1]!.id));
        next.searchParams.set('limit', String(limit));
        links.push(`<${next.href}>; rel="next"`);
      }
      return send(200, page, { ...headers, link: links });
    }
    if (method !== 'GET' && method !== 'DELETE') return error(405, 'E0000022', 'The endpoint does not support the provided HTTP method');
    if (!allowed) return forbidden();
    const t = this.apiTokens.get(id);
    if (!t) return error(404, 'E0000007', `Not found: Resource not found: ${id} (ApiToken)`);
    if (method === 'GET') return send(200, t, headers);
    this.apiTokens.delete(id);
    const client = this.opts.oauth?.clientId;
    const actor = scopes === null ? this.sswsActor : { id: client ?? '0oafakeserviceapp001', login: client ?? '0oafakeserviceapp001', name: 'Service app', type: 'PublicClientApp' };
    this.persist(
      tokenRevokeEvent({
        published: new Date(this.now()),
        actor,
        client: { ip: '127.0.0.1', ua: { raw: String(req.headers['user-agent'] ?? 'unknown'), browser: 'UNKNOWN', os: 'Unknown' } },
        token: { id, name: typeof t.name === 'string' ? t.name : '' },
        // An SSWS request is itself made with an API token, and Okta records which; OAuth has none.
        requestApiTokenId: scopes === null ? this.sswsTokenId : null,
      }),
    );
    return send(204, '', headers);
  }

  /**
   * `/api/v1/eventHooks`: list/create, `/{id}` get/put/delete (delete only when INACTIVE),
   * `/{id}/lifecycle/{verify,activate,deactivate}`. Writes need okta.eventHooks.manage, reads
   * okta.eventHooks.read or manage (OAuth); an SSWS admin may do everything unless
   * `eventHooksForbidden`.
   */
  private async handleEventHooks(
    req: http.IncomingMessage,
    url: URL,
    body: string,
    headers: Record<string, string>,
    send: (status: number, payload: unknown, headers?: Record<string, string | string[]>) => void,
    error: (status: number, code: string, summary: string) => void,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const scopes = this.tokenScopes(req);
    const allowed = scopes === null
      ? !this.eventHooksForbidden
      : scopes.includes('okta.eventHooks.manage') || (method === 'GET' && scopes.includes('okta.eventHooks.read'));
    if (!allowed) return error(403, 'E0000006', 'You do not have permission to perform the requested action');
    const parts = url.pathname.split('/').slice(4).map(decodeURIComponent);
    const validation = (cause: string): void => {
      const payload = { errorCode: 'E0000001', errorSummary: 'Api validation failed: eventHook', errorLink: 'E0000001', errorId: 'oae' + crypto.randomBytes(8).toString('hex'), errorCauses: [{ errorSummary: cause }] };
      send(400, payload, headers);
    };
    const now = new Date(this.now()).toISOString();
    if (parts.length === 0) {
      if (method === 'GET') return send(200, [...this.eventHooks.values()].map(hookJson), headers);
      if (method !== 'POST') return error(405, 'E0000022', 'The endpoint does not support the provided HTTP method');
      const def = parseHookBody(body, this.opts.allowHttpHooks ?? false);
      if (typeof def === 'string') return validation(def);
      const hook: FakeEventHook = { id: 'who' + crypto.randomBytes(8).toString('hex'), status: 'ACTIVE', verificationStatus: 'UNVERIFIED', created: now, lastUpdated: now, ...def };
      this.eventHooks.set(hook.id, hook);
      return send(200, hookJson(hook), headers);
    }
    const hook = this.eventHooks.get(parts[0]!);
    if (!hook) return error(404, 'E0000007', `Not found: Resource not found: ${parts[0]} (EventHook)`);
    const changed = (eventType: string): void => {
      hook.lastUpdated = now;
      this.persistHookEvent(eventType, hook);
    };
    if (parts.length === 1) {
      if (method === 'GET') return send(200, hookJson(hook), headers);
      if (method === 'PUT') {
        const def = parseHookBody(body, this.opts.allowHttpHooks ?? false);
        if (typeof def === 'string') return validation(def);
        // A new endpoint (or a new secret) has not answered a challenge yet.
        if (def.uri !== hook.uri || def.secret !== hook.secret) hook.verificationStatus = 'UNVERIFIED';
        Object.assign(hook, def);
        changed('event_hook.updated');
        return send(200, hookJson(hook), headers);
      }
      if (method === 'DELETE') {
        if (hook.status !== 'INACTIVE') return validation('Cannot delete an event hook in ACTIVE status: deactivate it first.');
        this.eventHooks.delete(hook.id);
        this.persistHookEvent('event_hook.deleted', hook);
        return send(204, '', headers);
      }
      return error(405, 'E0000022', 'The endpoint does not support the provided HTTP method');
    }
    if (parts.length === 3 && parts[1] === 'lifecycle' && method === 'POST') {
      if (parts[2] === 'activate') {
        if (hook.status !== 'ACTIVE') {
          hook.status = 'ACTIVE';
          changed('event_hook.activated');
        }
        return send(200, hookJson(hook), headers);
      }
      if (parts[2] === 'deactivate') {
        if (hook.status !== 'INACTIVE') {
          hook.status = 'INACTIVE';
          changed('event_hook.deactivated');
        }
        return send(200, hookJson(hook), headers);
      }
      if (parts[2] === 'verify') {
        const failure = await this.verifyHook(hook);
        if (failure) {
          hook.verificationStatus = 'UNVERIFIED';
          return validation(`Failed to verify the event hook endpoint: ${failure}`);
        }
        hook.verificationStatus = 'VERIFIED';
        changed('event_hook.verified');
        return send(200, hookJson(hook), headers);
      }
    }
    return error(404, 'E0000022', 'The endpoint does not support the provided HTTP method');
  }

  /**
   * Okta's verification: a GET to the hook's URI with the challenge and the configured auth header,
   * 3 s per attempt, one retry after a timeout, network error or 5xx. Null on success, else why.
   */
  private async verifyHook(hook: FakeEventHook): Promise<string | null> {
    let why = '';
    for (let attempt = 0; attempt < 2; attempt++) {
      const challenge = crypto.randomBytes(16).toString('hex');
      const r = await this.challengeOnce(hook, challenge);
      if (r.kind === 'answer') {
        if (r.status >= 200 && r.status < 300) {
          let verification: unknown;
          try {
            verification = (JSON.parse(r.body) as Record<string, unknown>).verification;
          } catch {
            /* not JSON */
          }
          return verification === challenge ? null : 'the response did not contain the verification value.';
        }
        why = `the endpoint answered HTTP ${r.status}.`;
        if (r.status < 500) return why;
      } else {
        why = r.kind === 'timeout' ? 'the endpoint did not answer within 3 seconds.' : `the endpoint could not be reached (${r.code}).`;
      }
    }
    return why;
  }

  private challengeOnce(hook: FakeEventHook, challenge: string): Promise<{ kind: 'answer'; status: number; body: string } | { kind: 'timeout' } | { kind: 'network'; code: string }> {
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(hook.uri);
      } catch {
        return resolve({ kind: 'network', code: 'bad URI' });
      }
      const lib = target.protocol === 'https:' ? https : http;
      const req = lib.request(
        target,
        { method: 'GET', headers: { 'x-okta-verification-challenge': challenge, [hook.authKey]: hook.secret }, ...(this.opts.hookCa ? { ca: this.opts.hookCa } : {}) },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            if (text.length < 65536) text += c.toString();
          });
          res.on('end', () => resolve({ kind: 'answer', status: res.statusCode ?? 0, body: text }));
          res.on('error', () => resolve({ kind: 'network', code: 'reset' }));
        },
      );
      req.setTimeout(this.hookVerifyTimeoutMs, () => {
        req.destroy();
        resolve({ kind: 'timeout' });
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'network', code: err.code ?? 'error' }));
      req.end();
    });
  }

  /** Records a hook lifecycle change in the System Log, as Okta does (target: the hook). */
  private persistHookEvent(eventType: string, hook: FakeEventHook): void {
    this.persist({
      uuid: crypto.randomUUID(),
      published: new Date(this.now()).toISOString(),
      eventType,
      version: '0',
      severity: 'INFO',
      displayMessage: `Event hook ${eventType.slice('event_hook.'.length)}`,
      actor: { id: '00uhookadmin00000001', type: 'User', alternateId: 'admin@example.com', displayName: 'Hook Admin', detailEntry: null },
      client: { ipAddress: '127.0.0.1', userAgent: { rawUserAgent: 'okta-token-watch' } },
      outcome: { result: 'SUCCESS', reason: null },
      target: [{ id: hook.id, type: 'EventHook', alternateId: 'unknown', displayName: hook.name, detailEntry: null }],
    });
  }

  private handleLogs(
    url: URL,
    headers: Record<string, string>,
    send: (status: number, payload: unknown, headers?: Record<string, string | string[]>) => void,
    error: (status: number, code: string, summary: string) => void,
    nextOrigin: string | null,
  ): void {
    const q = url.searchParams;
    const filter = q.get('filter');
    let matchFilter: ((event: Record<string, unknown>) => boolean) | null = null;
    if (filter !== null) {
      const parsed = parseLogFilter(filter);
      if (parsed === null) return error(400, 'E0000031', 'Invalid search criteria.');
      matchFilter = parsed;
    }
    const limitRaw = q.get('limit');
    const limit = Math.min(1000, limitRaw === null ? 100 : Number(limitRaw));
    if (!Number.isInteger(limit) || limit < 0) return error(400, 'E0000001', 'Api validation failed: limit');
    const sortOrder = q.get('sortOrder') ?? 'ASCENDING';
    const until = q.get('until');
    const matches = (s: Stored): boolean => matchFilter === null || matchFilter(s.event);

    const selfLink = `<${url.href}>; rel="self"`;
    const linkFor = (params: Record<string, string>): string => {
      const next = new URL('/api/v1/logs', nextOrigin ?? this.origin);
      // An absent filter stays absent: `filter=` (empty) would be a filter Okta cannot parse.
      for (const [k, v] of Object.entries(params)) if (v !== '') next.searchParams.set(k, v);
      return `<${next.href}>; rel="next"`;
    };

    if (until !== null) {
      // Bounded request: published order, finite.
      const since = q.get('since');
      const sinceMs = since ? Date.parse(since) : Date.parse(until) - 7 * 86_400_000;
      const untilMs = Date.parse(until);
      if (!Number.isFinite(sinceMs) || !Number.isFinite(untilMs)) return error(400, 'E0000001', 'Api validation failed: since');
      const offset = q.get('after') ? Number(Buffer.from(q.get('after')!, 'base64url').toString().split(':')[1]) : 0;
      const inRange = this.stored
        .filter((s) => matches(s) && Date.parse(String(s.event.published)) >= sinceMs && Date.parse(String(s.event.published)) < untilMs)
        .sort((a, b) => Date.parse(String(a.event.published)) - Date.parse(String(b.event.published)));
      const page = inRange.slice(offset, offset + limit);
      const links = [selfLink];
      if (offset + limit < inRange.length) {
        links.push(linkFor({ after: Buffer.from(`b:${offset + limit}`).toString('base64url'), filter: filter ?? '', since: since ?? '', until, limit: String(limit), sortOrder }));
      }
      return send(200, page.map((s) => s.event), { ...headers, link: links });
    }

    if (sortOrder !== 'ASCENDING') return error(400, 'E0000001', 'Api validation failed: polling requires sortOrder=ASCENDING');
    let start: number;
    const after = q.get('after');
    if (after !== null) {
      const decoded = Buffer.from(after, 'base64url').toString().split(':');
      if (decoded.length !== 3 || decoded[0] !== 'p' || Number(decoded[1]) !== this.cursorEpoch || !Number.isInteger(Number(decoded[2]))) {
        return error(400, 'E0000001', 'Api validation failed: after');
      }
      start = Number(decoded[2]);
    } else {
      const since = q.get('since');
      const sinceMs = since ? Date.parse(since) : this.now() - 7 * 86_400_000;
      if (!Number.isFinite(sinceMs)) return error(400, 'E0000001', 'Api validation failed: since. Invalid date format.');
      if (sinceMs < this.now() - 180 * 86_400_000) return error(400, 'E0000053', 'Invalid parameter: since must be within 180 days.');
      start = this.stored.findIndex((s) => s.persistedAt >= sinceMs);
      if (start < 0) start = this.stored.length;
    }
    const page: Stored[] = [];
    let pos = start;
    while (pos < this.stored.length && page.length < limit) {
      const s = this.stored[pos]!;
      pos++;
      if (matches(s)) page.push(s);
    }
    // The cursor points past everything scanned, matching or not.
    const nextCursor = Buffer.from(`p:${this.cursorEpoch}:${pos}`).toString('base64url');
    const links = [selfLink, linkFor({ after: nextCursor, filter: filter ?? '', limit: String(limit), sortOrder: 'ASCENDING' })];
    send(200, page.map((s) => s.event), { ...headers, link: links });
  }

  private handleToken(req: http.IncomingMessage, body: string, send: (status: number, payload: unknown, headers?: Record<string, string>) => void): void {
    const params = new URLSearchParams(body);
    const dpop = typeof req.headers.dpop === 'string' ? req.headers.dpop : undefined;
    this.tokenRequests.push({ params, dpop });
    const oauth = this.opts.oauth;
    const fail = (error: string, description: string, status = 401): void => send(status, { error, error_description: description });
    if (!oauth) return fail('invalid_client', 'Client authentication failed.');
    if (params.get('grant_type') !== 'client_credentials') return fail('unsupported_grant_type', 'The grant type is not supported.', 400);
    const assertion = params.get('client_assertion') ?? '';
    const [h, p, s] = assertion.split('.');
    let claims: Record<string, unknown> = {};
    try {
      claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Record<string, unknown>;
    } catch {
      return fail('invalid_client', 'The client_assertion is malformed.');
    }
    if (claims.iss !== oauth.clientId || claims.sub !== oauth.clientId) return fail('invalid_client', 'The client_assertion token is invalid: unknown client.');
    if (oauth.publicKeyPem) {
      const ok = crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`), oauth.publicKeyPem, Buffer.from(s ?? '', 'base64url'));
      if (!ok) return fail('invalid_client', 'The client_assertion signature is invalid.');
    }
    const scopes = (params.get('scope') ?? '').split(' ');
    const granted = oauth.grantScopes ?? ['okta.logs.read', 'okta.apiTokens.read'];
    const missing = scopes.filter((x) => !granted.includes(x));
    if (missing.length) return fail('invalid_scope', `The following scopes are not granted to the client: ${missing.join(' ')}`, 400);
    if (oauth.requireDpop) {
      if (!dpop) return fail('invalid_dpop_proof', 'The DPoP proof JWT header is missing.', 400);
      const payload = JSON.parse(Buffer.from(dpop.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
      if (!payload.nonce) {
        return send(400, { error: 'use_dpop_nonce', error_description: 'Authorization server requires nonce in DPoP proof.' }, { 'dpop-nonce': 'nonce-' + crypto.randomBytes(6).toString('hex') });
      }
    }
    const token = 'at-' + crypto.randomBytes(16).toString('hex');
    this.issuedTokens.set(token, scopes);
    send(200, { token_type: oauth.requireDpop ? 'DPoP' : 'Bearer', expires_in: 3600, access_token: token, scope: scopes.join(' ') });
  }
}

/** A hook as Okta returns it: the auth value is write-only. */
function hookJson(h: FakeEventHook): Record<string, unknown> {
  return {
    id: h.id,
    name: h.name,
    status: h.status,
    verificationStatus: h.verificationStatus,
    events: { type: 'EVENT_TYPE', items: h.events },
    channel: { type: 'HTTP', version: '1.0.0', config: { uri: h.uri, headers: [], authScheme: { type: 'HEADER', key: h.authKey } } },
    created: h.created,
    lastUpdated: h.lastUpdated,
  };
}

/** Validates a create/replace body as Okta does; a string is the validation failure. */
function parseHookBody(body: string, allowHttp: boolean): Pick<FakeEventHook, 'name' | 'uri' | 'events' | 'authKey' | 'secret'> | string {
  let o: Record<string, any>;
  try {
    o = JSON.parse(body) as Record<string, any>;
  } catch {
    return 'The request body was not well-formed.';
  }
  const uri = o?.channel?.config?.uri;
  if (typeof o?.name !== 'string' || !o.name) return 'name: The field cannot be left blank.';
  if (typeof uri !== 'string' || !(uri.startsWith('https://') || (allowHttp && uri.startsWith('http://')))) return 'channel.config.uri: The URI must be a valid HTTPS URL.';
  const items = o?.events?.items;
  if (o?.events?.type !== 'EVENT_TYPE' || !Array.isArray(items) || items.length === 0 || !items.every((x: unknown) => typeof x === 'string')) return 'events: At least one event type is required.';
  const auth = o?.channel?.config?.authScheme;
  return { name: o.name, uri, events: items as string[], authKey: typeof auth?.key === 'string' ? auth.key : 'Authorization', secret: typeof auth?.value === 'string' ? auth.value : '' };
}

/**
 * The System Log filter shapes this program sends: `eventType eq "a"` and
 * `transaction.detail.requestApiTokenId eq "x"` terms joined with ` or ` (in any mix). Returns the
 * event predicate, or null for anything else (the caller answers 400 E0000031 as Okta does for a
 * filter it cannot parse). The term is read with one regex per position rather than by splitting
 * on " or ", so a value that itself contains " or " stays one value.
 */
export function parseLogFilter(filter: string): ((event: Record<string, unknown>) => boolean) | null {
  const eventTypes = new Set<string>();
  const tokenIds = new Set<string>();
  const term = /^(eventType|transaction\.detail\.requestApiTokenId) eq "([^"]+)"/;
  let rest = filter.trim();
  for (;;) {
    const m = term.exec(rest);
    if (!m) return null;
    (m[1] === 'eventType' ? eventTypes : tokenIds).add(m[2]!);
    rest = rest.slice(m[0].length);
    if (rest.trim() === '') break;
    if (!rest.startsWith(' or ')) return null;
    rest = rest.slice(4).trimStart();
  }
  return (event) => {
    // String(): as before, so the poison tests' odd-typed eventType values still reach the client.
    if (eventTypes.has(String(event.eventType))) return true;
    if (tokenIds.size === 0) return false;
    // Stored events are whatever a test persisted: any level may be missing or of another type.
    const tx = event.transaction;
    const detail = tx && typeof tx === 'object' ? (tx as Record<string, unknown>).detail : undefined;
    const id = detail && typeof detail === 'object' ? (detail as Record<string, unknown>).requestApiTokenId : undefined;
    return typeof id === 'string' && tokenIds.has(id);
  };
}

const ERRORS: Record<number, [string, string]> = {
  400: ['E0000001', 'Api validation failed'],
  401: ['E0000011', 'Invalid token provided'],
  403: ['E0000006', 'You do not have permission to perform the requested action'],
  404: ['E0000007', 'Not found: Resource not found'],
  429: ['E0000047', 'API call exceeded rate limit due to too many requests.'],
  500: ['E0000009', 'Internal Server Error'],
  502: ['E0000009', 'Internal Server Error'],
  503: ['E0000010', 'Service is in read only mode'],
};
