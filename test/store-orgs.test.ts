import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, test } from 'node:test';
import { computeHistory } from '../src/detect/history';
import { buildSampleAlert } from '../src/notify/sample-alert';
import { migrate, migrationsDir, openDatabase } from '../src/store/db';
import { followCursor, openWatches, setFollowCursor } from '../src/store/follow-cursors';
import { insertWatch } from '../src/store/watch-store';
import { tokenEvent, uuidFor } from './helpers/events';
import { tmpDir } from './helpers/harness';
import { rawDb, storeOn } from './helpers/raw-db';

const NOW = new Date('2026-11-28T12:00:00.000Z');

describe('one database, many orgs', () => {
  test('when two orgs write their progress, then each reads only its own and the default org is untouched', async () => {
    const store = storeOn(openDatabase(path.join(tmpDir(), 'db.sqlite')));
    const prod = store.forOrg('prod');
    const lab = store.forOrg('lab');
    assert.equal(store.org, 'default');
    assert.equal(prod.org, 'prod');
    await prod.setCursor('https://prod.okta.com/api/v1/logs?after=p', NOW);
    await lab.setCursor('https://lab.okta.com/api/v1/logs?after=l', NOW);
    await prod.transaction(async (tx) => {
      assert.equal(tx.org, 'prod', 'a transaction keeps the org of the store that began it');
      await tx.setCaughtUpThrough(new Date('2026-11-28T11:00:00.000Z'), NOW);
      await tx.recordReceipt('push', NOW, 3);
    });
    await prod.setOktaClockOffset(-1200);
    await lab.setRegisteredEventHook({ hookId: 'who-lab', uri: 'https://lab.example/hook' }, NOW);
    await setFollowCursor(prod, 'g1', 'https://prod.okta.com/api/v1/logs?after=f', NOW);
    const tick = await lab.startTick(NOW, 'poll');
    await lab.finishTick(tick, NOW, 'ok', { requests: 1 });

    assert.equal((await prod.getCursor())?.url, 'https://prod.okta.com/api/v1/logs?after=p');
    assert.equal((await lab.getCursor())?.url, 'https://lab.okta.com/api/v1/logs?after=l');
    assert.equal(await store.getCursor(), null);
    assert.equal(await prod.caughtUpThrough(), '2026-11-28T11:00:00.000Z');
    assert.equal(await lab.caughtUpThrough(), null);
    assert.equal(await prod.oktaClockOffset(), -1200);
    assert.equal((await prod.lastReceipt('push'))?.events, 3);
    assert.equal(await lab.lastReceipt('push'), null);
    assert.equal((await lab.registeredEventHook())?.hookId, 'who-lab');
    assert.equal(await prod.registeredEventHook(), null);
    assert.equal(await followCursor(prod, 'g1'), 'https://prod.okta.com/api/v1/logs?after=f');
    assert.equal(await followCursor(lab, 'g1'), null);
    assert.equal((await lab.lastTick())?.id, tick);
    assert.equal(await prod.lastTick(), null);
    assert.equal(await prod.firstTickStartedAt(), null);
    await lab.clearCursor();
    assert.equal(await lab.getCursor(), null);
    assert.notEqual(await prod.getCursor(), null, 'clearing one org\'s cursor leaves the others');
    await store.close();
  });

  test('when two orgs raise alerts, then alerts, watches, history and summaries are per org; due deliveries and the status totals span every org', async () => {
    const store = storeOn(openDatabase(path.join(tmpDir(), 'db.sqlite')));
    const prod = store.forOrg('prod');
    const lab = store.forOrg('lab');
    const raise = async (s: typeof prod, n: number, defer: boolean): Promise<number> =>
      s.transaction(async (tx) => {
        await tx.insertEvent(tokenEvent(n, NOW.toISOString()) as never, 'poll', NOW, null);
        return tx.insertAlert(buildSampleAlert({ uuid: uuidFor(n), now: NOW }), null, ['webhook'], { deferToSummary: defer, now: NOW });
      });
    const prodAlert = await raise(prod, 1, false);
    await raise(lab, 2, false);
    await raise(lab, 3, true);
    await insertWatch(prod, { tokenId: '00Tprod', alertRowId: prodAlert, tokenName: null, createdPublished: NOW.toISOString(), watchUntil: NOW.toISOString(), now: NOW });

    assert.deepEqual((await prod.listAlerts(10)).map((a) => a.alert.event.uuid), [uuidFor(1)]);
    assert.deepEqual((await lab.listAlerts(10)).map((a) => a.alert.event.uuid), [uuidFor(3), uuidFor(2)]);
    assert.deepEqual((await openWatches(prod)).map((w) => w.tokenId), ['00Tprod']);
    assert.deepEqual(await openWatches(lab), []);
    assert.equal(await prod.excessAwaitingSummary({ actors: 5, tokenNames: 5, alertIds: 5 }), null, 'the deferred alert is lab\'s');
    assert.equal((await lab.excessAwaitingSummary({ actors: 5, tokenNames: 5, alertIds: 5 }))?.count, 1);

    // History facts count the org's own events only: the same actor made a token in each org.
    const later = tokenEvent(4, new Date(NOW.getTime() + 60_000).toISOString());
    await prod.insertEvent(later as never, 'poll', NOW, null);
    assert.equal((await computeHistory(prod, later as never))?.burstSameHour, 1, 'prod\'s one earlier creation');
    assert.equal((await computeHistory(store, later as never))?.burstSameHour, 0, 'the default org has none');

    const due = await store.dueDeliveries(NOW, 10);
    assert.deepEqual(due.map((d) => d.org).sort(), ['lab', 'prod']);
    const totals = await store.status(14);
    assert.equal(totals.alertsRaised, 3);
    assert.equal(totals.deliveries[0]!.pending, 2);
    await store.close();
  });
});

describe('migration 014', () => {
  test('when a database from before orgs is upgraded, then its rows belong to the default org and a pid claim is kept as text', async () => {
    const file = path.join(tmpDir(), 'db.sqlite');
    const db = new Database(file);
    // Migrate through 013 only: the migrations of this program, without 014 and later.
    const dir = migrationsDir();
    const upTo13 = tmpDir();
    for (const f of fs.readdirSync(dir).filter((f) => /^\d{3}_.*\.sql$/.test(f) && Number(f.slice(0, 3)) <= 13)) {
      fs.copyFileSync(path.join(dir, f), path.join(upTo13, f));
    }
    migrate(db, upTo13);
    db.prepare("INSERT INTO cursor (id, next_url, updated_at) VALUES (1, 'https://example.okta.com/api/v1/logs?after=old', ?)").run(NOW.toISOString());
    db.prepare("INSERT INTO poll_progress (id, caught_up_through, updated_at, okta_clock_offset_ms) VALUES (1, ?, ?, 250)").run(NOW.toISOString(), NOW.toISOString());
    db.prepare("INSERT INTO source_receipts (source, last_received_at, batches, events, updated_at) VALUES ('push', ?, 2, 5, ?)").run(NOW.toISOString(), NOW.toISOString());
    db.prepare("INSERT INTO follow_cursors (group_key, next_url, updated_at) VALUES ('g', 'https://example.okta.com/f', ?)").run(NOW.toISOString());
    db.prepare("INSERT INTO registered_event_hook (id, hook_id, uri, registered_at) VALUES (1, 'who1', 'https://x/hook', ?)").run(NOW.toISOString());
    const store13 = storeOn(db);
    // Rows written by the version before: raw SQL, as it wrote them.
    db.prepare(
      `INSERT INTO events (uuid, published, event_type, raw, source, first_seen_at) VALUES (?, ?, 'system.api_token.create', '{}', 'poll', ?)`,
    ).run(uuidFor(1), NOW.toISOString(), NOW.toISOString());
    db.prepare(`INSERT INTO alerts (alert_id, event_uuid, created_at, source, payload) VALUES (?, ?, ?, 'poll', ?)`).run(
      `otw-${uuidFor(1)}`,
      uuidFor(1),
      NOW.toISOString(),
      JSON.stringify(buildSampleAlert({ uuid: uuidFor(1), now: NOW })),
    );
    db.prepare(`INSERT INTO deliveries (alert_id, notifier, status, attempts, created_at, next_attempt_at, claimed_by) VALUES (1, 'webhook', 'pending', 0, ?, ?, ?)`).run(
      NOW.toISOString(),
      NOW.toISOString(),
      process.ppid,
    );
    await store13.close();

    const store = storeOn(openDatabase(file));
    assert.equal((await store.getCursor())?.url, 'https://example.okta.com/api/v1/logs?after=old');
    assert.equal(await store.caughtUpThrough(), NOW.toISOString());
    assert.equal(await store.oktaClockOffset(), 250);
    assert.equal((await store.lastReceipt('push'))?.batches, 2);
    assert.equal(await followCursor(store, 'g'), 'https://example.okta.com/f');
    assert.equal((await store.registeredEventHook())?.hookId, 'who1');
    assert.equal((await store.listAlerts(5)).length, 1);
    assert.equal(await store.forOrg('prod').getCursor(), null);
    const claim = rawDb(store).prepare('SELECT claimed_by AS c, typeof(claimed_by) AS t FROM deliveries').get() as { c: string; t: string };
    assert.deepEqual(claim, { c: String(process.ppid), t: 'text' });
    // The old claim is our parent's (alive, this host): its lease ended, and it still holds the row.
    assert.equal(await store.claimDelivery(1, new Date(NOW.getTime() + 1000), 60_000), false);
    await store.close();
  });
});

describe('delivery claims across hosts', () => {
  async function claimedBy(holder: string): Promise<boolean> {
    const store = storeOn(openDatabase(path.join(tmpDir(), 'db.sqlite')));
    try {
      const alertId = await store.transaction(async (tx) => {
        await tx.insertEvent(tokenEvent(1, NOW.toISOString()) as never, 'poll', NOW, null);
        return tx.insertAlert(buildSampleAlert({ uuid: uuidFor(1), now: NOW }), null, ['webhook'], { deferToSummary: false, now: NOW });
      });
      // A claim whose lease ended a second ago.
      rawDb(store).prepare('UPDATE deliveries SET claimed_by = ?, next_attempt_at = ? WHERE alert_id = ?').run(holder, NOW.toISOString(), alertId);
      const mine = `${os.hostname()}:${process.pid}:0badc0de`;
      const got = await store.claimDelivery(1, new Date(NOW.getTime() + 1000), 60_000, mine);
      if (got) assert.equal((rawDb(store).prepare('SELECT claimed_by AS c FROM deliveries').get() as { c: string }).c, mine);
      return got;
    } finally {
      await store.close();
    }
  }

  test('when the claimer is a live process on this host, then its ended lease is still respected', async () => {
    assert.equal(await claimedBy(`${os.hostname()}:${process.ppid}:12345678`), false);
  });

  test('when the claimer is on another host, then its claim expires with its lease and the row is taken over', async () => {
    assert.equal(await claimedBy(`not-${os.hostname()}:${process.ppid}:12345678`), true);
  });

  test('when the claimer on this host is gone, or was an earlier process with our pid, then the row is taken over', async () => {
    assert.equal(await claimedBy(`${os.hostname()}:${2 ** 22 + 12345}:12345678`), true);
    assert.equal(await claimedBy(`${os.hostname()}:${process.pid}:feedface`), true);
  });
});
