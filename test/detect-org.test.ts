import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import type { AlertOrg } from '../src/detect/alert';
import { createDetector } from '../src/detect/detector';
import { parseExceptions } from '../src/detect/exceptions';
import { ingest, summarizeExcess } from '../src/ingest/ingest';
import { createLogger } from '../src/logger';
import { openDatabase } from '../src/store/db';
import { storeOn } from './helpers/raw-db';
import { makeEvent } from './fixtures/events';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-detect-org-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const logger = createLogger({ level: 'error', format: 'json' }, { stream: new Writable({ write: (_c, _e, cb) => cb() }) });
const clock = new FakeClock(Date.parse('2026-11-28T12:00:00.000Z'));
const ORG_URL = 'https://acme.okta.com';
const PROD: AlertOrg = { name: 'prod', url: ORG_URL };

/** Ingests three creations and an unreadable entry (two over the per-tick limit of 2: they go into a summary) and returns the stored JSON. */
async function storedPayloads(file: string, org?: AlertOrg | null): Promise<{ alerts: string[]; summaries: string[]; followups: string[] }> {
  const store = storeOn(openDatabase(path.join(dir, file)));
  const exceptions = parseExceptions('', 'yaml').set!;
  const detector = createDetector(
    { alertOutcomes: null, exceptions, exceptionsFile: null, tokenLookup: { mode: 'off', timeoutMs: 1000, maxPerPage: 20 } },
    { orgUrl: ORG_URL, okta: null, logger, clock, ...(org !== undefined ? { org } : {}) },
  );
  const deps = { store, detector, notifiers: ['console'], poll: { schedule: '*/5 * * * *', lookbackMs: 360_000, maxAlertsPerRun: 2 }, clock, logger };
  await ingest(deps, {
    entries: [makeEvent({}, { n: 701 }), makeEvent({}, { n: 702 }), makeEvent({}, { n: 703 }), { uuid: 'broken-entry', eventType: 'system.api_token.create', actor: 7 }],
    tickId: null,
    checkpoint: { source: 'poll', cursorUrl: `${ORG_URL}/api/v1/logs?after=x`, caughtUpThrough: null },
    alertsSoFar: 0,
    rateLimitRemaining: null,
    requests: 1,
  });
  await summarizeExcess(deps, null);
  // The first token's revocation: a follow-up of its alert (the lifecycle rule), built by the watch engine.
  await ingest(deps, {
    entries: [makeEvent({ eventType: 'system.api_token.revoke', legacyEventType: 'api.token.revoke', published: '2026-11-28T11:59:00.000Z', target: makeEvent({}, { n: 701 }).target }, { n: 704 })],
    tickId: null,
    checkpoint: { source: 'poll', cursorUrl: `${ORG_URL}/api/v1/logs?after=y`, caughtUpThrough: null },
    alertsSoFar: 0,
    rateLimitRemaining: null,
    requests: 1,
  });
  const alerts = (await store.sql.all<{ payload: string }>('SELECT payload FROM alerts ORDER BY id')).map((r) => r.payload);
  const summaries = (await store.sql.all<{ payload: string }>('SELECT payload FROM summaries ORDER BY id')).map((r) => r.payload);
  const followups = (await store.sql.all<{ payload: string }>('SELECT payload FROM followups ORDER BY id')).map((r) => r.payload);
  await store.db.close();
  return { alerts, summaries, followups };
}

describe('the org on what detection builds', () => {
  test('when the detector watches the org prod, then every alert (readable or not), the summary and the follow-up store it', async () => {
    const { alerts, summaries, followups } = await storedPayloads('prod.sqlite', PROD);
    assert.equal(alerts.length, 4);
    assert.ok(alerts.some((p) => (JSON.parse(p) as { unreadable?: unknown }).unreadable), 'the unreadable entry is among them');
    for (const p of alerts) assert.deepEqual((JSON.parse(p) as { org: unknown }).org, PROD);
    assert.equal(summaries.length, 1);
    assert.deepEqual((JSON.parse(summaries[0]!) as { org: unknown }).org, PROD);
    assert.equal(followups.length, 1, 'the revocation is a follow-up of the creation alert');
    assert.deepEqual((JSON.parse(followups[0]!) as { org: unknown }).org, PROD);
  });

  test('when the detector has no org (a single-org install, or org null), then nothing stored has an org field at all', async () => {
    for (const [file, org] of [['none.sqlite', undefined], ['null.sqlite', null]] as const) {
      const { alerts, summaries, followups } = await storedPayloads(file, org);
      assert.equal(alerts.length, 4);
      assert.equal(followups.length, 1);
      for (const p of [...alerts, ...summaries, ...followups]) assert.doesNotMatch(p, /"org"/, `${file}: ${p.slice(0, 80)}`);
    }
  });
});
