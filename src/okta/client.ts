import os from 'node:os';
import type { OktaConfig } from '../config';
import { OktaRequestError, type OktaHttp, type OktaResponse } from './http';

/*
 * The Okta SDK's authenticated HTTP layer, taken from its modules directly. `require('@okta/okta-sdk-nodejs')`
 * (and its Client) loads every generated API and model: about 90 MB of resident memory for a daemon
 * that makes one kind of GET. Http (headers, 401 handling), OAuth (client-credentials with a signed
 * JWT, DPoP with nonces) and RequestExecutor (node-fetch) are what the Client would use for us; built
 * here with every setting explicit, no ConfigLoader runs, so no okta.yaml file or OKTA_CLIENT_*
 * variable is ever read. The package-lock pins the SDK version these paths belong to, and the OAuth
 * and SSWS tests run through them.
 */
const RequestExecutor = require('@okta/okta-sdk-nodejs/src/request-executor') as new () => { fetch(request: SdkRequest): Promise<unknown> };
const { Http } = require('@okta/okta-sdk-nodejs/src/http') as { Http: new (config: SdkHttpConfig) => SdkHttp };
const { OAuth } = require('@okta/okta-sdk-nodejs/src/oauth') as { OAuth: new (client: SdkOAuthClient) => unknown };
const SDK_VERSION = (require('@okta/okta-sdk-nodejs/package.json') as { version: string }).version;

interface SdkHttpConfig {
  requestExecutor: InstanceType<typeof RequestExecutor>;
  oauth?: unknown;
  /** null: no response cache (a cached System Log page would hide new events). */
  cacheMiddleware: null;
}

interface SdkHttp {
  defaultHeaders: Record<string, string>;
  http(uri: string, request: SdkRequest): Promise<FetchResponse>;
}

/** What the SDK's OAuth, JWT and DPoP code reads from its client. */
interface SdkOAuthClient {
  baseUrl: string;
  clientId: string;
  scopes: string[];
  privateKey: string;
  keyId: string | undefined;
  requestExecutor: InstanceType<typeof RequestExecutor>;
}

const VERSION = '0.1.0';
const TOKEN_PATH = '/oauth2/v1/token';

interface SdkRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  [key: string]: unknown;
}

interface FetchResponse {
  status: number;
  ok: boolean;
  url: string;
  headers: { get(name: string): string | null; raw(): Record<string, string[]> };
  text(): Promise<string>;
  json(): Promise<unknown>;
  clone(): FetchResponse;
}

/**
 * The SDK's request executor, narrowed to what this project needs:
 * - refuses any request whose origin is not the org's, before anything is sent (the SDK follows
 *   whatever URL a Link header names and would send the credentials there);
 * - applies a timeout to requests the SDK makes on its own (the OAuth token request);
 * - turns token-endpoint failures into one clear error (the SDK would otherwise surface them later
 *   as "Bearer undefined" / "Okta HTTP 401 undefined");
 * - no retries: the System Log reader owns retries and rate-limit waits.
 */
class GuardedExecutor extends RequestExecutor {
  constructor(
    private readonly origin: string,
    private readonly timeoutMs: number,
    private readonly onRequest: () => void,
  ) {
    super();
  }

  override async fetch(request: SdkRequest): Promise<FetchResponse> {
    let target: URL;
    try {
      target = new URL(request.url);
    } catch {
      throw new OktaRequestError('refused to send a request to an unparseable URL', 'refused-origin');
    }
    if (target.origin !== this.origin) {
      throw new OktaRequestError(`refused to send credentials to ${target.origin}: only the org URL ${this.origin} is allowed`, 'refused-origin');
    }
    // Never follow redirects: node-fetch would carry the Authorization header to the new URL
    // without this origin check seeing it. A 3xx comes back as a failed response instead.
    request.redirect = 'manual';
    let timer: NodeJS.Timeout | undefined;
    if (!request.signal) {
      const ac = new AbortController();
      timer = setTimeout(() => ac.abort(), this.timeoutMs);
      request.signal = ac.signal;
    }
    this.onRequest();
    let res: FetchResponse;
    try {
      try {
        res = (await super.fetch(request)) as FetchResponse;
      } catch (err) {
        // A kept-alive connection that the server closed as this request went out fails with a
        // reset before any answer. A GET is safe to send again, once, on a new connection; the
        // caller's own retries (and their budget) are for Okta's answers, not for this race.
        if (!isResetBeforeAnswer(err) || !isGet(request) || request.signal?.aborted) throw err;
        this.onRequest();
        res = (await super.fetch(request)) as FetchResponse;
      }
    } catch (err) {
      throw mapFetchError(err, this.timeoutMs);
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (res.url && new URL(res.url).origin !== this.origin) {
      throw new OktaRequestError(`refused a response from ${new URL(res.url).origin}: only the org URL ${this.origin} is allowed`, 'refused-origin');
    }
    if (target.pathname === TOKEN_PATH) return this.checkTokenResponse(res);
    return res;
  }

  private async checkTokenResponse(res: FetchResponse): Promise<FetchResponse> {
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* not JSON */
    }
    const error = typeof body.error === 'string' ? body.error : undefined;
    const description = typeof body.error_description === 'string' ? body.error_description.slice(0, 300) : '';
    const replay = (status: number): FetchResponse => ({
      status,
      ok: status >= 200 && status < 300,
      url: res.url,
      headers: res.headers,
      text: async () => text,
      json: async () => body,
      clone: () => replay(status),
    });
    // Okta asks for a DPoP nonce with a 400; the SDK only retries with the nonce when it sees the
    // body, which its error filter never lets through for a 400. Hand it the body as a success.
    if (error === 'use_dpop_nonce') return replay(200);
    if (res.status >= 200 && res.status < 300 && typeof body.access_token === 'string') return replay(res.status);
    const what = error ? `${error}${description ? `: ${description}` : ''}` : `HTTP ${res.status}`;
    throw new OktaRequestError(`Okta's token endpoint refused the service app (${what})`, 'auth-setup', { status: res.status, error });
  }
}

/** True for a connection reset (or closed) before Okta answered. */
function isResetBeforeAnswer(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === 'ECONNRESET' || e?.code === 'EPIPE' || (typeof e?.message === 'string' && /socket hang up/.test(e.message));
}

function isGet(request: SdkRequest): boolean {
  const method = (request as { method?: unknown }).method;
  return method === undefined || (typeof method === 'string' && method.toUpperCase() === 'GET');
}

function mapFetchError(err: unknown, timeoutMs: number): Error {
  if (err instanceof OktaRequestError) return err;
  const e = err as { name?: string; code?: string; message?: string; type?: string };
  if (e?.name === 'AbortError') return new OktaRequestError(`no answer from Okta within ${Math.round(timeoutMs / 1000)}s`, 'timeout');
  const code = e?.code ? ` (${e.code})` : '';
  return new OktaRequestError(`cannot reach Okta${code}`, 'network');
}

interface SdkOAuth {
  getAccessToken(nonce?: string | null): Promise<unknown>;
}

/**
 * Makes a key the SDK cannot sign with fail at once, as a setup error that names the setting.
 * The SDK reads the key only when it first needs an access token; what it throws then is not an
 * HTTP failure and used to be reported as "cannot reach Okta" after every retry. Everything the
 * token request itself can fail with is already an OktaRequestError (the guarded executor), so any
 * other error here comes from reading the key or signing with it. The SDK's message is dropped: it
 * may describe the key's contents.
 */
function guardKeyErrors(oauth: SdkOAuth, keySetting: string): SdkOAuth {
  const getAccessToken = oauth.getAccessToken.bind(oauth);
  oauth.getAccessToken = async (nonce) => {
    try {
      return await getAccessToken(nonce);
    } catch (err) {
      if (err instanceof OktaRequestError) throw err;
      throw new OktaRequestError(`${keySetting} cannot be used to sign the client assertion: it is not a readable RSA private key`, 'auth-setup', { error: 'unreadable_key' });
    }
  };
  return oauth;
}

/**
 * The SDK's authenticated HTTP layer with every setting passed explicitly: SSWS sets the
 * Authorization header once; the service app gets the SDK's OAuth (signed client assertion, DPoP
 * when the app requires it), which fetches and refreshes the access token through the same guarded
 * executor.
 */
export function createSdkHttp(config: OktaConfig, executor: InstanceType<typeof RequestExecutor>): SdkHttp {
  const auth = config.auth;
  let oauth: unknown;
  if (auth.mode !== 'ssws') {
    const client: SdkOAuthClient = {
      baseUrl: config.orgUrl,
      clientId: auth.clientId,
      scopes: [...auth.scopes],
      privateKey: auth.privateKey,
      keyId: auth.keyId ?? undefined,
      requestExecutor: executor,
    };
    oauth = guardKeyErrors(new OAuth(client) as SdkOAuth, auth.keySetting);
  }
  const http = new Http({ requestExecutor: executor, cacheMiddleware: null, ...(oauth ? { oauth } : {}) });
  if (auth.mode === 'ssws') http.defaultHeaders.Authorization = `SSWS ${auth.token}`;
  http.defaultHeaders['User-Agent'] = `okta-token-watch/${VERSION} okta-sdk-nodejs/${SDK_VERSION} node/${process.versions.node} ${os.platform()}`;
  return http;
}

/**
 * The same Okta settings with a service app asking for exactly these scopes (an API token is
 * unchanged: it carries its admin's rights). Okta refuses a whole token request when one scope is
 * not granted, so each purpose asks for its own: a missing optional grant (the token lookup's
 * okta.apiTokens.read, revoking's okta.apiTokens.manage) then fails only that purpose, never the
 * System Log reads.
 */
export function withScopes(config: OktaConfig, scopes: readonly string[]): OktaConfig {
  return config.auth.mode === 'oauth' ? { ...config, auth: { ...config.auth, scopes: [...scopes] } } : config;
}

/** The scope that reads API tokens (lookup, `tokens`), and the one that revokes them. */
export const API_TOKENS_READ = 'okta.apiTokens.read';
export const API_TOKENS_MANAGE = 'okta.apiTokens.manage';

/** The scopes the System Log reader asks for: OKTA_SCOPES without the API token scopes, which their own clients ask for. */
export function readerScopes(scopes: readonly string[]): string[] {
  return scopes.filter((s) => !s.startsWith('okta.apiTokens.'));
}

/** The OktaHttp implementation over the SDK's authenticated HTTP layer. */
export class SdkOktaHttp implements OktaHttp {
  readonly orgUrl: string;
  private requests = 0;
  private readonly http: SdkHttp;

  constructor(
    private readonly config: OktaConfig,
    /** Called once per HTTP response (with its status) or failed request (with the error kind). */
    private readonly onResponse: (status: number | string) => void = () => undefined,
  ) {
    this.orgUrl = config.orgUrl;
    const executor = new GuardedExecutor(config.orgUrl, config.requestTimeoutMs, () => {
      this.requests++;
    });
    this.http = createSdkHttp(config, executor);
  }

  get requestCount(): number {
    return this.requests;
  }

  /**
   * The SDK's Http behind this client, for the SDK's generated APIs (its `send(requestContext)` is
   * their transport): their requests then carry the same credentials through the same guarded
   * executor, so the org-origin check, the no-redirect rule and the timeout apply to them too.
   */
  get sdkHttp(): unknown {
    return this.http;
  }

  async get(urlOrPath: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<OktaResponse> {
    return this.request('get', urlOrPath, opts);
  }

  async delete(urlOrPath: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<OktaResponse> {
    // Upper case: the SDK copies the method into the DPoP proof's htm claim, which Okta compares as sent.
    return this.request('DELETE', urlOrPath, opts);
  }

  private async request(method: 'get' | 'DELETE', urlOrPath: string, opts: { timeoutMs?: number; signal?: AbortSignal }): Promise<OktaResponse> {
    const url = new URL(urlOrPath, this.orgUrl);
    if (url.origin !== this.orgUrl) {
      throw new OktaRequestError(`refused to follow a link to ${url.origin}: only the org URL ${this.orgUrl} is allowed`, 'refused-origin');
    }
    const timeoutMs = opts.timeoutMs ?? this.config.requestTimeoutMs;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    const onAbort = (): void => ac.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let res: FetchResponse;
      try {
        res = await this.http.http(url.href, { url: url.href, method, headers: { Accept: 'application/json' }, signal: ac.signal, redirect: 'manual' });
      } catch (err) {
        const r = fromSdkError(err, url.href, timeoutMs, opts.signal);
        this.onResponse(r.status);
        return r;
      }
      this.onResponse(res.status);
      const text = await res.text();
      let body: unknown = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = text;
      }
      return toResponse(res.status, res.url || url.href, res.headers, body);
    } catch (err) {
      const e = opts.signal?.aborted ? new OktaRequestError('request cancelled', 'aborted') : mapFetchError(err, timeoutMs);
      this.onResponse(e instanceof OktaRequestError ? e.kind : 'error');
      throw e;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }
}

function toResponse(status: number, url: string, headers: FetchResponse['headers'] | undefined, body: unknown): OktaResponse {
  let links: string[] = [];
  try {
    links = headers?.raw?.()['link'] ?? [];
  } catch {
    const l = headers?.get('link');
    links = l ? [l] : [];
  }
  return { status, url, header: (name) => headers?.get(name) ?? null, links, body };
}

/** The SDK throws for every non-2xx status; turn those back into responses, rethrow the rest. */
function fromSdkError(err: unknown, url: string, timeoutMs: number, signal?: AbortSignal): OktaResponse {
  const e = err as { status?: unknown; headers?: FetchResponse['headers']; errorCode?: string; errorSummary?: string; errorId?: string; message?: string };
  if (typeof e?.status === 'number' && e.headers) {
    const body = e.errorCode !== undefined ? { errorCode: e.errorCode, errorSummary: e.errorSummary ?? '', errorId: e.errorId } : { message: String(e.message ?? '').slice(0, 300) };
    return toResponse(e.status, url, e.headers, body);
  }
  if (signal?.aborted) throw new OktaRequestError('request cancelled', 'aborted');
  throw mapFetchError(err, timeoutMs);
}
