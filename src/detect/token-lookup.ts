import type { Clock } from '../clock';
import type { Logger } from '../logger';
import { OktaRequestError, type OktaHttp } from '../okta/http';
import type { OktaLogEvent } from '../okta/log-event';
import type { TokenState } from './alert';
import { obj, text, tokenTarget, TOKEN_ID_PATTERN } from './fields';

/** `auto`: try, and stop for the process lifetime after a 403; `on`: always try; `off`: never. */
export type TokenLookupMode = 'auto' | 'on' | 'off';

/** Settings of the token lookup. */
export interface TokenLookupConfig {
  mode: TokenLookupMode;
  /** Budget for one page's lookups, and for each request. */
  timeoutMs: number;
  /** Tokens looked up per page at most; the rest are skipped, saying so. */
  maxPerPage: number;
}

/** Requests in flight at once: lookups share the org's rate limit with everything else. */
const CONCURRENCY = 4;
/** Lookups pause while less than this share of the rate limit is left: polling comes first. */
const MIN_REMAINING_SHARE = 0.5;

const MISSING_SCOPE = 'the Okta credentials lack okta.apiTokens.read (Okta answered 403)';

/**
 * The optional `GET /api/v1/api-tokens/{id}` enrichment. Never throws and never takes longer than
 * the timeout for a whole page: whatever is not answered by then is reported as failed or skipped,
 * and the alert goes out without it.
 */
export class TokenLookup {
  private offReason: string | null = null;
  /** Set once Okta has answered a lookup with something other than 403: the permission is there. */
  private permitted = false;
  /** Lookups are paused until this time (ms) after Okta reported a low or exhausted rate limit. */
  private pausedUntil = 0;

  constructor(
    private readonly config: TokenLookupConfig,
    private readonly deps: { okta: OktaHttp | null; logger: Logger; clock: Clock },
  ) {}

  /** Token states for these events, keyed by event uuid (every event gets one). */
  async lookup(events: OktaLogEvent[]): Promise<Map<string, TokenState>> {
    const out = new Map<string, TokenState>();
    try {
      const queue: Array<{ uuid: string; id: string }> = [];
      for (const e of events) {
        const uuid = String(e.uuid);
        const skip = this.skipReason();
        if (skip) {
          out.set(uuid, { status: 'skipped', reason: skip });
          continue;
        }
        const id = tokenTarget(e)?.id ?? null;
        if (id === null) out.set(uuid, { status: 'skipped', reason: 'the event names no token' });
        // The id is attacker-influenced text and goes into a URL path: only Okta's own id shape.
        else if (!TOKEN_ID_PATTERN.test(id)) out.set(uuid, { status: 'skipped', reason: 'the token id does not look like an Okta token id' });
        else if (queue.length >= this.config.maxPerPage)
          out.set(uuid, { status: 'skipped', reason: `more than ${this.config.maxPerPage} tokens in one page; only the first ${this.config.maxPerPage} were looked up (TOKEN_LOOKUP_MAX)` });
        else queue.push({ uuid, id });
      }
      if (queue.length > 0) await this.run(queue, out);
    } catch (err) {
      // Defensive: a bug here must cost the enrichment, never the alert.
      this.deps.logger.warn('token lookup failed unexpectedly', { error: err instanceof Error ? err.message : String(err) });
      for (const e of events) if (!out.has(String(e.uuid))) out.set(String(e.uuid), { status: 'failed', reason: 'the lookup failed unexpectedly', checkedAt: this.now() });
    }
    return out;
  }

  private skipReason(): string | null {
    if (this.config.mode === 'off') return 'token lookup is turned off (TOKEN_LOOKUP=false)';
    if (!this.deps.okta) return 'token lookup is not available without an Okta connection';
    if (this.offReason) return `token lookup is off for this run: ${this.offReason}`;
    if (this.deps.clock.now().getTime() < this.pausedUntil) {
      return 'token lookup paused: less than half of the Okta rate limit was left, and polling the System Log comes first';
    }
    return null;
  }

  private async run(queue: Array<{ uuid: string; id: string }>, out: Map<string, TokenState>): Promise<void> {
    const budget = this.config.timeoutMs;
    // Real time, not the injected clock: this bounds how long the page really waits.
    const deadline = Date.now() + budget;
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        ac.abort();
        resolve();
      }, budget);
    });
    let next = 0;
    const one = async (item: { uuid: string; id: string }): Promise<void> => {
      const skip = this.skipReason();
      const state: TokenState = skip ? { status: 'skipped', reason: skip } : await this.lookupOne(item.id, Math.max(1, deadline - Date.now()), ac.signal);
      if (!ac.signal.aborted || !out.has(item.uuid)) out.set(item.uuid, state);
    };
    const worker = async (): Promise<void> => {
      while (next < queue.length && !ac.signal.aborted) await one(queue[next++]!);
    };
    const all = async (): Promise<void> => {
      // Until Okta has shown that the credentials may read tokens, one request goes alone first,
      // so a missing permission costs one 403 rather than one per token of the page.
      if (!this.permitted && this.config.mode === 'auto') await one(queue[next++]!);
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length - next) }, () => worker()));
    };
    // Whichever comes first: every lookup answered, or the budget spent (an OktaHttp that ignores
    // its timeout must not hold the alerts back).
    await Promise.race([all(), expired]);
    clearTimeout(timer);
    ac.abort();
    for (const item of queue) {
      if (!out.has(item.uuid)) {
        out.set(item.uuid, { status: 'failed', reason: `no answer within the lookup budget of ${Math.round(budget / 100) / 10}s (TOKEN_LOOKUP_TIMEOUT)`, checkedAt: this.now() });
      }
    }
  }

  /** One token's state; never throws. */
  async lookupOne(id: string, timeoutMs: number, signal?: AbortSignal): Promise<TokenState> {
    const okta = this.deps.okta;
    if (!okta) return { status: 'skipped', reason: 'token lookup is not available without an Okta connection' };
    if (!TOKEN_ID_PATTERN.test(id)) return { status: 'skipped', reason: 'the token id does not look like an Okta token id' };
    try {
      const res = await okta.get(`/api/v1/api-tokens/${encodeURIComponent(id)}`, { timeoutMs, signal });
      const checkedAt = this.now();
      this.watchRateLimit(res.status, res.header('x-rate-limit-remaining'), res.header('x-rate-limit-limit'), res.header('x-rate-limit-reset'));
      if (res.status >= 200 && res.status < 300) {
        this.permitted = true;
        return this.found(res.body, checkedAt);
      }
      if (res.status === 404) {
        this.permitted = true;
        return { status: 'not-found', checkedAt };
      }
      if (res.status === 403) {
        this.onForbidden();
        return { status: 'failed', reason: `${MISSING_SCOPE}; grant that scope (and an admin role that may read tokens) to see token state`, checkedAt };
      }
      if (res.status === 401) return { status: 'failed', reason: 'Okta refused the credentials (HTTP 401)', checkedAt };
      if (res.status === 429) return { status: 'failed', reason: 'Okta rate limit reached for the token lookup (HTTP 429)', checkedAt };
      return { status: 'failed', reason: `Okta answered HTTP ${res.status}`, checkedAt };
    } catch (err) {
      const checkedAt = this.now();
      if (err instanceof OktaRequestError) {
        if (err.kind === 'timeout' || err.kind === 'aborted') return { status: 'failed', reason: `no answer within ${Math.round(timeoutMs / 100) / 10}s (TOKEN_LOOKUP_TIMEOUT)`, checkedAt };
        if (err.kind === 'network') return { status: 'failed', reason: 'cannot reach Okta', checkedAt };
        // A service app not granted okta.apiTokens.read: its own token request is refused (the
        // lookup asks for that scope alone, so the System Log reads are not affected).
        if (err.kind === 'auth-setup' && err.detail?.error === 'invalid_scope') {
          this.onForbidden();
          return { status: 'failed', reason: `${MISSING_SCOPE}; grant that scope (and an admin role that may read tokens) to see token state`, checkedAt };
        }
        return { status: 'failed', reason: `request not sent (${err.kind})`, checkedAt };
      }
      if (signal?.aborted) return { status: 'failed', reason: `no answer within ${Math.round(timeoutMs / 100) / 10}s (TOKEN_LOOKUP_TIMEOUT)`, checkedAt };
      return { status: 'failed', reason: 'the lookup failed', checkedAt };
    }
  }

  /**
   * Okta may count these lookups in a bucket shared with the System Log (and other integrations).
   * When less than half is left, or on a 429, lookups pause until the bucket resets.
   */
  private watchRateLimit(status: number, remainingRaw: string | null, limitRaw: string | null, resetRaw: string | null): void {
    const remaining = Number(remainingRaw);
    const limit = Number(limitRaw);
    const low = remainingRaw !== null && limitRaw !== null && Number.isFinite(remaining) && Number.isFinite(limit) && limit > 0 && remaining < limit * MIN_REMAINING_SHARE;
    if (!low && status !== 429) return;
    const now = this.deps.clock.now().getTime();
    const reset = Number(resetRaw) * 1000;
    // Without a usable reset time, Okta's windows are about a minute long.
    this.pausedUntil = Number.isFinite(reset) && reset > now && reset - now <= 5 * 60_000 ? reset : now + 60_000;
  }

  private onForbidden(): void {
    if (this.config.mode !== 'auto' || this.offReason) return;
    this.offReason = MISSING_SCOPE;
    this.deps.logger.info(
      'token lookup turned off until restart: the Okta credentials lack okta.apiTokens.read (HTTP 403). Alerts still go out, without the token state. Grant the scope, or set TOKEN_LOOKUP=false to skip the attempt.',
      {},
    );
  }

  private found(body: unknown, checkedAt: string): TokenState {
    const b = obj(body) ?? {};
    const net = obj(b.network);
    const list = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => text(x, 200)).filter((x): x is string => x !== null).slice(0, 50) : []);
    const expiresAt = text(b.expiresAt, 100);
    const expiry = expiresAt === null ? NaN : Date.parse(expiresAt);
    return {
      status: 'found',
      // Okta answers 404 for a revoked token; a found token is active unless its expiry has passed.
      active: !(Number.isFinite(expiry) && expiry <= this.deps.clock.now().getTime()),
      name: text(b.name),
      userId: text(b.userId, 200),
      clientName: text(b.clientName),
      created: text(b.created, 100),
      expiresAt,
      network: net ? { connection: text(net.connection, 100), include: list(net.include), exclude: list(net.exclude) } : null,
      checkedAt,
    };
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }
}
