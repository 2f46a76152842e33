import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import type { Alert } from '../src/detect/alert';
import { computeHistory, HISTORY_COUNT_CAP } from '../src/detect/history';
import { historyLines } from '../src/notify/facts';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { makeEvent } from './fixtures/events';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-history-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function freshStore(name: string): Store {
  return storeOn(openDatabase(path.join(dir, `${name}.sqlite`)));
}

/** An event by `login` (id derived from it), at `published`, from `country` / `asn`. */
function ev(n: number, login: string, published: string, extra: { country?: string | undefined; asn?: number | undefined; eventType?: string } = {}) {
  return makeEvent(
    {
      published,
      ...(extra.eventType ? { eventType: extra.eventType } : {}),
      actor: { id: `00u${login.replace(/[^a-z]/g, '')}`, alternateId: login },
      client: { geographicalContext: { country: 'country' in extra ? extra.country : 'Netherlands' } },
      securityContext: { asNumber: 'asn' in extra ? extra.asn : 64500 },
    },
    { n },
  );
}

describe('history facts over a seeded database', () => {
  const clock = new FakeClock(Date.parse('2026-09-01T00:00:00.000Z'));
  let store: Store;
  before(async () => {
    store = freshStore('seeded');
    const seed = [
      ev(1, 'dana@example.com', '2026-08-15T10:00:00.000Z'), // > 90 days before the subject: not counted
      ev(2, 'dana@example.com', '2026-09-10T10:00:00.000Z'),
      ev(3, 'dana@example.com', '2026-11-20T10:00:00.000Z', { country: 'Netherlands', asn: 64500 }),
      ev(4, 'dana@example.com', '2026-11-28T11:30:00.000Z'), // same hour
      ev(5, 'lee@example.com', '2026-11-28T12:30:00.000Z', { country: 'Brazil', asn: 64999 }), // other actor, same hour
      ev(6, 'lee@example.com', '2026-11-28T13:00:00.001Z'), // just outside +1h
      ev(7, 'dana@example.com', '2026-11-28T13:00:00.000Z', { eventType: 'user.session.start' }), // not a token creation
      ev(8, 'dana@example.com', '2026-12-01T00:00:00.000Z', { country: 'Brazil', asn: 64999 }), // after the subject
    ];
    for (const e of seed) {
      await store.insertEvent(e, 'poll', clock.now(), null);
      clock.advance(60_000);
    }
  });

  test('when the subject event is stored, then the facts exclude it and count only the 90 days before it', async () => {
    const subject = ev(100, 'dana@example.com', '2026-11-28T12:00:00.000Z', { country: 'Brazil', asn: 64999 });
    await store.insertEvent(subject, 'poll', clock.now(), null);
    const h = await computeHistory(store, subject);
    assert.deepEqual(h, {
      actorTokensLast90d: 3, // events 2, 3, 4 (not 1: too old; not 7: other type; not 8: later; not itself)
      firstFromCountry: true, // Brazil only seen for dana after this event
      firstFromAsn: true,
      burstSameHour: 2, // events 4 and 5 (6 is just outside, 7 is another type)
      since: '2026-09-01T00:00:00.000Z',
    });
  });

  test('when the actor has been seen from the country and ASN before, then the first-seen facts are false', async () => {
    const subject = ev(101, 'dana@example.com', '2026-11-28T12:05:00.000Z', { country: 'Netherlands', asn: 64500 });
    await store.insertEvent(subject, 'poll', clock.now(), null);
    const h = (await computeHistory(store, subject))!;
    assert.equal(h.firstFromCountry, false);
    assert.equal(h.firstFromAsn, false);
  });

  test('when the country or ASN is unknown, then the first-seen fact is null rather than a guess', async () => {
    const subject = ev(102, 'dana@example.com', '2026-11-28T12:06:00.000Z', { country: undefined, asn: undefined });
    await store.insertEvent(subject, 'poll', clock.now(), null);
    const h = (await computeHistory(store, subject))!;
    assert.equal(h.firstFromCountry, null);
    assert.equal(h.firstFromAsn, null);
  });

  test('when the actor has no id, then the facts use the login case-insensitively', async () => {
    const subject = makeEvent({ published: '2026-11-28T12:07:00.000Z', actor: { id: null, alternateId: 'Dana@Example.com' } }, { n: 103 });
    await store.insertEvent(subject, 'poll', clock.now(), null);
    const h = (await computeHistory(store, subject))!;
    assert.ok(h.actorTokensLast90d >= 3, `expected the login's earlier events, got ${h.actorTokensLast90d}`);
  });

  test('when the published time is unreadable, then there are no history facts', async () => {
    assert.equal(await computeHistory(store, makeEvent({ published: 'yesterday' })), null);
  });
});

describe('history facts at scale', () => {
  test('when the table holds 100k events, then every query uses an index', async () => {
    const store = freshStore('big');
    const insert = rawDb(store).prepare(
      `INSERT INTO events (uuid, published, event_type, actor_id, actor_login, country, as_number, token_id, token_name, outcome, raw, source, first_seen_at)
       VALUES (?, ?, 'system.api_token.create', ?, ?, ?, ?, ?, 'tok', 'SUCCESS', ?, 'poll', ?)`,
    );
    const raw = JSON.stringify(makeEvent({}, { n: 1 }));
    const start = Date.parse('2026-06-01T00:00:00.000Z');
    rawDb(store).transaction(() => {
      for (let i = 0; i < 100_000; i++) {
        const t = new Date(start + i * 90_000).toISOString();
        insert.run(`u-${i}`, t, `00uactor${i % 500}`, `actor${i % 500}@example.com`, i % 7 ? 'Netherlands' : 'Germany', 64500 + (i % 13), `00T${i}`, raw, t);
      }
    })();
    // Half-way through the seeded range, 45 s off the 90 s grid.
    const subjectAt = new Date(start + 50_000 * 90_000 + 45_000).toISOString();
    const subject = makeEvent({ published: subjectAt, actor: { id: '00uactor42', alternateId: 'actor42@example.com' }, client: { geographicalContext: { country: 'Iceland' } } }, { n: 7 });
    await store.insertEvent(subject, 'poll', new Date(), null);

    const plans = [
      `SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE actor_id = 'x' AND published >= 'a' AND published <= 'b' AND uuid <> 'u' AND event_type = 'e' LIMIT 100)`,
      `SELECT 1 FROM events WHERE actor_login = 'x' COLLATE NOCASE AND published <= 'b' AND uuid <> 'u' AND event_type = 'e' AND country = 'c' LIMIT 1`,
      `SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE published >= 'a' AND published <= 'b' AND uuid <> 'u' AND event_type = 'e' LIMIT 100)`,
      'SELECT MIN(first_seen_at) FROM events',
    ].map((sql) => (rawDb(store).prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join('; '));
    for (const p of plans) assert.match(p, /USING (COVERING )?INDEX|SEARCH/, p);
    assert.ok(!plans.some((p) => /^SCAN events$/m.test(p)), plans.join('\n'));

    const h = await computeHistory(store, subject);
    assert.equal(h!.actorTokensLast90d, 100, 'actor 42 made every 500th event of the 50,000 before the subject');
    assert.equal(h!.firstFromCountry, true);
    assert.equal(h!.burstSameHour, 80, '40 events either side, 90 s apart');
    await store.close();
  });

  test('when a burst holds more than HISTORY_COUNT_CAP creations, then the counts stop at the cap and read "100 or more"', async () => {
    const store = freshStore('burst');
    const base = Date.parse('2026-10-01T12:00:00.000Z');
    await store.transaction(async (tx) => {
      for (let i = 0; i < 250; i++) await tx.insertEvent(ev(1000 + i, 'erin@example.com', new Date(base + i * 10_000).toISOString()), 'poll', new Date(), null);
    });
    const subject = ev(2000, 'erin@example.com', new Date(base + 125 * 10_000 + 5_000).toISOString());
    await store.insertEvent(subject, 'poll', new Date(), null);
    const h = (await computeHistory(store, subject))!;
    assert.equal(h.burstSameHour, HISTORY_COUNT_CAP);
    assert.equal(h.actorTokensLast90d, HISTORY_COUNT_CAP);
    const lines = historyLines({ history: h } as Alert, (x) => x);
    assert.ok(lines.includes('This actor created 100 or more other API token(s) in the last 90 days.'), lines.join('\n'));
    assert.ok(lines.includes('100 or more other token creation(s) within an hour of this one.'), lines.join('\n'));
    // Below the cap the exact number is shown.
    assert.ok(historyLines({ history: { ...h, burstSameHour: 99 } } as Alert, (x) => x).includes('99 other token creation(s) within an hour of this one.'));
    await store.close();
  });
});
