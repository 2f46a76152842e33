import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { parseConfig } from '../src/config';
import { SdkOktaHttp } from '../src/okta/client';
import { ApiTokensError, listApiTokens } from '../src/okta/api-tokens';
import { FakeOkta } from './helpers/fake-okta';

/** A bare org on 127.0.0.1 whose token list answers with whatever Link the test gives. */
async function orgWithLink(link: (origin: string, n: number) => string | null): Promise<{ origin: string; calls: string[]; close(): Promise<void> }> {
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    calls.push(req.url ?? '');
    const l = link(origin, calls.length);
    res.writeHead(200, { 'content-type': 'application/json', ...(l ? { link: l } : {}) });
    res.end(JSON.stringify([{ id: `00Tpage${String(calls.length).padStart(13, '0')}`, name: 'p' }]));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, calls, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

function httpFor(origin: string): SdkOktaHttp {
  return new SdkOktaHttp(parseConfig({ OKTA_ORG_URL: origin, OKTA_API_TOKEN: 'FAKE-okta-api-token-for-tests', DB_PATH: ':memory:' }, { requireOkta: true }).okta!);
}

describe('listing API tokens through OktaHttp', () => {
  test('when more pages remain than the bound, then it stops at the bound and says the list is cut', async () => {
    const fake = new FakeOkta();
    await fake.start();
    try {
      for (let i = 1; i <= 7; i++) fake.addApiToken({ id: `00Tbound00000000000${i}`, name: `t${i}` });
      const r = await listApiTokens(new SdkOktaHttp(parseConfig({ OKTA_ORG_URL: fake.origin, OKTA_API_TOKEN: fake.token, DB_PATH: ':memory:' }, { requireOkta: true }).okta!), { pageSize: 2, maxPages: 3 });
      assert.equal(r.truncated, true);
      assert.deepEqual(r.tokens.map((t) => t.id), [1, 2, 3, 4, 5, 6].map((i) => `00Tbound00000000000${i}`));
      assert.equal(fake.requests.filter((q) => q.path === '/api/v1/api-tokens').length, 3);
    } finally {
      await fake.stop();
    }
  });

  test('when a next link points to another origin, then it is refused before anything is sent there', async () => {
    const org = await orgWithLink(() => '<http://127.0.0.2:9/api/v1/api-tokens?after=x>; rel="next"');
    try {
      await assert.rejects(listApiTokens(httpFor(org.origin)), (e: unknown) => e instanceof ApiTokensError && e.kind === 'transport' && /refused/.test(e.message));
      assert.equal(org.calls.length, 1);
    } finally {
      await org.close();
    }
  });

  test('when a next link leads back to a page already read, then the listing ends instead of looping', async () => {
    const org = await orgWithLink((origin, n) => `<${origin}/api/v1/api-tokens?after=${n % 2}>; rel="next"`);
    try {
      const r = await listApiTokens(httpFor(org.origin));
      assert.equal(r.truncated, false);
      assert.equal(org.calls.length, 3);
    } finally {
      await org.close();
    }
  });
});
