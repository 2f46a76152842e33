import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import { describe, test } from 'node:test';
import { followDepsFor } from '../src/app';
import { runFollowTick } from '../src/ingest/follow';
import { respond, respondDepsFor } from '../src/respond/respond';
import { watchOf } from '../src/store/watch-store';
import { formatSlack } from '../src/notify/slack';
import { otherEvent, tokenEvent, uuidFor } from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';
import { FakePagerDuty } from './helpers/fake-pagerduty';

const HOUR = 3_600_000;
const KEY = 'FAKEpagerdutyroutingkey000000001';
const tokenIdOf = (n: number): string => `00T${String(n).padStart(17, '0')}`;
const activity = (n: number, tokenId: string, published: string) => ({ ...otherEvent(n, published), eventType: 'user.account.privilege.grant', transaction: { id: `tx${n}`, type: 'WEB', detail: { requestApiTokenId: tokenId } } });
const revokeEvent = (n: number, published: string, tokenId: string, actor: string, result = 'SUCCESS') => ({
  ...tokenEvent(n, published), eventType: 'system.api_token.revoke', displayMessage: 'Revoke API token',
  actor: { id: '00u0000000000000000b', type: 'User', alternateId: actor, displayName: actor },
  outcome: { result, reason: result === 'SUCCESS' ? null : 'INSUFFICIENT_PERMISSIONS' },
  target: [{ id: tokenId, type: 'Token', alternateId: 'unknown', displayName: 'token-1' }],
});
async function cycle(h: Harness): Promise<void> {
  await h.tick();
  await runFollowTick(followDepsFor(h.app));
  await h.app.dispatcher.runOnce();
}

describe('follow-ups under faults found in review', () => {
  test('F1: when Okta DENIES a revoke of a watched token, then the follow-up does not say "revoked" and PagerDuty keeps the incident open', async () => {
    const pd = new FakePagerDuty(KEY);
    await pd.start();
    const h = await startHarness({ env: { NOTIFIERS: 'pagerduty,console', PAGERDUTY_ROUTING_KEY: KEY, PAGERDUTY_EVENTS_URL: pd.url } });
    try {
      h.fake.persist(tokenEvent(1, new Date(h.clock.now().getTime() - 60_000).toISOString()));
      await cycle(h);
      h.clock.advance(60_000);
      h.fake.persist(revokeEvent(2, new Date(h.clock.now().getTime() - 5_000).toISOString(), tokenIdOf(1), 'attacker@example.com', 'FAILURE'));
      await cycle(h);
      const f = (await h.app.store.followUpsOf(`otw-${uuidFor(1)}`))[0]!;
      const slack = formatSlack({ kind: 'followup', followup: f, alert: (await h.app.store.getAlert(`otw-${uuidFor(1)}`))!, parent: null });
      assert.doesNotMatch(slack.text, /^API token revoked/, 'a denied revoke is headlined as a revoke');
      assert.equal(pd.incidents.get(`otw-${uuidFor(1)}`), 'triggered', 'a denied revoke resolved the PagerDuty incident');
    } finally { await h.close(); await pd.stop(); }
  });

  test('F2: when an in-window event of a watched token is stored late by Okta, then it is still read before the watch closes', async () => {
    const h = await startHarness({ env: { NOTIFIERS: 'console', FOLLOW_WINDOW: '1h' } });
    try {
      const created = h.clock.now().getTime() - 60_000;
      h.fake.persist(tokenEvent(1, new Date(created).toISOString()));
      await cycle(h);
      h.clock.set(new Date(created + HOUR + 30_000));
      await cycle(h); // the window ended 30 s ago: the watch closes here
      h.fake.persist(activity(50, tokenIdOf(1), new Date(created + HOUR - 2_000).toISOString())); // stored ~1 min late
      h.clock.advance(60_000);
      await cycle(h);
      assert.equal((await h.app.store.followUpsOf(`otw-${uuidFor(1)}`)).filter((x) => x.kind === 'digest').length, 0, 'no digest until LOOKBACK after the window');
      h.clock.advance(10 * 60_000);
      await cycle(h);
      const digest = (await h.app.store.followUpsOf(`otw-${uuidFor(1)}`)).find((x) => x.kind === 'digest');
      assert.equal(digest?.digest?.sensitiveCount, 1, 'the admin grant made 2 s before the window ended is missing from the digest (and never stored)');
    } finally { await h.close(); }
  });

  test('F3: when someone else revoked the token first and our revoke gets 404, then the watch does not credit us', async () => {
    const h = await startHarness({ env: { NOTIFIERS: 'console', RESPONSE_ACTIONS: 'revoke' } });
    try {
      h.fake.persist(tokenEvent(1, new Date(h.clock.now().getTime() - 60_000).toISOString()));
      await cycle(h);
      h.clock.advance(60_000);
      const bobAt = new Date(h.clock.now().getTime() - 10_000).toISOString(); // bob revoked in the Admin Console (token gone in the fake)
      const out = await respond(respondDepsFor(h.app), { target: `otw-${uuidFor(1)}`, action: 'revoke', by: { via: 'cli', id: '1000', name: 'alice' } });
      assert.equal(out.result, 'already-gone');
      h.fake.persist(revokeEvent(2, bobAt, tokenIdOf(1), 'bob.admin@example.com'));
      h.clock.advance(60_000);
      await cycle(h);
      assert.equal((await watchOf(h.app.store, tokenIdOf(1)))?.revokedBy, 'bob.admin@example.com');
    } finally { await h.close(); }
  });

  test('F4: when a creation names a token id that is not a plain id, then no watch stays open forever', async () => {
    const h = await startHarness({ env: { NOTIFIERS: 'console', FOLLOW_WINDOW: '1h' } });
    try {
      const bad = 'x" or eventType ne "zz';
      h.fake.persist(tokenEvent(1, new Date(h.clock.now().getTime() - 60_000).toISOString(), { target: [{ id: bad, type: 'Token', alternateId: 'unknown', displayName: 'evil' }] }));
      h.fake.persist(tokenEvent(2, new Date(h.clock.now().getTime() - 60_000).toISOString()));
      await cycle(h);
      for (let i = 0; i < 5; i++) { h.clock.advance(HOUR); await cycle(h); }
      assert.equal((await watchOf(h.app.store, tokenIdOf(2)))?.closeReason, 'window-ended');
      const open = (rawDb(h.app.store).prepare('SELECT COUNT(*) AS n FROM token_watches WHERE closed_at IS NULL').get() as { n: number }).n;
      assert.equal(open, 0, '5 h after a 1 h window, the unsafe-id watch is still open (status counts it as watched)');
    } finally { await h.close(); }
  });

  test('F5: when a successful creation has an extreme published time, then it still alerts as a token creation, not as unreadable', async () => {
    const h = await startHarness({ env: { NOTIFIERS: 'console' } });
    try {
      h.fake.persist(tokenEvent(1, '+275760-09-13T00:00:00.000Z'));
      await h.tick();
      const a = (await h.app.store.getAlert(`otw-${uuidFor(1)}`))!;
      assert.equal(a.unreadable, undefined, `downgraded to unreadable: ${a.unreadable?.reason}`);
    } finally { await h.close(); }
  });

  test('F6: when a followed event has an unreadable published time, then it does not become the first use nor pin last use', async () => {
    const h = await startHarness({ env: { NOTIFIERS: 'console' } });
    try {
      const t0 = h.clock.now().getTime();
      h.fake.persist(tokenEvent(1, new Date(t0 - 60_000).toISOString()));
      await cycle(h);
      h.fake.persist({ ...activity(50, tokenIdOf(1), 'x'), published: 'zzzz' }, activity(51, tokenIdOf(1), new Date(t0 - 10_000).toISOString()));
      h.clock.advance(60_000);
      await cycle(h);
      const w = (await watchOf(h.app.store, tokenIdOf(1)))!;
      assert.equal(w.lastUseAt, new Date(t0 - 10_000).toISOString());
    } finally { await h.close(); }
  });
});
