import assert from 'node:assert/strict';
import { rawDb, storeOn } from './helpers/raw-db';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import type { Alert } from '../src/detect/alert';
import { createDetector } from '../src/detect/detector';
import { parseExceptions } from '../src/detect/exceptions';
import { createLogger } from '../src/logger';
import { formatConsole } from '../src/notify/console';
import { formatEmail } from '../src/notify/email';
import { formatSlack } from '../src/notify/slack';
import { formatWebhook } from '../src/notify/webhook';
import { ingest } from '../src/ingest/ingest';
import { openDatabase } from '../src/store/db';
import { Store } from '../src/store/store';
import { makeEvent } from './fixtures/events';
import { prng } from './helpers/random';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-poison-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const logger = createLogger({ level: 'error', format: 'json' }, { stream: new Writable({ write: (_c, _e, cb) => cb() }) });
const clock = new FakeClock(Date.parse('2026-11-28T12:00:00.000Z'));
const ORG = 'https://acme.okta.com';
const USABLE_UUID = /^[\x21-\x7e]{1,200}$/;

/** Every string inside a value. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) strings(x, out);
  return out;
}

function deep(levels: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { d: v };
  return v;
}

/** Values of every JSON type, including the hostile ones. */
function oddValue(rnd: () => number): unknown {
  const pool: Array<() => unknown> = [
    () => true,
    () => false,
    () => 0,
    () => -1.5,
    () => 1e308,
    () => Number.MAX_SAFE_INTEGER + 2,
    () => null,
    () => '',
    () => 'x'.repeat(100_000 + Math.floor(rnd() * 1000)),
    () => '\u0000\u001b[2J\u202e<!channel> `code` </pre><script>alert(1)</script> \uD800',
    () => ({}),
    () => [],
    () => [1, 'a', { b: [null, true] }],
    () => ({ nested: { deeper: { deepest: 'SUCCESS' } } }),
    () => deep(50),
    () => deep(100_000),
    () => Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i])),
  ];
  return pool[Math.floor(rnd() * pool.length)]!();
}

/** Every path (object keys and array indexes) of a value, to depth 4. */
function paths(v: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  if (prefix.length >= 4 || v === null || typeof v !== 'object') return out;
  for (const [k, x] of Object.entries(v)) {
    const p = [...prefix, Array.isArray(v) ? Number(k) : k];
    out.push(p);
    paths(x, p, out);
  }
  return out;
}

function setPath(root: Record<string, unknown>, p: Array<string | number>, value: unknown): void {
  let cur: unknown = root;
  for (const k of p.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  if (cur !== null && typeof cur === 'object') (cur as Record<string | number, unknown>)[p[p.length - 1]!] = value;
}

/**
 * A real fixture event (JSON round-tripped, as the reader gets it) with 1 to 4 fields replaced by
 * odd values; now and then the uuid too, or the whole entry.
 */
function variant(rnd: () => number, n: number): unknown {
  const e = JSON.parse(JSON.stringify(makeEvent({}, { n }))) as Record<string, unknown>;
  const all = paths(e).filter((p) => p[0] !== 'uuid');
  const changes = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < changes; i++) setPath(e, all[Math.floor(rnd() * all.length)]!, oddValue(rnd));
  const r = rnd();
  if (r < 0.05) return [e];
  if (r < 0.08) return rnd() < 0.5 ? n : `just text ${n}`;
  if (r < 0.2) {
    // An unusable uuid: the entry keeps distinct content (its actor id carries n), never deep.
    const odd = [undefined, null, n, { id: n }, '', `has space ${n}`, `${'u'.repeat(300)}${n}`, true][Math.floor(rnd() * 8)];
    const out = JSON.parse(JSON.stringify(makeEvent({}, { n }))) as Record<string, unknown>;
    out.uuid = odd;
    setPath(out, all[Math.floor(rnd() * all.length)]!, n % 3 ? 'x'.repeat(5000) : { n });
    return out;
  }
  return e;
}

describe('ingest against randomly typed events', () => {
  test('when hundreds of randomly typed variants of a real event are committed, then nothing throws, every entry is stored once and every uuid alerts once', async () => {
    const store = storeOn(openDatabase(path.join(dir, 'property.sqlite')));
    const parsed = parseExceptions('exceptions:\n  - reason: pipeline\n    tokenName: "*a*a*a*b"\n', 'yaml');
    const detector = createDetector(
      { alertOutcomes: null, exceptions: parsed.set!, exceptionsFile: null, tokenLookup: { mode: 'off', timeoutMs: 1000, maxPerPage: 20 } },
      { orgUrl: ORG, okta: null, logger, clock },
    );
    const deps = { store, detector, notifiers: ['console', 'slack', 'email', 'webhook'], poll: { schedule: '*/5 * * * *', lookbackMs: 360_000, maxAlertsPerRun: 100_000 }, clock, logger };
    const rnd = prng(4242);
    const pages: unknown[][] = [];
    for (let p = 0; p < 12; p++) pages.push(Array.from({ length: 40 }, (_, i) => variant(rnd, 90_000 + p * 40 + i)));
    // One entry that is nothing at all; entries identical to it would rightly share its key.
    pages[0]!.push(null);
    const entries = pages.flat();
    const opts = { tickId: null, alertsSoFar: 0, rateLimitRemaining: null, requests: 1 };
    const poll = (url: string) => ({ source: 'poll' as const, cursorUrl: url, caughtUpThrough: null });

    let newAlerts = 0;
    for (const [i, page] of pages.entries()) {
      const out = await ingest(deps, { ...opts, entries: page, checkpoint: poll(`${ORG}/api/v1/logs?after=${i}`) });
      newAlerts += out.newAlerts;
    }
    assert.equal((await store.getCursor())?.url, `${ORG}/api/v1/logs?after=${pages.length - 1}`, 'every page committed');

    const usable = entries
      .map((e) => (e !== null && typeof e === 'object' && !Array.isArray(e) ? (e as Record<string, unknown>).uuid : undefined))
      .filter((u): u is string => typeof u === 'string' && USABLE_UUID.test(u));
    const withoutUuid = entries.length - usable.length;
    assert.ok(withoutUuid > 20 && usable.length > 300, `the generator should make both kinds (${usable.length} usable, ${withoutUuid} not)`);
    const count = (sql: string, ...args: unknown[]): number => (rawDb(store).prepare(sql).get(...args) as { n: number }).n;
    for (const u of usable) {
      assert.equal(count('SELECT COUNT(*) AS n FROM events WHERE uuid = ?', u), 1, `event ${u} stored once`);
      const suppressed = count('SELECT COUNT(*) AS n FROM events WHERE uuid = ? AND suppressed_by IS NOT NULL', u);
      assert.equal(count('SELECT COUNT(*) AS n FROM alerts WHERE event_uuid = ?', u), 1 - suppressed, `event ${u} alerted once unless an exception or its type suppressed it`);
    }
    // Entries without a usable uuid: each distinct one stored and alerted once, under a content key.
    const keyed = count(`SELECT COUNT(*) AS n FROM alerts WHERE event_uuid LIKE 'unreadable-%'`);
    assert.equal(keyed, withoutUuid, 'each entry without a usable uuid alerts once (the generator makes them distinct)');
    assert.equal(count('SELECT COUNT(*) AS n FROM alerts'), newAlerts);
    assert.equal(count('SELECT COUNT(*) AS n FROM events WHERE length(raw) > 300000'), 0, 'raw JSON is bounded');

    // The same pages again: dedupe holds for every entry, readable or not.
    for (const page of pages) {
      const out = await ingest(deps, { ...opts, entries: page, checkpoint: poll(`${ORG}/api/v1/logs?after=again`) });
      assert.deepEqual([out.newEvents, out.newAlerts], [0, 0]);
    }

    // Every notifier renders every one of these alerts, and none lets a control character through raw.
    const alerts = (rawDb(store).prepare('SELECT payload FROM alerts').all() as Array<{ payload: string }>).map((r) => JSON.parse(r.payload) as Alert);
    assert.ok(alerts.filter((a) => a.unreadable).length >= withoutUuid);
    for (const alert of alerts) {
      const n = { kind: 'alert' as const, alert };
      for (const t of strings(formatSlack(n))) assert.doesNotMatch(t, /<!channel>|[\u0000-\u0009\u000b-\u001f\u202e]/, alert.id);
      const mail = formatEmail(n);
      assert.doesNotMatch(mail.html, /<script>|<\/pre><script/, alert.id);
      assert.doesNotMatch(mail.subject, /[\r\n]/);
      const line = formatConsole(n);
      assert.doesNotMatch(line, /[\u0000-\u001f\u202e]/, alert.id);
      assert.equal((JSON.parse(formatWebhook(n)) as { id: string }).id, alert.id);
    }
    await store.close();
  });
});
