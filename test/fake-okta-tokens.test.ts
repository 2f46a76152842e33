import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeOkta, parseLogFilter } from './helpers/fake-okta';
import { findLink } from '../src/okta/links';
import { DEMO_CLIENTS, OKTA_SYSTEM_ACTOR, demoTokenStory, privilegeGrantEvent, tokenActivityEvent, tokenExpiredEvent, tokenOutsideRangeEvent, tokenUpdateEvent } from '../src/simulator/demo-events';

/*
 * The fake Okta's System Log filter for following tokens and its API Tokens API: the other tests,
 * the demo and the soak rely on both behaving like Okta, so they are pinned here over real HTTP.
 */

const ADMIN = { id: '00uadmin000000000001', login: 'admin@example.com', name: 'Admin' };
const T1 = '00Tfollowed000000001';
const T2 = '00Tfollowed000000002';

async function get(fake: FakeOkta, pathAndQuery: string, auth = `SSWS ${fake.token}`, method = 'GET'): Promise<{ status: number; body: any; links: string[]; headers: Headers }> {
  const res = await fetch(new URL(pathAndQuery, fake.origin), { method, headers: { authorization: auth, accept: 'application/json' } });
  const text = await res.text();
  const links = res.headers.get('link') ? [res.headers.get('link')!] : [];
  return { status: res.status, body: text ? JSON.parse(text) : null, links, headers: res.headers };
}

function logsUrl(filter: string, extra: Record<string, string> = {}): string {
  const u = new URLSearchParams({ filter, since: new Date(Date.now() - 3_600_000).toISOString(), sortOrder: 'ASCENDING', limit: '1000', ...extra });
  return `/api/v1/logs?${u}`;
}

/** A service-app access token from the fake's token endpoint (the fake checks claims, not the signature here). */
async function oauthToken(fake: FakeOkta, clientId: string, scope: string): Promise<string> {
  const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const assertion = `${b64({ alg: 'RS256' })}.${b64({ iss: clientId, sub: clientId, aud: `${fake.origin}/oauth2/v1/token` })}.c2ln`;
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion });
  const res = await fetch(`${fake.origin}/oauth2/v1/token`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const json = (await res.json()) as { access_token?: string };
  assert.ok(json.access_token, `token endpoint answered ${res.status}`);
  return json.access_token!;
}

describe('the fake Okta: following tokens with the System Log filter', () => {
  const fake = new FakeOkta();
  const base = { actor: ADMIN, client: DEMO_CLIENTS.bucharestVps };
  const e1 = tokenActivityEvent({ ...base, published: new Date(Date.now() - 60_000), tokenId: T1, eventType: 'user.lifecycle.create', displayMessage: 'Create okta user' });
  const e2 = privilegeGrantEvent({ ...base, published: new Date(Date.now() - 120_000), tokenId: T2, user: { id: '00uvictim00000000001', login: 'v@example.com', name: 'V' } });
  const other = tokenActivityEvent({ ...base, published: new Date(Date.now() - 30_000), tokenId: '00Tsomeoneelse000001', eventType: 'user.lifecycle.create', displayMessage: 'Create okta user' });
  const typed = tokenUpdateEvent({ ...base, published: new Date(Date.now() - 10_000), token: { id: '00Tnotfollowed000001', name: 'x' }, network: { connection: 'ANYWHERE' } });
  // Attacker-controlled JSON types: an array or object where the id should be must neither match nor break the query.
  const odd1 = { ...other, uuid: 'odd-1', transaction: { detail: { requestApiTokenId: [T1] } } };
  const odd2 = { ...other, uuid: 'odd-2', transaction: 'nope' };
  const odd3 = { ...other, uuid: 'odd-3', transaction: { detail: null } };
  before(async () => {
    await fake.start();
    fake.persist(e1, other, e2, odd1, typed, odd2, odd3);
  });
  after(() => fake.stop());

  test('when a polling query filters on two token ids joined with or, then exactly their events come back, in persistence order', async () => {
    const r = await get(fake, logsUrl(`transaction.detail.requestApiTokenId eq "${T1}" or transaction.detail.requestApiTokenId eq "${T2}"`));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.map((e: any) => e.uuid), [e1.uuid, e2.uuid]);
    // The next link carries the filter on, so a resumed query stays on these tokens.
    const next = findLink(r.headers.get('link')!.split(/,(?=\s*<)/), 'next');
    assert.ok(next);
    fake.persist({ ...e1, uuid: 'later-1' }, { ...other, uuid: 'later-2' });
    const r2 = await get(fake, next!);
    assert.deepEqual(r2.body.map((e: any) => e.uuid), ['later-1']);
  });

  test('when a bounded query (since and until) filters on a token id, then only its events come back, in published order', async () => {
    const r = await get(fake, logsUrl(`transaction.detail.requestApiTokenId eq "${T2}" or transaction.detail.requestApiTokenId eq "${T1}"`, { until: new Date(Date.now() + 60_000).toISOString() }));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.map((e: any) => e.uuid), [e2.uuid, e1.uuid, 'later-1']);
  });

  test('when token-id terms and eventType terms are mixed, then an event matching either comes back', async () => {
    const r = await get(fake, logsUrl(`eventType eq "system.api_token.update" or transaction.detail.requestApiTokenId eq "${T2}"`));
    assert.deepEqual(r.body.map((e: any) => e.uuid), [e2.uuid, typed.uuid]);
  });

  test('when the filter has another shape, then the fake answers 400 E0000031 as Okta does for what it cannot parse', async () => {
    for (const bad of [
      `transaction.detail.requestApiTokenId eq ${T1}`,
      `transaction.detail.requestApiTokenId eq "${T1}" and eventType eq "x"`,
      `transaction.detail.requestApiTokenId sw "00T"`,
      `transaction.detail.requestApiTokenId eq "${T1}" or `,
      `actor.id eq "${ADMIN.id}"`,
    ]) {
      const r = await get(fake, logsUrl(bad));
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.errorCode, 'E0000031');
    }
  });

  test('when a polling query has no filter, then its next link carries none and answers 200', async () => {
    const r = await get(fake, `/api/v1/logs?${new URLSearchParams({ since: new Date(Date.now() - 3_600_000).toISOString(), sortOrder: 'ASCENDING' })}`);
    assert.equal(r.status, 200);
    const next = findLink(r.headers.get('link')!.split(/,(?=\s*<)/), 'next')!;
    assert.equal(new URL(next).searchParams.has('filter'), false);
    assert.equal((await get(fake, next)).status, 200);
  });

  test('when a value contains " or ", then it stays one value', () => {
    const match = parseLogFilter('transaction.detail.requestApiTokenId eq "a or b"');
    assert.ok(match);
    assert.equal(match({ transaction: { detail: { requestApiTokenId: 'a or b' } } }), true);
    assert.equal(match({ transaction: { detail: { requestApiTokenId: 'a' } } }), false);
  });
});

describe('the fake Okta: the API Tokens API', () => {
  let now = Date.parse('2026-12-01T10:00:00Z');
  const fake = new FakeOkta({ now: () => now, oauth: { clientId: '0oatokensapp', grantScopes: ['okta.logs.read', 'okta.apiTokens.read', 'okta.apiTokens.manage'] } });
  before(async () => {
    await fake.start();
    for (let i = 1; i <= 5; i++) fake.addApiToken({ id: `00Tlist0000000000${i}`, name: `token ${i}` });
  });
  after(() => fake.stop());

  test('when the list is asked with limit 2, then three pages come back joined by Link rel="next", and the last has none', async () => {
    const seen: string[] = [];
    let url: string | null = '/api/v1/api-tokens?limit=2';
    let pages = 0;
    while (url) {
      const r = await get(fake, url);
      assert.equal(r.status, 200);
      seen.push(...r.body.map((t: any) => t.id));
      pages++;
      url = findLink(r.headers.get('link')!.split(/,(?=\s*<)/), 'next');
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, [1, 2, 3, 4, 5].map((i) => `00Tlist0000000000${i}`));
  });

  test('when a token is stored, then it carries Okta\'s fields with defaults (30-day window, no network restriction)', async () => {
    const r = await get(fake, '/api/v1/api-tokens/00Tlist00000000001');
    assert.equal(r.status, 200);
    assert.equal(r.body.tokenWindow, 'P30D');
    assert.deepEqual(r.body.network, { connection: 'ANYWHERE', include: [], exclude: [] });
    assert.equal(r.body.expiresAt, '2026-12-31T10:00:00.000Z');
  });

  test('when a scripted create event is stored, then its token is listed with its owner and network', () => {
    const story = demoTokenStory(now);
    const t = fake.addApiTokenFromEvent(story.created);
    assert.equal(t?.id, story.token.id);
    assert.equal(t?.userId, story.creator.id);
    assert.equal((t?.network as any).connection, 'ANYWHERE');
    fake.apiTokens.delete(story.token.id);
  });

  test('when a token is revoked, then DELETE answers 204, then 404, and a system.api_token.revoke is recorded with the caller as actor', async () => {
    const before = fake.persistedCount;
    const r = await get(fake, '/api/v1/api-tokens/00Tlist00000000005', `SSWS ${fake.token}`, 'DELETE');
    assert.equal(r.status, 204);
    assert.equal((await get(fake, '/api/v1/api-tokens/00Tlist00000000005', `SSWS ${fake.token}`, 'DELETE')).status, 404);
    assert.equal((await get(fake, '/api/v1/api-tokens/00Tlist00000000005')).status, 404);
    assert.equal(fake.persistedCount, before + 1);
    const logs = await get(fake, `/api/v1/logs?${new URLSearchParams({ filter: 'eventType eq "system.api_token.revoke"', since: new Date(now - 60_000).toISOString() })}`);
    assert.equal(logs.body.length, 1);
    assert.equal(logs.body[0].actor.alternateId, 'admin@example.com');
    assert.equal(logs.body[0].target[0].id, '00Tlist00000000005');
    assert.equal(logs.body[0].target[0].type, 'Token');
    assert.equal(logs.body[0].transaction.detail.requestApiTokenId, fake.sswsTokenId);
  });

  test('when the SSWS token\'s admin may not read tokens, then list and get answer 403 E0000006', async () => {
    fake.apiTokensForbidden = true;
    try {
      for (const p of ['/api/v1/api-tokens', '/api/v1/api-tokens/00Tlist00000000001']) {
        const r = await get(fake, p);
        assert.equal(r.status, 403);
        assert.equal(r.body.errorCode, 'E0000006');
      }
    } finally {
      fake.apiTokensForbidden = false;
    }
  });

  test('when a service app\'s access token lacks the scope, then Okta\'s 403 comes back; read lists, only manage revokes', async () => {
    const logsOnly = await oauthToken(fake, '0oatokensapp', 'okta.logs.read');
    const r = await get(fake, '/api/v1/api-tokens', `Bearer ${logsOnly}`);
    assert.equal(r.status, 403);
    assert.equal(r.body.errorCode, 'E0000006');
    assert.match(r.headers.get('www-authenticate') ?? '', /insufficient_scope/);

    const read = await oauthToken(fake, '0oatokensapp', 'okta.apiTokens.read');
    assert.equal((await get(fake, '/api/v1/api-tokens', `Bearer ${read}`)).status, 200);
    assert.equal((await get(fake, '/api/v1/api-tokens/00Tlist00000000004', `Bearer ${read}`, 'DELETE')).status, 403);

    const manage = await oauthToken(fake, '0oatokensapp', 'okta.apiTokens.manage');
    assert.equal((await get(fake, '/api/v1/api-tokens/00Tlist00000000004', `Bearer ${manage}`, 'DELETE')).status, 204);
    const logs = await get(fake, `/api/v1/logs?${new URLSearchParams({ filter: 'eventType eq "system.api_token.revoke"', since: new Date(now - 60_000).toISOString() })}`);
    const revoke = logs.body.find((e: any) => e.target[0].id === '00Tlist00000000004');
    assert.equal(revoke.actor.id, '0oatokensapp');
    assert.deepEqual(revoke.transaction.detail, {});
  });
});

describe('the lifecycle and activity builders', () => {
  test('when the expiry builder is used, then the actor is system@okta.com and the target the token', () => {
    const e = tokenExpiredEvent({ published: '2026-12-01T00:00:00Z', token: { id: T1, name: 'n' } }) as any;
    assert.equal(e.eventType, 'system.api_token.revoke');
    assert.equal(e.actor.alternateId, OKTA_SYSTEM_ACTOR.login);
    assert.deepEqual(e.target.map((t: any) => [t.type, t.id]), [['Token', T1]]);
  });

  test('when the outside-range builder is used, then the request is made with the token itself', () => {
    const e = tokenOutsideRangeEvent({ published: '2026-12-01T00:00:00Z', actor: ADMIN, client: DEMO_CLIENTS.bucharestVps, token: { id: T1, name: 'n' } }) as any;
    assert.equal(e.transaction.detail.requestApiTokenId, T1);
    assert.equal(e.client.geographicalContext.country, 'Romania');
    assert.equal(e.securityContext.asNumber, 64511);
  });

  test('when the update builder sets ANYWHERE, then debugData carries networkConnection ANYWHERE', () => {
    const e = tokenUpdateEvent({ published: '2026-12-01T00:00:00Z', actor: ADMIN, client: DEMO_CLIENTS.copenhagenOffice, token: { id: T1, name: 'n' }, network: { connection: 'ANYWHERE' } }) as any;
    assert.equal(e.debugContext.debugData.networkConnection, 'ANYWHERE');
  });

  test('when the demo story is built, then every activity event carries the token id and the first use is in another country than the creation', () => {
    const s = demoTokenStory(Date.parse('2026-12-01T10:00:00Z'));
    for (const e of [s.firstUse, s.privilegeGrant, s.profileUpdate] as any[]) assert.equal(e.transaction.detail.requestApiTokenId, s.token.id);
    assert.notEqual((s.firstUse as any).client.geographicalContext.country, (s.created as any).client.geographicalContext.country);
    assert.equal((s.privilegeGrant as any).eventType, 'user.account.privilege.grant');
    assert.equal((s.revoke as any).actor.alternateId, s.creator.login);
  });
});
