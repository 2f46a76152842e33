import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { createDetector } from '../src/detect/detector';
import { EMPTY_EXCEPTIONS } from '../src/detect/exceptions';
import { ingest } from '../src/ingest/ingest';
import { createLogger } from '../src/logger';
import { Metrics } from '../src/metrics';
import { Store } from '../src/store/store';
import { forEachEngine } from './helpers/engines';
import { tokenEvent } from './helpers/events';

const NOW = new Date('2026-11-28T10:00:00.000Z');
const logger = createLogger({ level: 'error', format: 'json' }, { silent: true });

/** Stores `uuids` token creations of `org` as alerts, each with a delivery per notifier. */
async function alertsOf(store: Store, org: string, first: number, count: number): Promise<void> {
  const clock = new FakeClock(NOW.getTime());
  const url = `https://${org}.okta.com`;
  const detector = createDetector(
    { alertOutcomes: null, exceptions: EMPTY_EXCEPTIONS, exceptionsFile: null, tokenLookup: { mode: 'off', timeoutMs: 1000, maxPerPage: 20 } },
    { orgUrl: url, okta: null, logger, clock, org: { name: org, url } },
  );
  const entries = Array.from({ length: count }, (_, i) => tokenEvent(first + i, NOW.toISOString()));
  await ingest({ store: store.forOrg(org), detector, notifiers: ['slack', 'console'], poll: { maxAlertsPerRun: 100, followWindowMs: 0 }, clock, logger }, { entries, tickId: null, checkpoint: { source: 'push', receivedAt: NOW }, alertsSoFar: 0 });
}

async function lines(m: Metrics): Promise<Set<string>> {
  return new Set((await m.registry.metrics()).split('\n').filter((l) => l !== '' && !l.startsWith('#')));
}

forEachEngine((engine) =>
  describe(`outbox metrics by org on ${engine.name}`, () => {
    test('when orgs share the outbox, then otw_deliveries, otw_outbox_size and otw_watched_tokens count each org under its own label, and an org this process does not watch under unknown', async () => {
      const store = new Store(await engine.openDb());
      await alertsOf(store, 'prod', 1, 2);
      await alertsOf(store, 'staging', 10, 1);
      await alertsOf(store, 'elsewhere', 20, 1);
      // One of prod's Slack deliveries failed for good, one of staging's console deliveries went out.
      await store.sql.run(`UPDATE deliveries SET status = 'failed' WHERE id = (SELECT MIN(d.id) FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.org = 'prod' AND d.notifier = 'slack')`);
      await store.sql.run(`UPDATE deliveries SET status = 'sent' WHERE id IN (SELECT d.id FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.org = 'staging' AND d.notifier = 'console')`);
      const m = new Metrics(store, () => NOW, { orgs: ['prod', 'staging', 'quiet'], storeFor: (org) => store.forOrg(org) });
      const l = await lines(m);
      for (const line of [
        'otw_deliveries{org="prod",notifier="slack",status="failed"} 1',
        'otw_deliveries{org="prod",notifier="slack",status="pending"} 1',
        'otw_deliveries{org="prod",notifier="slack",status="sent"} 0',
        'otw_deliveries{org="prod",notifier="console",status="pending"} 2',
        'otw_deliveries{org="staging",notifier="console",status="sent"} 1',
        'otw_deliveries{org="staging",notifier="slack",status="pending"} 1',
        'otw_deliveries{org="unknown",notifier="slack",status="pending"} 1',
        'otw_outbox_size{org="prod"} 3',
        'otw_outbox_size{org="staging"} 1',
        'otw_outbox_size{org="quiet"} 0',
        'otw_outbox_size{org="unknown"} 2',
        'otw_watched_tokens{org="prod"} 0',
        'otw_watched_tokens{org="quiet"} 0',
      ]) {
        assert.ok(l.has(line), `missing: ${line}\n${[...l].filter((x) => /otw_(deliveries|outbox|watched)/.test(x)).join('\n')}`);
      }
      assert.ok(![...l].some((x) => x.includes('elsewhere')), 'an org of the database that this process does not watch adds no label value');
      assert.ok(![...l].some((x) => /^otw_(deliveries|outbox_size)(\{|\s)/.test(x) && !x.includes('org="')), 'every outbox series names its org');
    });
  }),
);
