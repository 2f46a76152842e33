import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import { describe, test } from 'node:test';
import type { Alert } from '../src/detect/alert';
import { createDetector } from '../src/detect/detector';
import { EVENT_HOOK_RULE } from '../src/detect/rule-event-hook';
import { HOOK_ELIGIBLE_EVENT_TYPES, POLL_FILTER, RULES } from '../src/detect/rules';
import { formatConsole } from '../src/notify/console';
import { formatEmail } from '../src/notify/email';
import { formatSlack } from '../src/notify/slack';
import { formatWebhook } from '../src/notify/webhook';
import { eventHookEvent, tokenEvent, uuidFor } from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';

const OUR_HOOK = 'whoOurHook0000000001';
const OTHER_HOOK = 'whoOtherHook00000002';

/** Rewires the harness's detector with a fixed registered hook id, and push set up here or not. */
function knowHook(h: Harness, id: string | null, pushConfigured = true): void {
  h.app.detector = createDetector(h.app.config.detect, { orgUrl: h.app.config.okta!.orgUrl, okta: h.app.okta, logger: h.app.logger, clock: h.clock, eventHookId: () => id, pushConfigured });
}

const ago = (h: Harness, ms: number): string => new Date(h.clock.now().getTime() - ms).toISOString();
const alertOf = (h: Harness, n: number): Promise<Alert | null> => h.app.store.getAlert(`otw-${uuidFor(n)}`);
const suppressedBy = (h: Harness, n: number): string | null =>
  (rawDb(h.app.store).prepare('SELECT suppressed_by AS s FROM events WHERE uuid = ?').get(uuidFor(n)) as { s: string | null } | undefined)?.s ?? null;

describe('the rule set', () => {
  test('when the set is read, then the poll filter is the union of its event types and only token events are hook-eligible', () => {
    assert.deepEqual(RULES.slice(0, 2).map((r) => r.id), ['okta-api-token-create', 'okta-event-hook-tampered']);
    assert.equal(POLL_FILTER, [...new Set(RULES.flatMap((r) => r.eventTypes.map((t) => `eventType eq "${t.type}"`)))].join(' or '));
    // The token lifecycle rules (detect-lifecycle.test.ts) add revoke and outside-range; no event_hook.* type is eligible.
    assert.deepEqual(HOOK_ELIGIBLE_EVENT_TYPES, ['system.api_token.create', 'system.api_token.revoke', 'system.api_token.request_outside_allowed_range']);
    assert.equal(EVENT_HOOK_RULE.severity, 'high');
    assert.deepEqual(EVENT_HOOK_RULE.mitre.map((m) => [m.tactic.id, m.technique.id, m.subtechnique?.id]), [['TA0005', 'T1562', 'T1562.008']]);
  });
});

describe('the event-hook self-watch rule, through a poll of the fake Okta', () => {
  test('when a page holds a deactivation of our hook, one of another hook and a successful delivery, then only ours alerts, high, with its own rule', async () => {
    const h = await startHarness();
    try {
      knowHook(h, OUR_HOOK);
      h.fake.persist(
        eventHookEvent(1, ago(h, 30_000), 'event_hook.deactivated', OUR_HOOK),
        eventHookEvent(2, ago(h, 29_000), 'event_hook.deactivated', OTHER_HOOK, { hookName: 'someone else' }),
        eventHookEvent(3, ago(h, 28_000), 'event_hook.delivery', OUR_HOOK),
        eventHookEvent(4, ago(h, 27_000), 'event_hook.delivery', OUR_HOOK, { outcome: { result: 'FAILURE', reason: 'Connection timed out' } }),
        eventHookEvent(5, ago(h, 26_000), 'event_hook.delivery', OUR_HOOK, { outcome: { result: ['FAILURE'] } }),
        tokenEvent(6, ago(h, 25_000)),
        { ...tokenEvent(7, ago(h, 24_000)), eventType: 'user.session.start' },
      );
      const tick = await h.tick();
      assert.equal(tick.ok, true, tick.error);
      assert.equal(tick.events, 6, 'the fake filtered by the union filter (the session event stays out)');

      const ours = (await alertOf(h, 1))!;
      assert.equal(ours.rule.id, 'okta-event-hook-tampered');
      assert.equal(ours.rule.severity, 'high');
      assert.deepEqual(ours.eventHook, { id: OUR_HOOK, name: 'okta-token-watch', change: 'deactivated', ours: true });
      assert.equal(ours.history, null, 'token history facts do not apply');
      assert.equal(await alertOf(h, 2), null);
      assert.match(suppressedBy(h, 2)!, /another event hook than ours/);
      assert.equal(await alertOf(h, 3), null);
      assert.match(suppressedBy(h, 3)!, /outcome SUCCESS/);
      assert.equal((await alertOf(h, 4))!.eventHook!.change, 'delivery failed');
      assert.equal((await alertOf(h, 5))!.rule.id, 'okta-event-hook-tampered', 'an outcome of the wrong type may still be a failure');
      assert.equal((await alertOf(h, 6))!.rule.id, 'okta-api-token-create');
      assert.equal((await alertOf(h, 6))!.rule.severity, 'medium');
    } finally {
      await h.close();
    }
  });

  test('when no hook id is known, then any hook deactivation alerts (not confirmed as ours) but updates and failed deliveries do not', async () => {
    const h = await startHarness();
    try {
      knowHook(h, null);
      h.fake.persist(
        eventHookEvent(11, ago(h, 30_000), 'event_hook.deleted', OTHER_HOOK),
        eventHookEvent(12, ago(h, 29_000), 'event_hook.updated', OTHER_HOOK),
        eventHookEvent(13, ago(h, 28_000), 'event_hook.delivery', OTHER_HOOK, { outcome: { result: 'FAILURE' } }),
      );
      await h.tick();
      assert.equal((await alertOf(h, 11))!.eventHook!.ours, false);
      assert.equal(await alertOf(h, 12), null);
      assert.equal(await alertOf(h, 13), null);
    } finally {
      await h.close();
    }
  });

  test('when push is neither set up nor registered, then another team\'s hook being deleted does not alert', async () => {
    const h = await startHarness();
    try {
      knowHook(h, null, false);
      h.fake.persist(eventHookEvent(14, ago(h, 30_000), 'event_hook.deleted', OTHER_HOOK));
      await h.tick();
      assert.equal(await alertOf(h, 14), null);
      assert.match(suppressedBy(h, 14) ?? '', /no event hook of ours/);
    } finally {
      await h.close();
    }
  });

  test('when event-hook register stored our hook id, then the daemon\'s own detector watches that hook and not others', async () => {
    const h = await startHarness();
    try {
      await h.app.store.setRegisteredEventHook({ hookId: OUR_HOOK, uri: 'https://hooks.example.com/okta/event-hook' }, h.clock.now());
      h.fake.persist(eventHookEvent(15, ago(h, 30_000), 'event_hook.deactivated', OUR_HOOK), eventHookEvent(16, ago(h, 29_000), 'event_hook.deactivated', OTHER_HOOK));
      await h.tick();
      assert.equal((await alertOf(h, 15))!.eventHook!.ours, true);
      assert.equal(await alertOf(h, 16), null);
    } finally {
      await h.close();
    }
  });

  test('when deliveries to our hook keep failing, then one high alert per hour, not one per failed delivery; a deactivation still alerts at once', async () => {
    const h = await startHarness();
    try {
      await h.app.store.setRegisteredEventHook({ hookId: OUR_HOOK, uri: 'https://hooks.example.com/okta/event-hook' }, h.clock.now());
      const fail = { outcome: { result: 'FAILURE' } };
      h.fake.persist(eventHookEvent(31, ago(h, 30_000), 'event_hook.delivery', OUR_HOOK, fail), eventHookEvent(32, ago(h, 29_000), 'event_hook.delivery', OTHER_HOOK, fail));
      await h.tick();
      assert.equal((await alertOf(h, 31))!.eventHook!.change, 'delivery failed');
      h.clock.advance(20 * 60_000);
      h.fake.persist(eventHookEvent(33, ago(h, 30_000), 'event_hook.delivery', OUR_HOOK, fail), eventHookEvent(34, ago(h, 29_000), 'event_hook.deactivated', OUR_HOOK));
      await h.tick();
      assert.equal(await alertOf(h, 33), null);
      assert.match(suppressedBy(h, 33) ?? '', new RegExp(`already alerted within the hour \\(otw-${uuidFor(31)}\\)`));
      assert.equal((await alertOf(h, 34))!.eventHook!.change, 'deactivated');
      h.clock.advance(61 * 60_000);
      h.fake.persist(eventHookEvent(35, ago(h, 30_000), 'event_hook.delivery', OUR_HOOK, fail));
      await h.tick();
      assert.equal((await alertOf(h, 35))!.eventHook!.change, 'delivery failed', 'an hour later the outage is paged again');
    } finally {
      await h.close();
    }
  });

  test('when ALERT_OUTCOMES and an exception would suppress the actor, then the self-watch alert still fires while the token event is suppressed', async () => {
    const h = await startHarness({ env: { ALERT_OUTCOMES: 'FAILURE' } });
    try {
      knowHook(h, OUR_HOOK);
      h.fake.persist(eventHookEvent(21, ago(h, 30_000), 'event_hook.deactivated', OUR_HOOK), tokenEvent(22, ago(h, 29_000)));
      await h.tick();
      assert.equal((await alertOf(h, 21))!.rule.id, 'okta-event-hook-tampered');
      assert.equal(await alertOf(h, 22), null);
    } finally {
      await h.close();
    }
  });
});

describe('the self-watch alert in every notifier', () => {
  test('when it is formatted, then each says who switched which hook off, from where, with the high severity, its MITRE ids and its runbook', async () => {
    const h = await startHarness();
    try {
      knowHook(h, OUR_HOOK);
      h.fake.persist(eventHookEvent(31, ago(h, 30_000), 'event_hook.deactivated', OUR_HOOK, { hookName: 'otw <b>hook</b>' }));
      await h.tick();
      const a = (await alertOf(h, 31))!;
      const n = { kind: 'alert' as const, alert: a };

      const slack = formatSlack(n);
      const slackText = JSON.stringify(slack.blocks);
      assert.match(slack.text, /^high: The okta-token-watch event hook was deactivated: /);
      assert.ok(slackText.includes('HIGH: The okta-token-watch event hook was deactivated'));
      assert.ok(slackText.includes('deactivated event hook'));
      assert.ok(slackText.includes('*Event hook*'));
      assert.ok(slackText.includes(a.client.ip!));
      assert.ok(slackText.includes('T1562.008'));
      assert.ok(slackText.includes(EVENT_HOOK_RULE.runbook.response[0]!.slice(0, 40)));
      assert.ok(!/created API token|Token name|Okta API token/.test(slackText), 'no token-creation wording in the hook alert');
      assert.ok(!slackText.includes('<b>'), 'the hook name is escaped');

      const email = formatEmail(n);
      assert.equal(email.subject, `[okta-token-watch] high: The okta-token-watch event hook was deactivated: "otw <b>hook</b>" by ${a.actor.login}`);
      assert.ok(email.text.includes('Event hook: otw <b>hook</b>'));
      assert.ok(email.text.includes(`Event hook id: ${OUR_HOOK}`));
      assert.ok(email.text.includes('Location: Amsterdam, North Holland, Netherlands'));
      assert.ok(email.text.includes('T1562.008'));
      assert.ok(!email.html.includes('<b>hook</b>'));
      assert.ok(email.html.includes('&lt;b&gt;hook&lt;/b&gt;'));

      const line = JSON.parse(formatConsole(n)) as Record<string, unknown>;
      assert.equal(line.severity, 'high');
      assert.equal(line.rule, 'okta-event-hook-tampered');
      assert.deepEqual(line.eventHook, { id: OUR_HOOK, name: 'otw <b>hook</b>', change: 'deactivated', ours: true });

      const hook = JSON.parse(formatWebhook(n)) as { alert: Alert };
      assert.equal(hook.alert.rule.severity, 'high');
      assert.equal(hook.alert.rule.runbook.response[0], EVENT_HOOK_RULE.runbook.response[0]);
    } finally {
      await h.close();
    }
  });
});
