import crypto from 'node:crypto';
import type { AxiosInstance } from 'axios';
import type { Notification } from '../detect/alert';
import type { WebhookConfig } from './config';
import { notificationId, notificationOrg } from './facts';
import { classifyResponse, classifyTransportError, createHttp, deadlineSignal } from './http';
import type { Notifier } from './notifier';
import { safeJson } from './sanitize';

/** Version of the JSON envelope; bumped on any incompatible change. */
export const WEBHOOK_ENVELOPE_VERSION = 1;

/** Signature tolerance receivers should use by default: 5 minutes either way. */
export const DEFAULT_TOLERANCE_SEC = 300;

/**
 * The request body for one notification: the Alert (or summary) unchanged inside an envelope.
 * Strings keep their exact value, but `<`, `>`, `&`, U+2028/2029 and invisible characters are
 * written as \u escapes, so the raw bytes are harmless even where a receiver pastes them into HTML.
 * Pure and stable: the same notification always gives the same bytes (the signature covers them).
 */
export function formatWebhook(n: Notification): string {
  // With several orgs, `org` ({ name, url }) sits in the envelope whatever the kind, so receivers
  // route on one field; a single-org install sends no `org` at all (the same bytes as before orgs).
  const o = notificationOrg(n);
  const org = o ? { org: { name: o.name, url: o.url } } : {};
  const envelope =
    n.kind === 'alert'
      ? { type: 'okta-token-watch.alert', version: WEBHOOK_ENVELOPE_VERSION, id: n.alert.id, test: n.test ?? false, ...org, alert: withoutNullOrg(n.alert) }
      : n.kind === 'followup'
        ? // The follow-up names its alert (`alertId`); receivers that kept the alert attach it there.
          { type: 'okta-token-watch.alert.followup', version: WEBHOOK_ENVELOPE_VERSION, id: n.followup.id, alertId: n.followup.alertId, test: n.test ?? false, ...org, followup: withoutNullOrg(n.followup) }
        : { type: 'okta-token-watch.summary', version: WEBHOOK_ENVELOPE_VERSION, id: n.summary.id, test: n.test ?? false, ...org, summary: withoutNullOrg(n.summary) };
  return safeJson(envelope);
}

/** The payload without an `org: null` (a single-org install's bytes have no `org` at all). */
function withoutNullOrg<T extends { org?: unknown }>(x: T): T {
  if (x.org !== null) return x;
  const { org: _none, ...rest } = x;
  return rest as T;
}

/** `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>"). */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

/**
 * For receivers (and tests): true when `signature` is the HMAC of this exact body and timestamp
 * and the timestamp is within `toleranceSec` of `now`, which rejects replays of old requests.
 * `body` must be the raw request bytes, before any JSON parsing. Constant-time comparison.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | undefined,
  body: string | Buffer,
  signature: string | undefined,
  now: Date | number = Date.now(),
  toleranceSec: number = DEFAULT_TOLERANCE_SEC,
): boolean {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp) || !/^sha256=[0-9a-f]{64}$/.test(signature)) return false;
  const nowSec = Math.floor((typeof now === 'number' ? now : now.getTime()) / 1000);
  if (Math.abs(nowSec - Number(timestamp)) > toleranceSec) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, Buffer.isBuffer(body) ? body.toString('utf8') : body), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return expected.length === given.length && crypto.timingSafeEqual(expected, given);
}

/**
 * For receivers (and tests): the notification id to deduplicate on, read from the signed body, or
 * null when the request does not verify (see verifyWebhookSignature). The `Idempotency-Key`
 * header carries the same value but is outside the signature: a replayed request with another key
 * would pass a header-based dedupe, while the body's `id` cannot be changed without breaking the
 * signature. Deduplicate on this.
 */
export function verifiedWebhookId(
  secret: string,
  timestamp: string | undefined,
  body: string | Buffer,
  signature: string | undefined,
  now: Date | number = Date.now(),
  toleranceSec: number = DEFAULT_TOLERANCE_SEC,
): string | null {
  if (!verifyWebhookSignature(secret, timestamp, body, signature, now, toleranceSec)) return null;
  try {
    const id = (JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : body) as { id?: unknown }).id;
    return typeof id === 'string' && id.length > 0 ? id : null;
  } catch {
    return null;
  }
}

/**
 * POSTs the envelope as JSON with `Idempotency-Key: <alert id>`, signed when WEBHOOK_SECRET is set.
 * The key repeats the signed body's `id` for proxies that deduplicate without the secret; receivers
 * that verify deduplicate on the body's `id` (verifiedWebhookId).
 * Redirects are not followed (the URL may hold a secret path; the body must not go elsewhere).
 */
export class WebhookNotifier implements Notifier {
  readonly name = 'webhook';
  private readonly http: AxiosInstance;
  private readonly now: () => Date;
  private readonly timeoutMs: number;

  constructor(
    private readonly config: WebhookConfig,
    opts: { timeoutMs: number; now?: () => Date },
  ) {
    this.http = createHttp(opts.timeoutMs);
    this.timeoutMs = opts.timeoutMs;
    this.now = opts.now ?? (() => new Date());
  }

  async send(n: Notification, signal?: AbortSignal): Promise<void> {
    const body = formatWebhook(n);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json; charset=utf-8',
      'Idempotency-Key': notificationId(n).replace(/[^A-Za-z0-9._:-]/g, '_').slice(0, 200),
    };
    if (this.config.secret !== null) {
      const timestamp = String(Math.floor(this.now().getTime() / 1000));
      headers['X-OTW-Timestamp'] = timestamp;
      headers['X-OTW-Signature'] = signWebhook(this.config.secret, timestamp, body);
    }
    // The body is sent as the exact signed string, not re-serialised by axios.
    const res = await this.http.post(this.config.url, body, { headers, transformRequest: [(d: unknown) => d], signal: deadlineSignal(this.timeoutMs, signal) }).catch((err: unknown) => {
      throw classifyTransportError(err, 'WEBHOOK_URL');
    });
    const problem = classifyResponse(res, 'WEBHOOK_URL', this.now());
    if (problem) throw problem;
  }
}
