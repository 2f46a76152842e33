/** A response from the Okta org, body already read and parsed. */
export interface OktaResponse {
  status: number;
  url: string;
  /** Header lookup, lower-case names. */
  header(name: string): string | null;
  /** Every `Link` header value (Okta sends `self` and `next` as separate headers). */
  links: string[];
  body: unknown;
}

/**
 * The only way the project talks to Okta. Implementations refuse any URL whose origin is not the
 * configured org's, so credentials never leave for another host, and apply the request timeout.
 */
export interface OktaHttp {
  readonly orgUrl: string;
  /** GET an absolute URL on the org, or a path (`/api/v1/...`). Resolves for every HTTP status; throws OktaRequestError for network failures, timeouts and refused URLs. */
  get(urlOrPath: string, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<OktaResponse>;
  /**
   * DELETE a path on the org (revoking an API token), with the same guarantees as `get`; never
   * retried here, the caller decides. Optional so that read-only fakes need not implement it.
   */
  delete?(urlOrPath: string, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<OktaResponse>;
  /** Requests sent so far (for tick statistics and the benchmark). */
  readonly requestCount: number;
}

/** Why a request to Okta did not produce an HTTP response, or was refused before it was sent. */
export class OktaRequestError extends Error {
  constructor(
    message: string,
    readonly kind: 'network' | 'timeout' | 'refused-origin' | 'auth-setup' | 'aborted',
    /** For kind auth-setup: the HTTP status and OAuth error code from the token endpoint. */
    readonly detail?: { status?: number; error?: string },
  ) {
    super(message);
    this.name = 'OktaRequestError';
  }
}

/** Okta's error body, `{errorCode, errorSummary, ...}`, when the body has that shape. */
export function oktaErrorOf(body: unknown): { errorCode: string; errorSummary: string } | null {
  if (body && typeof body === 'object' && typeof (body as Record<string, unknown>).errorCode === 'string') {
    const b = body as Record<string, unknown>;
    return { errorCode: String(b.errorCode), errorSummary: typeof b.errorSummary === 'string' ? b.errorSummary : '' };
  }
  return null;
}
