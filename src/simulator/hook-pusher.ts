import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

/**
 * Pushes events the way Okta delivers an event hook, for tests, the demo, the soak and the bench:
 * a verification GET with `X-Okta-Verification-Challenge`, then POSTs of the envelope
 * (`eventType: com.okta.event_hook`, `source`, `eventId`, `data.events`). Okta waits 3 s for an
 * answer and retries exactly once, only after a timeout or a 5xx; a 4xx is never retried.
 */

/** Settings of a pusher. */
export interface HookPusherOptions {
  /** The receiver's full URL, like http://127.0.0.1:8080/okta/event-hook. */
  url: string;
  /** Sent as the Authorization header (Okta's default authScheme). */
  secret: string;
  /** The org origin and hook id that make up the envelope's `source`. */
  orgUrl?: string;
  hookId?: string;
  /** How long one attempt may take (Okta: 3 s). */
  timeoutMs?: number;
  /** Trusted CA for an HTTPS receiver with a self-signed certificate. */
  ca?: string | Buffer;
  /** Random source in [0, 1) for duplicates and reordering (seed it for repeatable runs). */
  random?: () => number;
  /**
   * Also retry once when the receiver could not be reached at all (refused or reset). Okta does not
   * document this case; the soak assumes it retries as after a timeout. Off by default.
   */
  retryConnectionErrors?: boolean;
  /** Wait before the retry, in ms (a number or a function giving one; default 0). */
  retryDelayMs?: number | (() => number);
}

/** What one attempt got: an HTTP status, or no answer. */
export type AttemptResult = { status: number; body: string } | { status: 'timeout' } | { status: 'error'; error: string };

/** One delivery: the first attempt and, after a timeout or a 5xx, the one retry. */
export interface DeliveryOutcome {
  eventId: string;
  events: number;
  attempts: AttemptResult[];
  /** True when an attempt got a 2xx. */
  delivered: boolean;
}

/** How `pushAll` cuts, mixes and repeats the events. */
export interface PushPlan {
  /** Events per POST (Okta bunches events; default 10). */
  batchSize?: number;
  /** Fraction (0..1) of batches sent a second time as a separate delivery. */
  duplicateRate?: number;
  /** Deliver batches in a shuffled order, and shuffle events inside each batch. */
  outOfOrder?: boolean;
  /** Deliveries in flight at once (default 1). */
  concurrency?: number;
}

/** A pusher standing in for Okta's event hook delivery. */
export class HookPusher {
  readonly deliveries: DeliveryOutcome[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly timeoutMs: number;
  private readonly random: () => number;

  constructor(readonly opts: HookPusherOptions) {
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.random = opts.random ?? Math.random;
  }

  /** The verification GET Okta sends when the hook is verified. */
  async verify(challenge: string = crypto.randomBytes(24).toString('base64url')): Promise<{ ok: boolean; challenge: string; result: AttemptResult }> {
    let result = await this.request('GET', undefined, { 'x-okta-verification-challenge': challenge });
    if (retryable(result)) result = await this.request('GET', undefined, { 'x-okta-verification-challenge': challenge });
    let ok = false;
    if (typeof result.status === 'number' && result.status === 200 && 'body' in result) {
      try {
        ok = (JSON.parse(result.body) as { verification?: unknown }).verification === challenge;
      } catch {
        ok = false;
      }
    }
    return { ok, challenge, result };
  }

  /** One delivery of these events in one POST, retried once like Okta. */
  async deliver(events: ReadonlyArray<Record<string, unknown>>): Promise<DeliveryOutcome> {
    const eventId = crypto.randomUUID();
    const body = JSON.stringify(this.envelope(eventId, events));
    const outcome: DeliveryOutcome = { eventId, events: events.length, attempts: [], delivered: false };
    this.deliveries.push(outcome);
    const first = await this.request('POST', body);
    outcome.attempts.push(first);
    if (retryable(first) || (this.opts.retryConnectionErrors === true && first.status === 'error')) {
      const delay = typeof this.opts.retryDelayMs === 'function' ? this.opts.retryDelayMs() : (this.opts.retryDelayMs ?? 0);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      outcome.attempts.push(await this.request('POST', body));
    }
    outcome.delivered = outcome.attempts.some((a) => typeof a.status === 'number' && a.status >= 200 && a.status < 300);
    return outcome;
  }

  /** Starts a delivery without waiting for it (e.g. when the simulator persists events); see idle(). */
  enqueue(events: ReadonlyArray<Record<string, unknown>>): void {
    const p = this.deliver(events).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Resolves when every enqueued delivery has finished. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Delivers all events in batches, with the duplicates and disorder the plan asks for. */
  async pushAll(events: ReadonlyArray<Record<string, unknown>>, plan: PushPlan = {}): Promise<DeliveryOutcome[]> {
    const size = Math.max(1, plan.batchSize ?? 10);
    let batches: Array<Array<Record<string, unknown>>> = [];
    for (let i = 0; i < events.length; i += size) batches.push(events.slice(i, i + size));
    if (plan.outOfOrder) batches = this.shuffle(batches.map((b) => this.shuffle(b)));
    const queue = [...batches];
    for (const b of batches) if (this.random() < (plan.duplicateRate ?? 0)) queue.splice(Math.floor(this.random() * (queue.length + 1)), 0, b);
    const out: DeliveryOutcome[] = [];
    const worker = async (): Promise<void> => {
      for (let b = queue.shift(); b; b = queue.shift()) out.push(await this.deliver(b));
    };
    await Promise.all(Array.from({ length: Math.max(1, plan.concurrency ?? 1) }, worker));
    return out;
  }

  private envelope(eventId: string, events: ReadonlyArray<Record<string, unknown>>): Record<string, unknown> {
    const org = this.opts.orgUrl ?? 'https://example.okta.com';
    return {
      eventType: 'com.okta.event_hook',
      eventTypeVersion: '1.0',
      cloudEventsVersion: '0.1',
      source: `${org}/api/v1/eventHooks/${this.opts.hookId ?? 'who0000000000000000'}`,
      eventId,
      eventTime: new Date().toISOString(),
      contentType: 'application/json',
      data: { events },
    };
  }

  private shuffle<T>(xs: T[]): T[] {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }

  private request(method: 'GET' | 'POST', body: string | undefined, extra: Record<string, string> = {}): Promise<AttemptResult> {
    const url = new URL(this.opts.url);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: AttemptResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const req = mod.request(
        url,
        {
          method,
          agent: false,
          ca: this.opts.ca,
          headers: {
            authorization: this.opts.secret,
            'user-agent': 'Okta Event Hooks (okta-token-watch simulator)',
            ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
            ...extra,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (err) => finish({ status: 'error', error: err.message }));
        },
      );
      // Okta gives up after its timeout whatever the receiver is doing, and never reads a late answer.
      const timer = setTimeout(() => {
        finish({ status: 'timeout' });
        req.destroy();
      }, this.timeoutMs);
      req.on('error', (err) => finish({ status: 'error', error: err.message }));
      req.end(body);
    });
  }
}

/** Okta retries once after a timeout or a 5xx, never after a 4xx (or any answer below 500). */
export function retryable(r: AttemptResult): boolean {
  return r.status === 'timeout' || (typeof r.status === 'number' && r.status >= 500);
}
