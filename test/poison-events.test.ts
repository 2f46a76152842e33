import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import { describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import type { Alert } from '../src/detect/alert';
import { createDetector } from '../src/detect/detector';
import { EMPTY_EXCEPTIONS } from '../src/detect/exceptions';
import { createLogger } from '../src/logger';
import { formatConsole } from '../src/notify/console';
import { formatEmail } from '../src/notify/email';
import { formatSlack } from '../src/notify/slack';
import { formatWebhook } from '../src/notify/webhook';
import { tokenEvent, uuidFor } from './helpers/events';
import { startHarness, type Harness } from './helpers/harness';

const iso = (h: Harness, offsetMs = 0): string => new Date(h.clock.now().getTime() + offsetMs).toISOString();

function alertLines(h: Harness): Array<Record<string, unknown>> {
  return h.stdout.json().filter((l) => l.type === 'okta-token-watch.alert');
}

function alertCount(h: Harness): number {
  return (rawDb(h.app.store).prepare('SELECT COUNT(*) AS n FROM alerts').get() as { n: number }).n;
}

/** An event whose fields have every JSON type but the one Okta documents. */
function badlyTyped(n: number, published: string): Record<string, unknown> {
  return tokenEvent(n, published, {
    displayMessage: 'x'.repeat(1_000_000),
    actor: { id: ['00u', 1], type: 'User', alternateId: true, displayName: { first: 'Mallory' } },
    outcome: { result: { nested: 'SUCCESS' }, reason: 42 },
    target: [{ id: 12345, type: 'Token', displayName: { evil: '<!channel>' } }],
    client: { ipAddress: null, zone: false, geographicalContext: { country: ['NL'], city: 7 }, userAgent: 'not an object' },
    securityContext: { asNumber: '64496', isProxy: 'maybe', isp: { a: 1 } },
    transaction: { detail: { requestApiTokenId: [] } },
    debugContext: { debugData: { requestUri: 404, networkConnection: { a: [1, 2] } } },
  });
}

describe('events this program cannot read (poison events)', () => {
  test('when a page holds badly typed and unreadable entries between good ones, then every one alerts once, the cursor moves and later pages are read', async () => {
    const h = await startHarness();
    try {
      const noUuid = { ...tokenEvent(3, iso(h, -800)), uuid: undefined };
      const objectUuid = { ...tokenEvent(4, iso(h, -700)), uuid: { $oid: 'not a uuid' } };
      const numberPublished = { ...tokenEvent(5, iso(h, -650)), published: 1764331092345 };
      h.fake.persist(tokenEvent(1, iso(h, -1000)), badlyTyped(2, iso(h, -900)), noUuid, objectUuid, numberPublished, tokenEvent(6, iso(h, -600)));

      const r1 = await h.tick();
      assert.equal(r1.ok, true, r1.error);
      assert.equal(r1.newAlerts, 6);
      const lines = alertLines(h);
      assert.deepEqual(
        lines.filter((l) => l.unreadable === undefined).map((l) => l.uuid),
        [uuidFor(1), uuidFor(2), uuidFor(6)],
        'the good events and the badly typed one alert normally',
      );
      const unreadable = lines.filter((l) => typeof l.unreadable === 'string');
      assert.equal(unreadable.length, 3);
      assert.ok(unreadable.some((l) => l.uuid === uuidFor(5) && /no published time/.test(String(l.unreadable))), 'an event with a usable uuid keeps it');
      assert.equal(unreadable.filter((l) => String(l.uuid).startsWith('unreadable-')).length, 2, 'entries without a usable uuid are keyed by their content');

      // The badly typed event: every field read with the alert builder's rules, nothing thrown.
      const bad = (await h.app.store.getAlert(`otw-${uuidFor(2)}`))!;
      assert.equal(bad.actor.login, 'true');
      assert.equal(bad.actor.id, null);
      assert.equal(bad.actor.displayName, null);
      assert.deepEqual(bad.token, { id: '12345', name: null });
      assert.equal(bad.outcome.result, 'UNKNOWN');
      assert.ok((bad.event.displayMessage ?? '').length <= 1000);
      const row = rawDb(h.app.store).prepare('SELECT actor_login AS login, as_number AS asn, country, length(raw) AS rawLength FROM events WHERE uuid = ?').get(uuidFor(2)) as Record<string, unknown>;
      assert.deepEqual({ login: row.login, asn: row.asn, country: row.country }, { login: 'true', asn: 64496, country: null });
      assert.ok(Number(row.rawLength) <= 256 * 1024 + 100, 'the stored raw JSON is bounded');

      const cursor = await h.app.store.getCursor();
      assert.ok(cursor, 'the cursor moved past the page');

      h.clock.advance(300_000);
      h.fake.persist(tokenEvent(7, iso(h, -1000)));
      const r2 = await h.tick();
      assert.equal(r2.ok, true, r2.error);
      assert.equal(r2.newAlerts, 1);
      assert.equal(alertLines(h).at(-1)!.uuid, uuidFor(7));

      // Reading the same entries again (a lost cursor: the look-back overlaps) alerts nothing twice.
      await h.app.store.clearCursor();
      const r3 = await h.tick();
      assert.equal(r3.ok, true, r3.error);
      assert.equal(r3.newAlerts, 0);
      assert.equal(alertCount(h), 7);
    } finally {
      await h.close();
    }
  });

  test('when storing one event of a page fails, then that event alone is rolled back, kept with its raw JSON and alerted as unreadable with its uuid', async () => {
    const h = await startHarness();
    try {
      // A real SQLite failure for one event's alert row (a trigger), as a disk or schema problem
      // limited to one row would give: not a mock of this program's code.
      h.app.store.db.exec(
        `CREATE TRIGGER poison_one BEFORE INSERT ON alerts
           WHEN NEW.event_uuid = '${uuidFor(2)}' AND json_extract(NEW.payload, '$.unreadable') IS NULL
           BEGIN SELECT RAISE(ABORT, 'simulated failure for one event'); END`,
      );
      h.fake.persist(tokenEvent(1, iso(h, -1000)), tokenEvent(2, iso(h, -900), { displayMessage: 'keep me' }), tokenEvent(3, iso(h, -800)));
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal(r.newAlerts, 3);
      const a2 = (await h.app.store.getAlert(`otw-${uuidFor(2)}`))!;
      assert.match(a2.unreadable?.reason ?? '', /storing or alerting it failed .*simulated failure/);
      assert.equal(a2.unreadable?.keyFromContent, false);
      assert.equal(a2.actor.login, 'admin2@example.com', 'what can be salvaged is shown');
      const raw = rawDb(h.app.store).prepare('SELECT raw FROM events WHERE uuid = ?').get(uuidFor(2)) as { raw: string };
      assert.equal((JSON.parse(raw.raw) as { displayMessage: string }).displayMessage, 'keep me');
      assert.equal((await h.app.store.getAlert(`otw-${uuidFor(3)}`))?.unreadable, undefined, 'the events after it are processed normally');
      assert.match(h.logs.text, /could not be read; it is stored and alerted as unreadable/);
    } finally {
      await h.close();
    }
  });

  test('when the database itself cannot be written, then the page fails as a whole and nothing is recorded as unreadable', async () => {
    const h = await startHarness();
    try {
      h.fake.persist(tokenEvent(1, iso(h, -1000)));
      assert.equal((await h.tick()).ok, true);
      const cursor = await h.app.store.getCursor();
      const db = rawDb(h.app.store);
      db.pragma('wal_checkpoint(TRUNCATE)');
      // The file may not grow: every insert of the next page fails with SQLITE_FULL.
      db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
      h.clock.advance(300_000);
      for (let n = 2; n <= 40; n++) h.fake.persist(tokenEvent(n, iso(h, -1000), { displayMessage: 'y'.repeat(20_000) }));
      const r = await h.tick();
      assert.equal(r.ok, false);
      assert.match(r.error ?? '', /full/i);
      assert.equal(alertCount(h), 1, 'no event of the failed page was recorded, unreadable or not');
      assert.deepEqual(await h.app.store.getCursor(), cursor, 'the checkpoint stays where it was');

      db.pragma('max_page_count = 1073741823');
      h.clock.advance(300_000);
      const again = await h.tick();
      assert.equal(again.ok, true, again.error);
      assert.equal(again.newAlerts, 39);
      assert.equal(alertLines(h).filter((l) => l.unreadable !== undefined).length, 0);
    } finally {
      await h.close();
    }
  });
});

describe('rendering an unreadable-event alert', () => {
  test('when the raw event carries mentions, markup, escapes and bidi characters, then every notifier shows it inert', () => {
    const detector = createDetector(
      { alertOutcomes: null, exceptions: EMPTY_EXCEPTIONS, exceptionsFile: null, tokenLookup: { mode: 'off', timeoutMs: 1000, maxPerPage: 20 } },
      { orgUrl: 'https://acme.okta.com', okta: null, logger: createLogger({ level: 'error', format: 'json' }, { silent: true }), clock: new FakeClock() },
    );
    const hostile = '<!channel> @here ```</pre><script>alert(1)</script> \u001b]8;;https://evil.example\u0007link\u001b]8;;\u0007 \u202egnp.exe\r\nBcc: x@evil.example';
    const entry = { uuid: 'a1b2c3d4-0000-4000-8000-000000000001', published: { when: 'now' }, eventType: 'system.api_token.create', actor: { alternateId: hostile }, target: [{ type: 'Token', displayName: hostile }] };
    const alert = detector.buildUnreadableAlert(entry, entry.uuid, 'the event has no published time as text', { source: 'poll', now: new Date('2026-11-28T12:00:00Z') });
    assert.equal(alert.id, `otw-${entry.uuid}`);
    assert.ok(alert.unreadable!.raw.length <= 2100);
    const n = { kind: 'alert' as const, alert };

    const slack = formatSlack(n);
    assert.equal((slack.blocks[0] as { text: { text: string } }).text.text, 'MEDIUM: An Okta event this program could not read');
    const texts: string[] = [];
    const collect = (v: unknown): void => {
      if (typeof v === 'string') texts.push(v);
      else if (v !== null && typeof v === 'object') Object.values(v).forEach(collect);
    };
    collect(slack);
    for (const t of texts) assert.doesNotMatch(t, /<!channel>|<\/pre>|[\u0000-\u0009\u000b-\u001f\u202e]|```/);
    assert.ok(texts.some((t) => t.includes('&lt;!channel&gt;')));

    const mail = formatEmail(n);
    assert.match(mail.subject, /^\[okta-token-watch\] medium: an okta event this program could not read \(a1b2c3d4-/);
    assert.doesNotMatch(mail.subject, /[\r\n]/);
    assert.doesNotMatch(mail.html, /<script>|<\/pre><script|\u001b|\u202e/);
    assert.match(mail.html, /&lt;script&gt;/);
    assert.doesNotMatch(mail.text, /[\u001b\u202e]/);

    const line = formatConsole(n);
    assert.doesNotMatch(line, /[\u0000-\u001f\u202e]/);
    assert.equal((JSON.parse(line) as { unreadable: string }).unreadable, 'the event has no published time as text');

    const body = formatWebhook(n);
    assert.doesNotMatch(body, /[<>\u001b\u202e]/);
    const parsed = JSON.parse(body) as { alert: Alert };
    assert.equal(parsed.alert.unreadable?.reason, 'the event has no published time as text');
    assert.equal(parsed.alert.actor.login, hostile, 'the webhook carries the exact text, escaped only on the wire');
  });
});
