import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Metrics } from '../src/metrics';
import { Store } from '../src/store/store';
import { forEachEngine } from './helpers/engines';
import { storeOrgAlerts } from './helpers/org-alerts';

const NOW = new Date('2026-11-28T10:00:00.000Z');

async function lines(m: Metrics): Promise<Set<string>> {
  return new Set((await m.registry.metrics()).split('\n').filter((l) => l !== '' && !l.startsWith('#')));
}

forEachEngine((engine) =>
  describe(`outbox metrics by org on ${engine.name}`, () => {
    test('when orgs share the outbox, then otw_deliveries, otw_outbox_size and otw_watched_tokens count each org under its own label, and an org this process does not watch under unknown', async () => {
      const store = new Store(await engine.openDb());
      await storeOrgAlerts(store, 'prod', [1, 2], { at: NOW, notifiers: ['slack', 'console'] });
      await storeOrgAlerts(store, 'staging', [10], { at: NOW, notifiers: ['slack', 'console'] });
      await storeOrgAlerts(store, 'elsewhere', [20], { at: NOW, notifiers: ['slack', 'console'] });
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
