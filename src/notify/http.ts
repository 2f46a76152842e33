import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { redact } from '../logger';
import { DeliveryError, parseRetryAfter } from './notifier';
import { bound, visible } from './sanitize';

/**
 * How long a passed deadline waits before it aborts. The deadline's timer can fire right after the
 * event loop was blocked (a synchronous SQLite busy wait of up to 5 s), before the answer that
 * arrived meanwhile was read; aborting then would count an accepted message as failed and send it
 * again. The grace lets the loop read what is already there first.
 */
export const DEADLINE_GRACE_MS = 250;

/**
 * A signal that aborts when `outer` does or when `timeoutMs` (plus DEADLINE_GRACE_MS) has passed.
 * axios's own `timeout` is a socket idle timer, which a server trickling a byte now and then keeps
 * resetting for ever; this is a total deadline for the whole request, answer body included.
 */
export function deadlineSignal(timeoutMs: number, outer?: AbortSignal): AbortSignal {
  const ac = new AbortController();
  afterDeadline(timeoutMs, () => ac.abort());
  if (outer) {
    if (outer.aborted) ac.abort();
    else outer.addEventListener('abort', () => ac.abort(), { once: true });
  }
  return ac.signal;
}

/**
 * Calls `fn` once `ms` has passed and then DEADLINE_GRACE_MS more of a running event loop. Returns
 * a function that cancels it. The timers do not keep the process alive.
 */
export function afterDeadline(ms: number, fn: () => void): () => void {
  let grace: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    grace = setTimeout(fn, DEADLINE_GRACE_MS);
    grace.unref();
  }, ms);
  first.unref();
  return () => {
    clearTimeout(first);
    clearTimeout(grace);
  };
}

/**
 * The time limit given to a library's own timers (axios, nodemailer): far enough past the deadline
 * (`deadlineSignal`) that they never fire first. Their timers have no grace: one due while the
 * event loop was blocked fires before the answer that arrived meanwhile is read, and an accepted
 * message would be counted as failed and sent again.
 */
export function backstopTimeoutMs(timeoutMs: number): number {
  return 2 * timeoutMs + 10_000;
}

/**
 * The one way notifiers talk HTTP: a time limit, no redirects (a 30x would carry a secret URL's
 * body, or a bot token, to wherever it points), every status returned for `classifyResponse`.
 */
export function createHttp(timeoutMs: number): AxiosInstance {
  return axios.create({
    timeout: backstopTimeoutMs(timeoutMs),
    maxRedirects: 0,
    validateStatus: () => true,
    responseType: 'text',
    transformResponse: [(d: unknown) => d],
    maxContentLength: 256 * 1024,
    maxBodyLength: 1024 * 1024,
    headers: { 'User-Agent': 'okta-token-watch', 'Content-Type': 'application/json; charset=utf-8' },
  });
}

/** A short, single-line, secret-free excerpt of what the server said. */
export function serverReason(body: unknown): string {
  const text = typeof body === 'string' ? body : body === undefined || body === null ? '' : JSON.stringify(body);
  return bound(visible(redact(text)).replace(/\s+/g, ' ').trim(), 200);
}

/**
 * Classifies an HTTP answer: undefined for 2xx; otherwise a DeliveryError that is retryable for
 * 408, 425, 429 and 5xx (with Retry-After), permanent for redirects and the other 4xx.
 * `what` names the destination by its setting (never its URL): "SLACK_WEBHOOK_URL".
 */
export function classifyResponse(res: AxiosResponse, what: string, now: Date = new Date()): DeliveryError | undefined {
  const status = res.status;
  if (status >= 200 && status < 300) return undefined;
  const reason = serverReason(res.data);
  const said = reason ? `: ${reason}` : '';
  const retryAfterMs = parseRetryAfter(res.headers['retry-after'], now);
  if (status === 429) return new DeliveryError(`${what} is rate limiting (HTTP 429)${said}`, true, retryAfterMs);
  if (status >= 500 || status === 408 || status === 425) return new DeliveryError(`${what} answered HTTP ${status}${said}`, true, retryAfterMs);
  if (status >= 300 && status < 400) {
    return new DeliveryError(`${what} answered with a redirect (HTTP ${status}), which is not followed: set ${what} to the final URL`, false);
  }
  return new DeliveryError(`${what} refused the message (HTTP ${status})${said}`, false);
}

const NETWORK_CODES: Record<string, string> = {
  ECONNABORTED: 'timed out',
  ETIMEDOUT: 'timed out',
  ECONNREFUSED: 'refused the connection',
  ECONNRESET: 'reset the connection',
  EPIPE: 'closed the connection',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed for now',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ERR_SOCKET_CONNECTION_TIMEOUT: 'timed out',
  // The total deadline (NOTIFY_TIMEOUT or the dispatcher's) aborted the request.
  ERR_CANCELED: 'timed out before a complete answer, request aborted',
};

/**
 * Classifies an error thrown by axios (no answer at all): always retryable. The message names the
 * setting and the error code, never axios's own message, which may quote the URL.
 */
export function classifyTransportError(err: unknown, what: string): DeliveryError {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') {
    const text = NETWORK_CODES[code] ?? 'network error';
    return new DeliveryError(`${what}: ${text} (${code.replace(/[^A-Z0-9_]/g, '')})`, true);
  }
  return new DeliveryError(`${what}: request failed before an answer`, true);
}
