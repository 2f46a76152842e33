import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDetector } from '../src/detect/detector';
import { RULE } from '../src/detect/rule';
import type { Rule } from '../src/detect/rule-model';
import { ingest } from '../src/ingest/ingest';
import { watchOf } from '../src/store/watch-store';
import { tokenEvent, uuidFor } from './helpers/events';
import { startHarness } from './helpers/harness';

const HOUR = 3_600_000;
const TOKEN = `00T${'30'.padStart(17, '0')}`;

const revokeRule: Rule = {
  ...RULE,
  id: 'okta-api-token-revoked',
  name: 'test revoke rule',
  filter: 'eventType eq "system.api_token.revoke"',
  eventTypes: [{ type: 'system.api_token.revoke', hookEligible: true }],
  tunable: false,
  tokenFacts: false,
  summarizable: false,
  match: () => ({ match: true }),
};

test('when org b reports a revoke or a use of a token id that org a watches, then org a\'s watch and alert are untouched and org b alerts on its own', async () => {
  const h = await startHarness({ env: { NOTIFIERS: 'console' } });
  try {
    const published = new Date(h.clock.now().getTime() - 10 * 60_000);
    h.fake.persist(tokenEvent(30, published.toISOString()));
    assert.equal((await h.tick()).ok, true);
    const a = h.app.store; // org "default"
    assert.ok(await watchOf(a, TOKEN));

    const b = a.forOrg('b');
    const at = new Date(published.getTime() + HOUR).toISOString();
    const revoke = {
      ...tokenEvent(300, at),
      eventType: 'system.api_token.revoke',
      target: [{ id: TOKEN, type: 'Token', alternateId: 'unknown', displayName: 'token' }],
    };
    const use = { ...tokenEvent(301, at), eventType: 'user.lifecycle.create', transaction: { id: 'tx', type: 'WEB', detail: { requestApiTokenId: TOKEN } } };
    const detector = createDetector(h.app.config.detect, { orgUrl: 'https://b.example.okta.com', okta: null, logger: h.app.logger, clock: h.clock, rules: [RULE, revokeRule] });
    await ingest(
      { store: b, detector, notifiers: ['console'], poll: h.app.config.poll, clock: h.clock, logger: h.app.logger },
      { entries: [revoke, use], tickId: null, checkpoint: { source: 'push', receivedAt: h.clock.now() }, alertsSoFar: 0 },
    );

    const w = (await watchOf(a, TOKEN))!;
    assert.deepEqual([w.revokedAt, w.events, w.firstUseAt], [null, 0, null], "org b's events are not org a's token activity");
    assert.deepEqual(await a.followUpsOf(`otw-${uuidFor(30)}`), [], "org a's alert gets no follow-up from org b");
    const own = await a.sql.get<{ org: string }>('SELECT org FROM alerts WHERE event_uuid = ?', [uuidFor(300)]);
    assert.equal(own?.org, 'b', "org b's revoke alerts in org b");
  } finally {
    await h.close();
  }
});
