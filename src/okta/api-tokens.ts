import { findLink } from './links';
import { oktaErrorOf, OktaRequestError, type OktaHttp } from './http';

/**
 * Listing the org's active API tokens (`GET /api/v1/api-tokens`) through OktaHttp, following
 * `Link: rel="next"`. Everything in a token record was typed by an admin or chosen by whoever made
 * the token, so each field is read with its type checked and its length bounded; a record that is
 * not an object is dropped, never fatal.
 */

/** One token as this program keeps it: strings bounded, absent or mistyped fields null. */
export interface ApiTokenInfo {
  id: string;
  name: string | null;
  userId: string | null;
  clientName: string | null;
  created: string | null;
  lastUpdated: string | null;
  expiresAt: string | null;
  /** ISO-8601 duration, e.g. `P30D`. */
  tokenWindow: string | null;
  /** Null when Okta sent no network condition. */
  network: { connection: string | null; include: string[]; exclude: string[] } | null;
}

/** The list, and whether it was cut at the page bound. */
export interface ApiTokenList {
  tokens: ApiTokenInfo[];
  /** True when more pages remained after `maxPages` (the list is then incomplete). */
  truncated: boolean;
  /** Records that were not objects with a string id (dropped). */
  unreadable: number;
}

/** Why the list could not be read. */
export class ApiTokensError extends Error {
  constructor(
    message: string,
    /** forbidden: HTTP 403 or a service app not granted the scope; unauthorized: 401. */
    readonly kind: 'forbidden' | 'unauthorized' | 'http' | 'transport' | 'bad-response',
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = 'ApiTokensError';
  }
}

/** The OAuth scope the list needs. */
export const API_TOKENS_READ_SCOPE = 'okta.apiTokens.read';

const PAGE_SIZE = 200;
const MAX_PAGES = 50;

function str(v: unknown, max = 256): string | null {
  return typeof v === 'string' ? v.slice(0, max) : null;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, 50).map((x) => x.slice(0, 200)) : [];
}

/** One record of the list, or null when it is not an object with a string id. */
export function readApiToken(raw: unknown): ApiTokenInfo | null {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const r = raw as Record<string, unknown>;
  const id = str(r.id, 64);
  if (!id) return null;
  const net = r.network && typeof r.network === 'object' && !Array.isArray(r.network) ? (r.network as Record<string, unknown>) : null;
  return {
    id,
    name: str(r.name),
    userId: str(r.userId, 64),
    clientName: str(r.clientName),
    created: str(r.created, 64),
    lastUpdated: str(r.lastUpdated, 64),
    expiresAt: str(r.expiresAt, 64),
    tokenWindow: str(r.tokenWindow, 32),
    network: net ? { connection: str(net.connection, 32), include: strings(net.include), exclude: strings(net.exclude) } : null,
  };
}

/**
 * Every active token, page by page (at most `maxPages` pages of `pageSize`). Throws ApiTokensError;
 * a next link to another origin is refused by OktaHttp before anything is sent.
 */
export async function listApiTokens(okta: OktaHttp, opts: { pageSize?: number; maxPages?: number; signal?: AbortSignal } = {}): Promise<ApiTokenList> {
  const maxPages = opts.maxPages ?? MAX_PAGES;
  const tokens: ApiTokenInfo[] = [];
  const ids = new Set<string>();
  const seenUrls = new Set<string>();
  let unreadable = 0;
  let url: string | null = `/api/v1/api-tokens?limit=${opts.pageSize ?? PAGE_SIZE}`;
  for (let page = 0; url !== null; page++) {
    if (page >= maxPages) return { tokens, truncated: true, unreadable };
    seenUrls.add(url);
    let res;
    try {
      res = await okta.get(url, { signal: opts.signal });
    } catch (err) {
      if (err instanceof OktaRequestError && err.kind === 'auth-setup' && err.detail?.error === 'invalid_scope') {
        throw new ApiTokensError(`the service app is not granted ${API_TOKENS_READ_SCOPE}`, 'forbidden');
      }
      throw new ApiTokensError(err instanceof Error ? err.message : String(err), 'transport');
    }
    if (res.status === 403) throw new ApiTokensError(`Okta answered HTTP 403 (${oktaErrorOf(res.body)?.errorCode ?? 'no error code'})`, 'forbidden', 403);
    if (res.status === 401) throw new ApiTokensError('Okta refused the credentials (HTTP 401)', 'unauthorized', 401);
    if (res.status < 200 || res.status >= 300) {
      const e = oktaErrorOf(res.body);
      throw new ApiTokensError(`Okta answered HTTP ${res.status}${e ? ` ${e.errorCode}` : ''}`, 'http', res.status);
    }
    if (!Array.isArray(res.body)) throw new ApiTokensError('Okta\'s answer was not a list of tokens', 'bad-response', res.status);
    for (const raw of res.body) {
      const t = readApiToken(raw);
      // A token seen on an earlier page (a list that shifted while paging) is listed once.
      if (!t) unreadable++;
      else if (!ids.has(t.id)) {
        ids.add(t.id);
        tokens.push(t);
      }
    }
    const next = findLink(res.links, 'next');
    // A next link that points back to a page already read would loop forever.
    url = next !== null && !seenUrls.has(next) && res.body.length > 0 ? next : null;
  }
  return { tokens, truncated: false, unreadable };
}
