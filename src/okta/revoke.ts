import { OktaRequestError, oktaErrorOf, type OktaHttp } from './http';

/**
 * What Okta said to a revoke: revoked (204), already-gone (404: revoked or expired before),
 * forbidden (403: the credentials may not manage API tokens), failed (anything else, or no answer:
 * nothing may be taken as revoked).
 */
export type RevokeAnswer =
  | { result: 'revoked' }
  | { result: 'already-gone' }
  | { result: 'forbidden'; error: string }
  | { result: 'failed'; error: string };

// What an API token id looks like (00T...); anything else never reaches a URL path.
const TOKEN_ID = /^[A-Za-z0-9]{10,40}$/;

/**
 * Revokes an API token: `DELETE /api/v1/api-tokens/{id}` through the project's OktaHttp (the org
 * origin check, the timeout, no redirects). One request, no retry: the caller records the answer
 * and a person decides whether to try again. Okta's DELETE is idempotent (a repeat answers 404),
 * so a retry after an unclear failure is always safe. Errors are in our words, bounded, and never
 * carry a credential.
 */
export async function revokeApiToken(okta: OktaHttp, tokenId: string, mode: 'ssws' | 'oauth'): Promise<RevokeAnswer> {
  if (!TOKEN_ID.test(tokenId)) return { result: 'failed', error: 'the token id is not an Okta API token id' };
  if (!okta.delete) return { result: 'failed', error: 'this Okta client cannot revoke tokens' };
  let status: number;
  let body: unknown;
  try {
    const res = await okta.delete(`/api/v1/api-tokens/${encodeURIComponent(tokenId)}`);
    status = res.status;
    body = res.body;
  } catch (err) {
    // Revoking asks for okta.apiTokens.manage on its own connection: an app not granted it is refused at the token endpoint.
    if (err instanceof OktaRequestError && err.kind === 'auth-setup' && err.detail?.error === 'invalid_scope') {
      return { result: 'forbidden', error: 'the service app is not granted okta.apiTokens.manage: grant it on the app\'s "Okta API Scopes" tab; nothing was revoked' };
    }
    const why = err instanceof OktaRequestError ? err.message : 'the request failed';
    return { result: 'failed', error: `${why.slice(0, 200)}: Okta may or may not have revoked it; revoking again is safe` };
  }
  if (status === 204 || status === 200) return { result: 'revoked' };
  if (status === 404) return { result: 'already-gone' };
  const code = oktaErrorOf(body)?.errorCode;
  const okta_ = code && /^E\d{7}$/.test(code) ? ` ${code}` : '';
  if (status === 403) {
    return {
      result: 'forbidden',
      error:
        mode === 'oauth'
          ? `Okta answered 403${okta_}: the service app needs the okta.apiTokens.manage scope granted in Okta and an admin role that may manage API tokens (Okta refused revokes by service apps before its 2025.02.2 release)`
          : `Okta answered 403${okta_}: OKTA_API_TOKEN's admin may not manage API tokens (a Super Administrator, or a custom role with the okta.apiTokens.manage permission, may)`,
    };
  }
  if (status === 401) return { result: 'failed', error: `Okta answered 401${okta_}: the Okta credentials were not accepted; nothing was revoked` };
  if (status === 429) return { result: 'failed', error: `Okta answered 429${okta_} (rate limit): nothing was revoked; try again in a minute` };
  if (status >= 500) return { result: 'failed', error: `Okta answered HTTP ${status}${okta_}: the token may not be revoked; revoking again is safe` };
  return { result: 'failed', error: `Okta answered HTTP ${status}${okta_}: nothing was revoked` };
}
