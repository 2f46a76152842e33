import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { Daemon } from '../src/daemon';
import type { Alert, Notification } from '../src/detect/alert';
import { HOOK_ELIGIBLE_EVENT_TYPES, POLL_FILTER, RULES } from '../src/detect/rules';
import { LIFECYCLE_CHANGE_BY_RULE } from '../src/follow/watch';
import { LIFECYCLE_RULE_IDS, TOKEN_NETWORK_ANYWHERE_RULE, TOKEN_OUTSIDE_RANGE_RULE, TOKEN_REVOKED_RULE } from '../src/detect/rule-token-lifecycle';
import { formatConsole } from '../src/notify/console';
import { formatEmail } from '../src/notify/email';
import { formatSlack } from '../src/notify/slack';
import { formatWebhook } from '../src/notify/webhook';
import { HookPusher } from '../src/simulator/hook-pusher';
import { tokenEvent, uuidFor } from './helpers/events';
import { assertEmailHarmless, assertJsonHarmless, INVISIBLE, slackTexts } from './helpers/harmless';
import { startHarness, type Harness } from './helpers/harness';

const REVOKE = 'system.api_token.revoke';
const UPDATE = 'system.api_token.update';
const OUTSIDE = 'system.api_token.request_outside_allowed_range';
const ENABLE = 'system.api_token.enable';
const SECRET = 'FAKE-event-hook-secret-lifecycle-tests-0123';

/** Okta's system principal, as it appears on a token expiry (written for this project, shaped like Okta's). */
const OKTA_SYSTEM = { id: '0oa1system000000000', type: 'SystemPrincipal', alternateId: 'system@okta.com', displayName: 'Okta System' };

/**
 * A token lifecycle event number n about token `00T...n`: a person (admin n) acting unless `actor`
 * is given; `debugData` replaces the network facts.
 */
function lifecycleEvent(n: number, published: string, type: string, opts: { actor?: unknown; debugData?: unknown; outcome?: unknown; tokenName?: unknown; requestApiTokenId?: unknown } = {}): Record<string, unknown> {
  const base = tokenEvent(n, published);
  return {
    ...base,
    eventType: type,
    legacyEventType: null,
    displayMessage: 'API token lifecycle',
    ...(opts.actor !== undefined ? { actor: opts.actor } : {}),
    outcome: opts.outcome ?? { result: 'SUCCESS', reason: null },
    target: [{ id: `00T${String(n).padStart(17, '0')}`, type: 'Token', alternateId: 'unknown', displayName: opts.tokenName ?? `token-${n}` }],
    transaction: { id: `tx${n}`, type: 'WEB', detail: opts.requestApiTokenId !== undefined ? { requestApiTokenId: opts.requestApiTokenId } : {} },
    debugContext: { debugData: opts.debugData ?? { requestUri: `/api/v1/api-tokens/00T${String(n).padStart(17, '0')}` } },
  };
}

const ago = (h: Harness, ms: number): string => new Date(h.clock.now().getTime() - ms).toISOString();
const alertOf = (h: Harness, n: number): Promise<Alert | null> => h.app.store.getAlert(`otw-${uuidFor(n)}`);
const suppressedBy = (h: Harness, n: number): string | null =>
  (rawDb(h.app.store).prepare('SELECT suppressed_by AS s FROM events WHERE uuid = ?').get(uuidFor(n)) as { s: string | null } | undefined)?.s ?? null;
const sourceOf = (h: Harness, n: number): string | null =>
  (rawDb(h.app.store).prepare('SELECT source FROM events WHERE uuid = ?').get(uuidFor(n)) as { source: string } | undefined)?.source ?? null;

describe('the token lifecycle rules in the rule set', () => {
  test('when the watch engine turns lifecycle alerts into follow-ups, then it knows every lifecycle rule and no other', () => {
    assert.deepEqual(Object.keys(LIFECYCLE_CHANGE_BY_RULE).sort(), [...LIFECYCLE_RULE_IDS].sort());
  });

  test('when the set is read, then the five lifecycle rules follow the others, ANYWHERE before the generic update, and only revoke and outside-range join create as hook-eligible', () => {
    assert.deepEqual(RULES.map((r) => r.id), [
      'okta-api-token-create',
      'okta-event-hook-tampered',
      'okta-api-token-revoked',
      'okta-api-token-network-anywhere',
      'okta-api-token-updated',
      'okta-api-token-outside-allowed-range',
      'okta-api-token-enabled',
    ]);
    assert.deepEqual(LIFECYCLE_RULE_IDS, RULES.slice(2).map((r) => r.id));
    assert.deepEqual(HOOK_ELIGIBLE_EVENT_TYPES, ['system.api_token.create', REVOKE, OUTSIDE]);
    for (const t of [REVOKE, UPDATE, OUTSIDE, ENABLE]) assert.ok(POLL_FILTER.includes(`eventType eq "${t}"`), t);
    assert.equal((POLL_FILTER.match(/system\.api_token\.update/g) ?? []).length, 1, 'two rules on one type: the type once in the filter');
    for (const r of RULES.slice(2)) {
      assert.equal(r.tunable, false, r.id);
      assert.equal(r.summarizable, false, r.id);
      assert.ok(r.mitre.length > 0 && r.runbook.triage.length > 0 && r.runbook.benign.length > 0 && r.runbook.response.length > 0, r.id);
    }
    assert.deepEqual([TOKEN_REVOKED_RULE.severity, TOKEN_NETWORK_ANYWHERE_RULE.severity, TOKEN_OUTSIDE_RANGE_RULE.severity], ['low', 'high', 'high']);
  });
});

describe('each token lifecycle event through a poll of the fake Okta', () => {
  test('when a page holds every lifecycle event type, then each alerts under its own rule with its change, and an update opening the token to ANYWHERE takes the high rule', async () => {
    const h = await startHarness();
    try {
      h.fake.persist(
        lifecycleEvent(1, ago(h, 60_000), REVOKE),
        lifecycleEvent(2, ago(h, 59_000), REVOKE, { actor: OKTA_SYSTEM }),
        lifecycleEvent(3, ago(h, 58_000), UPDATE, { debugData: { networkConnection: 'ANYWHERE' } }),
        // Okta's keys are undocumented: a nested network object as JSON text, lower case.
        lifecycleEvent(4, ago(h, 57_000), UPDATE, { debugData: { network: '{"connection":"anywhere","include":[]}' } }),
        lifecycleEvent(5, ago(h, 56_000), UPDATE, { debugData: { networkConnection: 'ZONE', includedZones: '["nzoOffice"]' } }),
        lifecycleEvent(6, ago(h, 55_000), UPDATE, { debugData: { rateLimitPercentage: '50' } }),
        lifecycleEvent(7, ago(h, 54_000), OUTSIDE, { outcome: { result: 'DENY', reason: 'outside the allowed range' }, requestApiTokenId: `00T${String(7).padStart(17, '0')}` }),
        lifecycleEvent(8, ago(h, 53_000), ENABLE),
        { ...tokenEvent(9, ago(h, 52_000)), eventType: 'system.api_token.somethingelse' },
      );
      const tick = await h.tick();
      assert.equal(tick.ok, true, tick.error);
      assert.equal(tick.events, 8, 'the fake filtered by the union filter: the unknown api_token type stays out');

      const expect: Array<[number, string, string, string, boolean]> = [
        [1, 'okta-api-token-revoked', 'low', 'revoked', false],
        [2, 'okta-api-token-revoked', 'low', 'expired', false],
        [3, 'okta-api-token-network-anywhere', 'high', 'updated', true],
        [4, 'okta-api-token-network-anywhere', 'high', 'updated', true],
        [5, 'okta-api-token-updated', 'low', 'updated', false],
        [6, 'okta-api-token-updated', 'low', 'updated', false],
        [7, 'okta-api-token-outside-allowed-range', 'high', 'outside-range', false],
        [8, 'okta-api-token-enabled', 'medium', 'enabled', false],
      ];
      for (const [n, rule, severity, change, anywhere] of expect) {
        const a = await alertOf(h, n);
        assert.ok(a, `event ${n} alerted`);
        assert.deepEqual([a.rule.id, a.rule.severity, a.lifecycle?.change, a.lifecycle?.networkAnywhere], [rule, severity, change, anywhere], `event ${n}`);
        assert.equal(a.token?.id, `00T${String(n).padStart(17, '0')}`);
        assert.equal(a.history, null, 'token-creation history facts do not apply');
        assert.equal(a.tokenState.status, 'skipped');
      }
      assert.deepEqual((await alertOf(h, 5))!.network, { connection: 'ZONE', includedZones: ['nzoOffice'], excludedZones: [] });
      // What the token did before the change matters: the activity link reaches back over the System Log's 90 days.
      const a1 = (await alertOf(h, 1))!;
      const from = new URL(a1.links.tokenActivity!).searchParams.get('fromTime');
      assert.equal(from, new Date(Date.parse(a1.event.published) - 90 * 86_400_000).toISOString());

      // The console notifier wrote one line per alert, through the outbox.
      const lines = h.stdout.json().filter((l) => l.type === 'okta-token-watch.alert');
      assert.equal(lines.length, 8);
      const l3 = lines.find((l) => l.uuid === uuidFor(3))!;
      assert.deepEqual([l3.rule, l3.severity, l3.lifecycle], ['okta-api-token-network-anywhere', 'high', { change: 'updated', networkAnywhere: true, network: 'ANYWHERE' }]);
    } finally {
      await h.close();
    }
  });

  test('when ALERT_OUTCOMES and an exception cover the actor, then lifecycle alerts still go out while the token creation is suppressed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-lifecycle-'));
    const file = path.join(dir, 'exceptions.yaml');
    fs.writeFileSync(file, 'exceptions:\n  - reason: terraform makes tokens\n    actor: admin3@example.com\n');
    const h = await startHarness({ env: { ALERT_OUTCOMES: 'SUCCESS', EXCEPTIONS_FILE: file } });
    try {
      h.fake.persist(
        tokenEvent(10, ago(h, 60_000)),
        lifecycleEvent(17, ago(h, 59_000), UPDATE, { debugData: { networkConnection: 'ANYWHERE' } }),
        lifecycleEvent(24, ago(h, 58_000), REVOKE, { outcome: { result: 'FAILURE', reason: 'denied' } }),
      );
      await h.tick();
      assert.equal(await alertOf(h, 10), null);
      assert.match(suppressedBy(h, 10) ?? '', /terraform makes tokens/);
      assert.equal((await alertOf(h, 17))!.rule.id, 'okta-api-token-network-anywhere', 'the same actor (admin3): exceptions do not apply');
      assert.equal((await alertOf(h, 24))!.rule.id, 'okta-api-token-revoked', 'a failed revoke alerts although ALERT_OUTCOMES is SUCCESS');
    } finally {
      await h.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('token lifecycle events pushed by an event hook', () => {
  test('when Okta pushes a revoke, a request outside the range, an update and an enable, then the two eligible ones alert by push and the others wait for the poll', async () => {
    const h = await startHarness({ env: { EVENT_HOOK_PORT: '0', EVENT_HOOK_SECRET: SECRET, POLL_SCHEDULE: '0 0 1 1 *' } });
    const daemon = new Daemon(h.app);
    try {
      await daemon.start();
      const pusher = new HookPusher({ url: `http://127.0.0.1:${daemon.hookPort!}/okta/event-hook`, secret: SECRET });
      const now = h.clock.now().toISOString();
      const events = [
        lifecycleEvent(31, now, REVOKE, { actor: OKTA_SYSTEM }),
        lifecycleEvent(32, now, OUTSIDE, { outcome: { result: 'DENY', reason: null } }),
        lifecycleEvent(33, now, UPDATE, { debugData: { networkConnection: 'ANYWHERE' } }),
        lifecycleEvent(34, now, ENABLE),
      ];
      const out = await pusher.deliver(events);
      assert.equal(out.delivered, true, JSON.stringify(out));
      assert.deepEqual([(await alertOf(h, 31))?.lifecycle?.change, sourceOf(h, 31)], ['expired', 'push']);
      assert.deepEqual([(await alertOf(h, 32))?.rule.id, sourceOf(h, 32)], ['okta-api-token-outside-allowed-range', 'push']);
      assert.equal(sourceOf(h, 33), null, 'update is not hook-eligible: push ignores it');
      assert.equal(sourceOf(h, 34), null);

      // The poll reads the same events: the pushed ones are known, the others alert now.
      h.fake.persist(...events);
      const tick = await h.tick();
      assert.equal(tick.ok, true, tick.error);
      assert.deepEqual([(await alertOf(h, 33))?.rule.id, sourceOf(h, 33)], ['okta-api-token-network-anywhere', 'poll']);
      assert.deepEqual([(await alertOf(h, 34))?.rule.id, sourceOf(h, 34)], ['okta-api-token-enabled', 'poll']);
      assert.equal(sourceOf(h, 31), 'push', 'stored once, by push');
      const n = rawDb(h.app.store).prepare("SELECT COUNT(*) AS n FROM alerts WHERE json_extract(payload, '$.rule.id') LIKE 'okta-api-token-%'").get() as { n: number };
      assert.equal(n.n, 4);
    } finally {
      await daemon.stop();
      await h.close();
    }
  });
});

describe('token lifecycle alerts in every notifier', () => {
  /** The alert of one lifecycle event, built through a poll. */
  async function alertFor(event: Record<string, unknown>, n: number): Promise<Alert> {
    const h = await startHarness();
    try {
      h.fake.persist(event);
      const tick = await h.tick();
      assert.equal(tick.ok, true, tick.error);
      const a = await alertOf(h, n);
      assert.ok(a, suppressedBy(h, n) ?? 'no alert');
      return a;
    } finally {
      await h.close();
    }
  }

  // A minute before the harness's fake clock starts: the first tick reads it.
  const published = new Date(new FakeClock().now().getTime() - 60_000).toISOString();

  test('when Okta expired a token, then every notifier says it expired and no person revoked it; a person\'s revoke names the person', async () => {
    const expired = await alertFor(lifecycleEvent(41, published, REVOKE, { actor: OKTA_SYSTEM, tokenName: 'ci-deploy' }), 41);
    const n: Notification = { kind: 'alert', alert: expired };
    const slack = formatSlack(n);
    assert.equal((slack.blocks[0] as { text: { text: string } }).text.text, 'LOW: Okta API token expired (revoked by Okta, not by a person)');
    assert.ok(JSON.stringify(slack.blocks).includes('Okta itself (`system@okta.com`) revoked API token `ci-deploy`: it went unused for its whole expiry window. No person revoked it.'));
    const email = formatEmail(n);
    assert.equal(email.subject, '[okta-token-watch] low: Okta API token expired (revoked by Okta, not by a person): "ci-deploy"');
    assert.ok(email.text.includes('Okta itself (system@okta.com) revoked API token ci-deploy: it went unused for its whole expiry window. No person revoked it.'));
    assert.deepEqual((JSON.parse(formatConsole(n)) as { lifecycle: unknown }).lifecycle, { change: 'expired', networkAnywhere: false, network: null });
    assert.deepEqual((JSON.parse(formatWebhook(n)) as { alert: Alert }).alert.lifecycle, { change: 'expired', networkAnywhere: false });

    // A person whose display name claims to be Okta is still a person: only the login counts.
    const spoof = { id: '00u00000000000000042', type: 'User', alternateId: 'mallory@example.com', displayName: 'system@okta.com' };
    const revoked = await alertFor(lifecycleEvent(42, published, REVOKE, { actor: spoof, tokenName: 'ci-deploy', debugData: { networkConnection: 'ANYWHERE' } }), 42);
    const r: Notification = { kind: 'alert', alert: revoked };
    assert.equal(revoked.lifecycle?.change, 'revoked');
    const rs = formatSlack(r);
    assert.equal((rs.blocks[0] as { text: { text: string } }).text.text, 'LOW: Okta API token revoked');
    assert.ok(JSON.stringify(rs.blocks).includes('`mallory@example.com` revoked API token `ci-deploy` in Okta.'));
    assert.ok(!JSON.stringify(rs.blocks).includes('works from any IP address'), 'a revoked token works from nowhere');
    assert.equal(formatEmail(r).subject, '[okta-token-watch] low: Okta API token revoked: "ci-deploy" by mallory@example.com');
  });

  test('when a token is opened to ANYWHERE, changed to zones, used from outside them or re-enabled, then headline and action line say so with the network condition', async () => {
    const cases: Array<{ n: number; event: Record<string, unknown>; header: string; action: string; subject: RegExp }> = [
      {
        n: 51,
        event: lifecycleEvent(51, published, UPDATE, { tokenName: 'sync', debugData: { networkConnection: 'ANYWHERE' } }),
        header: 'HIGH: Okta API token opened to any network',
        action: '`admin2@example.com` changed API token `sync` to work from any network (network condition `ANYWHERE`).',
        subject: /^\[okta-token-watch\] high: Okta API token opened to any network: "sync" by admin2@example\.com$/,
      },
      {
        n: 52,
        event: lifecycleEvent(52, published, UPDATE, { tokenName: 'sync', debugData: { networkConnection: 'ZONE', includedZones: 'nzoA,nzoB', excludedZones: ['nzoC'] } }),
        header: 'LOW: Okta API token changed',
        action: '`admin3@example.com` changed API token `sync` in Okta (network condition now `ZONE; include: nzoA, nzoB; exclude: nzoC`).',
        subject: /^\[okta-token-watch\] low: Okta API token changed: "sync" by admin3@example\.com$/,
      },
      {
        n: 53,
        event: lifecycleEvent(53, published, OUTSIDE, { tokenName: 'sync', outcome: { result: 'DENY', reason: null } }),
        header: 'HIGH: Okta API token used from outside its allowed network zones',
        action: 'A request made with API token `sync` (acting as `admin4@example.com`) came from `198.51.100.53`, outside the network zones the token is limited to; outcome `DENY`.',
        subject: /^\[okta-token-watch\] high: Okta API token used from outside its allowed network zones: "sync"$/,
      },
      {
        n: 54,
        event: lifecycleEvent(54, published, ENABLE, { tokenName: 'sync', outcome: { result: 'FAILURE', reason: null } }),
        header: 'MEDIUM: Okta API token re-enable attempted',
        action: '`admin5@example.com` tried to re-enable API token `sync` in Okta.',
        subject: /^\[okta-token-watch\] medium: Okta API token re-enable attempted: "sync" by admin5@example\.com$/,
      },
    ];
    for (const c of cases) {
      const a = await alertFor(c.event, c.n);
      const n: Notification = { kind: 'alert', alert: a };
      const slack = formatSlack(n);
      assert.equal((slack.blocks[0] as { text: { text: string } }).text.text, c.header, `${c.n} header`);
      assert.equal((slack.blocks[1] as { text: { text: string } }).text.text, c.action, `${c.n} action line`);
      assert.ok(!/created API token|Created via/.test(JSON.stringify(slack.blocks)), `${c.n}: no token-creation wording`);
      const email = formatEmail(n);
      assert.match(email.subject, c.subject);
      assert.ok(email.text.includes(c.action.replace(/`/g, '')), `${c.n} email action line`);
      assert.ok(email.text.includes(a.rule.runbook.response[0]!), `${c.n} runbook in the email`);
    }
  });

  const HOSTILE = [
    '<!channel> *bold* <https://evil.example|okta.com> `x`',
    '<script>alert(1)</script>&amp;"\'',
    'evil\r\nBcc: victim@example.com\r\nX-Evil: 1',
    'gnp\u202Eexe\u200B\u2066\u0000\u001B[31m\u2028',
    'A'.repeat(5000) + '<!here>',
  ];

  test('when every text a lifecycle event carries is hostile, then Slack, email, webhook and console neutralise it for every rule', async () => {
    const h = await startHarness();
    try {
      const types: Array<[string, Record<string, unknown>]> = [
        [REVOKE, {}],
        [REVOKE, { actor: OKTA_SYSTEM }],
        [UPDATE, { networkConnection: 'ANYWHERE' }],
        [UPDATE, {}],
        [OUTSIDE, {}],
        [ENABLE, {}],
      ];
      let n = 100;
      const built: number[] = [];
      for (const s of HOSTILE) {
        for (const [type, extra] of types) {
          n += 1;
          const actor = 'actor' in extra ? extra.actor : { id: s, type: 'User', alternateId: s, displayName: s };
          const e = lifecycleEvent(n, ago(h, 60_000 - n), type, {
            actor,
            tokenName: s,
            outcome: { result: s, reason: s },
            requestApiTokenId: s,
            debugData: { networkConnection: 'networkConnection' in extra ? extra.networkConnection : s, includedZones: [s], excludedZones: s },
          });
          e.client = { ipAddress: s, zone: s, userAgent: { rawUserAgent: s }, geographicalContext: { city: s, country: s } };
          h.fake.persist(e);
          built.push(n);
        }
      }
      const tick = await h.tick();
      assert.equal(tick.ok, true, tick.error);
      for (const k of built) {
        const a = await alertOf(h, k);
        assert.ok(a?.lifecycle, `event ${k} alerted as a lifecycle alert: ${suppressedBy(h, k)}`);
        const note: Notification = { kind: 'alert', alert: a };
        const label = `${a.rule.id}/${a.lifecycle.change} #${k}`;

        const links = new Set(Object.values(a.links).filter((l): l is string => typeof l === 'string'));
        const slack = formatSlack(note);
        // The helper's own check would take the runbook's "another channel" for event text: the
        // event-text pattern here is this test's hostile strings'.
        for (const { text: t } of slackTexts(slack)) {
          assert.doesNotMatch(t, /[<>]/, `${label}: Slack markup`);
          assert.doesNotMatch(t.replace(/\n/g, ''), INVISIBLE, `${label}: Slack invisible`);
          assert.equal((t.match(/`/g) ?? []).length % 2, 0, `${label}: unbalanced code span`);
          const outside = t.split('`').filter((_, i) => i % 2 === 0).join(' ');
          assert.doesNotMatch(outside, /evil|script|!channel|!here|\*bold|Bcc|gnp|AAAAAAAAAA/, `${label}: event text outside a code span: ${outside.slice(0, 200)}`);
        }
        const header = (slack.blocks[0] as { text: { text: string } }).text.text;
        assert.match(header, /^(LOW|MEDIUM|HIGH): (Attempt to open an )?Okta API token /, `${label}: fixed-word header`);

        assertEmailHarmless(formatEmail(note), label, links);

        const body = formatWebhook(note);
        assertJsonHarmless(body, `${label} webhook`);
        assert.deepEqual((JSON.parse(body) as { alert: Alert }).alert.lifecycle, a.lifecycle);

        const line = formatConsole(note);
        assert.doesNotMatch(line, /[\n\r]/, `${label}: console line break`);
        assert.doesNotMatch(line, INVISIBLE, `${label}: console invisible`);
        assert.equal((JSON.parse(line) as { rule: string }).rule, a.rule.id);
      }
    } finally {
      await h.close();
    }
  });
});
