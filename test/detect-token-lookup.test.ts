import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { FakeClock } from '../src/clock';
import { TokenLookup, type TokenLookupConfig } from '../src/detect/token-lookup';
import { createLogger, type Logger } from '../src/logger';
import { OktaRequestError, type OktaHttp, type OktaResponse } from '../src/okta/http';
import { makeEvent } from './fixtures/events';

/**
 * A minimal fetch-based OktaHttp for these tests (the real one is src/okta/client.ts): same
 * contract, resolves for every status, throws OktaRequestError for timeouts and refused origins.
 */
class FetchOktaHttp implements OktaHttp {
  requestCount = 0;
  constructor(readonly orgUrl: string) {}
  async get(urlOrPath: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<OktaResponse> {
    const url = new URL(urlOrPath, this.orgUrl);
    if (url.origin !== this.orgUrl) throw new OktaRequestError('refused', 'refused-origin');
    const signals = [AbortSignal.timeout(opts.timeoutMs ?? 60_000), ...(opts.signal ? [opts.signal] : [])];
    this.requestCount++;
    try {
      const res = await fetch(url, { headers: { Authorization: 'SSWS test', Accept: 'application/json' }, signal: AbortSignal.any(signals) });
      const textBody = await res.text();
      let body: unknown = null;
      try {
        body = textBody ? JSON.parse(textBody) : null;
      } catch {
        body = textBody;
      }
      return { status: res.status, url: res.url, header: (n) => res.headers.get(n), links: [], body };
    } catch (err) {
      if ((err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') throw new OktaRequestError('timeout', 'timeout');
      throw new OktaRequestError('network', 'network');
    }
  }
}

/** Okta's api-tokens endpoint, scripted per token id. */
const routes = new Map<string, { status: number; body?: unknown; delayMs?: number; headers?: Record<string, string> }>();
const seen: string[] = [];
let server: http.Server;
let origin = '';

before(async () => {
  server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    const id = decodeURIComponent((req.url ?? '').replace(/^\/api\/v1\/api-tokens\//, ''));
    const r = routes.get(id) ?? { status: 404, body: { errorCode: 'E0000007', errorSummary: 'Not found' } };
    const send = (): void => {
      if (res.destroyed) return;
      res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
      res.end(JSON.stringify(r.body ?? {}));
    };
    if (r.delayMs) setTimeout(send, r.delayMs);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function logSink(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: createLogger({ level: 'info', format: 'json' }, { stream }), lines };
}

const clock = new FakeClock(Date.parse('2026-11-28T12:00:00.000Z'));

function lookup(config: Partial<TokenLookupConfig> = {}, okta: OktaHttp | null = new FetchOktaHttp(origin)) {
  const log = logSink();
  const l = new TokenLookup({ mode: 'auto', timeoutMs: 1000, maxPerPage: 20, ...config }, { okta, logger: log.logger, clock });
  return { l, log, okta };
}

const withToken = (id: string, n?: number) => makeEvent({ target: [{ id, type: 'Token', displayName: 'x' }] }, n === undefined ? {} : { n });

describe('token lookup against a local HTTP server', () => {
  test('when Okta returns the token, then its state is found with owner, client, expiry and network', async () => {
    routes.set('00Tfound000000000001', {
      status: 200,
      body: {
        id: '00Tfound000000000001',
        name: 'terraform-prod',
        userId: '00u1a2b3c4d5e6f7g8h9',
        clientName: 'Okta API',
        created: '2026-11-28T11:58:12.000Z',
        lastUpdated: '2026-11-28T11:58:12.000Z',
        expiresAt: '2026-12-28T11:58:12.000Z',
        network: { connection: 'ZONE', include: ['nzo1'], exclude: [] },
      },
    });
    const { l } = lookup();
    const e = withToken('00Tfound000000000001');
    const states = await l.lookup([e]);
    assert.deepEqual(states.get(e.uuid), {
      status: 'found',
      active: true,
      name: 'terraform-prod',
      userId: '00u1a2b3c4d5e6f7g8h9',
      clientName: 'Okta API',
      created: '2026-11-28T11:58:12.000Z',
      expiresAt: '2026-12-28T11:58:12.000Z',
      network: { connection: 'ZONE', include: ['nzo1'], exclude: [] },
      checkedAt: '2026-11-28T12:00:00.000Z',
    });
    assert.ok(seen.includes('/api/v1/api-tokens/00Tfound000000000001'));
  });

  test('when the token has expired, then it is found but not active', async () => {
    routes.set('00Texpired0000000001', { status: 200, body: { id: '00Texpired0000000001', expiresAt: '2026-11-01T00:00:00.000Z' } });
    const { l } = lookup();
    const e = withToken('00Texpired0000000001');
    const s = (await l.lookup([e])).get(e.uuid);
    assert.equal(s?.status, 'found');
    assert.equal(s?.status === 'found' && s.active, false);
  });

  test('when Okta answers 404, then the state is not-found', async () => {
    const { l } = lookup();
    const e = withToken('00Tgone00000000000001');
    assert.deepEqual((await l.lookup([e])).get(e.uuid), { status: 'not-found', checkedAt: '2026-11-28T12:00:00.000Z' });
  });

  test('when Okta answers 403 in auto mode, then the lookup fails naming okta.apiTokens.read, logs once, and later pages skip without a request', async () => {
    routes.set('00Tforbidden00000001', { status: 403, body: { errorCode: 'E0000006', errorSummary: 'You do not have permission' } });
    const { l, log, okta } = lookup();
    const e = withToken('00Tforbidden00000001');
    const s = (await l.lookup([e])).get(e.uuid);
    assert.equal(s?.status, 'failed');
    assert.match(s?.status === 'failed' ? s.reason : '', /okta\.apiTokens\.read/);
    const before = okta!.requestCount;
    const e2 = withToken('00Tfound000000000001');
    const s2 = (await l.lookup([e2])).get(e2.uuid);
    assert.equal(s2?.status, 'skipped');
    assert.match(s2?.status === 'skipped' ? s2.reason : '', /okta\.apiTokens\.read/);
    assert.equal(okta!.requestCount, before, 'no request after the 403');
    await l.lookup([withToken('00Tforbidden00000001')]);
    const infos = log.lines.filter((x) => x.includes('okta.apiTokens.read'));
    assert.equal(infos.length, 1);
    assert.equal(JSON.parse(infos[0]!).level, 'info');
  });

  test('when Okta answers 403 with TOKEN_LOOKUP=true, then every page tries again', async () => {
    const { l, okta } = lookup({ mode: 'on' });
    await l.lookup([withToken('00Tforbidden00000001')]);
    const s = (await l.lookup([withToken('00Tforbidden00000001', 900)])).values().next().value;
    assert.equal(s?.status, 'failed');
    assert.equal(okta!.requestCount, 2);
  });

  test('when Okta does not answer within the timeout, then the lookup fails after about the timeout and does not throw', async () => {
    routes.set('00Tslow0000000000001', { status: 200, body: {}, delayMs: 3000 });
    const { l } = lookup({ timeoutMs: 200 });
    const e = withToken('00Tslow0000000000001');
    const t0 = Date.now();
    const s = (await l.lookup([e])).get(e.uuid);
    const took = Date.now() - t0;
    assert.equal(s?.status, 'failed');
    assert.match(s?.status === 'failed' ? s.reason : '', /no answer within (the lookup budget of )?0\.2s \(TOKEN_LOOKUP_TIMEOUT\)/);
    assert.ok(took < 1500, `took ${took} ms`);
  });

  test('when the OktaHttp ignores its timeout, then the page budget still ends the wait', async () => {
    const hanging: OktaHttp = { orgUrl: origin, requestCount: 0, get: () => new Promise<OktaResponse>(() => undefined) };
    const { l } = lookup({ timeoutMs: 150 }, hanging);
    const e = withToken('00Thang0000000000001');
    const t0 = Date.now();
    const s = (await l.lookup([e])).get(e.uuid);
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(s?.status, 'failed');
  });

  test('when Okta answers 500, then the state is failed with the status', async () => {
    routes.set('00Tbroken00000000001', { status: 500, body: { errorCode: 'E0000009' } });
    const { l } = lookup();
    const e = withToken('00Tbroken00000000001');
    const s = (await l.lookup([e])).get(e.uuid);
    assert.deepEqual(s, { status: 'failed', reason: 'Okta answered HTTP 500', checkedAt: '2026-11-28T12:00:00.000Z' });
  });

  test('when the token id is missing or not shaped like an Okta id, then nothing is requested and the state says why', async () => {
    const { l, okta } = lookup();
    const noTarget = makeEvent({ target: undefined });
    const traversal = withToken('00T../../users/00u1234567');
    const states = await l.lookup([noTarget, traversal]);
    assert.equal(okta!.requestCount, 0);
    assert.deepEqual(states.get(noTarget.uuid), { status: 'skipped', reason: 'the event names no token' });
    assert.equal(states.get(traversal.uuid)?.status, 'skipped');
  });

  test('when a page has more tokens than TOKEN_LOOKUP_MAX, then only that many are requested and the rest are skipped with the reason', async () => {
    const { l, okta } = lookup({ maxPerPage: 3 });
    const events = Array.from({ length: 5 }, (_, i) => withToken(`00Tmany00000000000${i}`));
    const states = await l.lookup(events);
    assert.equal(okta!.requestCount, 3);
    assert.deepEqual(events.map((e) => states.get(e.uuid)?.status), ['not-found', 'not-found', 'not-found', 'skipped', 'skipped']);
    const last = states.get(events[4]!.uuid);
    assert.match(last?.status === 'skipped' ? last.reason : '', /TOKEN_LOOKUP_MAX/);
  });

  test('when Okta reports less than half of the rate limit left, then further lookups pause until the reset and then resume', async () => {
    const reset = String(Math.ceil((clock.now().getTime() + 30_000) / 1000));
    routes.set('00Tlowlimit000000001', { status: 404, body: {}, headers: { 'x-rate-limit-limit': '50', 'x-rate-limit-remaining': '24', 'x-rate-limit-reset': reset } });
    const { l, okta } = lookup();
    const events = [withToken('00Tlowlimit000000001'), withToken('00Tlowlimit000000002'), withToken('00Tlowlimit000000003')];
    const states = await l.lookup(events);
    assert.equal(okta!.requestCount, 1, 'the probe saw the low limit; nothing else was sent');
    assert.equal(states.get(events[0]!.uuid)?.status, 'not-found');
    const paused = states.get(events[1]!.uuid);
    assert.match(paused?.status === 'skipped' ? paused.reason : '', /rate limit/);
    clock.advance(31_000);
    const later = await l.lookup([withToken('00Tlowlimit000000004')]);
    assert.equal([...later.values()][0]?.status, 'not-found');
    assert.equal(okta!.requestCount, 2);
  });

  test('when TOKEN_LOOKUP is off or there is no Okta connection, then every event is skipped', async () => {
    const off = lookup({ mode: 'off' });
    const e = withToken('00Tfound000000000001');
    assert.match(JSON.stringify((await off.l.lookup([e])).get(e.uuid)), /TOKEN_LOOKUP=false/);
    assert.equal(off.okta!.requestCount, 0);
    const none = lookup({}, null);
    assert.equal((await none.l.lookup([e])).get(e.uuid)?.status, 'skipped');
  });
});
