import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { systemClock } from '../src/clock';
import { parseConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { buildSampleAlert } from '../src/notify/sample-alert';
import { SdkOktaHttp } from '../src/okta/client';
import type { OktaLogEvent } from '../src/okta/log-event';
import { respond, type RespondDeps } from '../src/respond/respond';
import { Store } from '../src/store/store';
import { ENGINES } from './helpers/engines';
import { tokenEvent, uuidFor } from './helpers/events';
import { FakeOkta } from './helpers/fake-okta';
import { LineSink } from './helpers/harness';

// Two replicas are two processes with their own connections to one PostgreSQL database. (On
// SQLite, one process holds one connection; two processes racing are test/respond-cli.test.ts's.)
const postgres = ENGINES.find((e) => e.name === 'postgres')!;

describe('responding from two replicas on PostgreSQL', () => {
  test('when two replicas revoke the same token at once, then Okta gets one DELETE and the other replica reports it revoked', async () => {
    const okta = new FakeOkta({ token: 'FAKE-okta-api-token-for-tests' });
    const origin = await okta.start();
    try {
      const [a, b] = (await postgres.openPair()).map((db) => new Store(db));
      const now = new Date();
      const alert = buildSampleAlert({ now, uuid: uuidFor(1), tokenName: 'token-1', source: 'poll' });
      const tokenId = alert.token!.id!;
      await a!.insertEvent(tokenEvent(1, new Date(now.getTime() - 60_000).toISOString()) as unknown as OktaLogEvent, 'poll', now, null);
      await a!.insertAlert(alert, null, ['console'], { deferToSummary: false, now });
      okta.apiTokens.set(tokenId, { id: tokenId, name: 'token-1' });
      // Okta takes a while to answer: the second replica asks while the first one's claim is pending.
      okta.fail(1, { kind: 'hang', ms: 1500 }, (p) => p === `/api/v1/api-tokens/${tokenId}`);
      const config = parseConfig({ OKTA_ORG_URL: origin, OKTA_API_TOKEN: okta.token, RESPONSE_ACTIONS: 'revoke', DB_PATH: '/nonexistent/unused.sqlite' }, { requireOkta: true });
      const deps = (store: Store): RespondDeps => ({
        store,
        okta: new SdkOktaHttp(config.okta!),
        oktaAuth: 'ssws',
        config: config.respond,
        notifiers: ['console'],
        clock: systemClock,
        logger: createLogger(config.log, { stream: new LineSink() }),
        waitForPendingMs: 10_000,
      });
      const outcomes = await Promise.all([a!, b!].map((s) => respond(deps(s), { target: alert.id, action: 'revoke', by: { via: 'cli', id: '1000', name: 'ops' } })));
      assert.equal(okta.requests.filter((r) => r.method === 'DELETE').length, 1);
      assert.deepEqual(outcomes.map((o) => o.status).sort(), ['already', 'done'], outcomes.map((o) => o.text).join(' / '));
      const rows = await a!.sql.all<{ result: string }>('SELECT result FROM response_actions ORDER BY result');
      assert.deepEqual(rows.map((r) => r.result), ['duplicate', 'revoked']);
    } finally {
      await okta.stop();
    }
  });
});
