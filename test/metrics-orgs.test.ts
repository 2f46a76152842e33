import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { FollowResult } from '../src/ingest/follow';
import type { TickResult } from '../src/ingest/poll';
import { Metrics } from '../src/metrics';
import { openDatabase } from '../src/store/db';
import { storeOn } from './helpers/raw-db';
import { tmpDir } from './helpers/harness';

const dir = tmpDir('otw-metrics-orgs-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const NOW = new Date('2026-11-28T12:00:00.000Z');

function tick(ok: boolean, over: Partial<TickResult> = {}): TickResult {
  return { tickId: 1, ok, interrupted: false, pages: 1, requests: 1, events: 3, newEvents: 3, newAlerts: 2, suppressed: 1, summarized: 0, durationMs: 1500, rateLimitRemaining: 50, cursorFallback: false, ...over };
}

/** Sample lines of the exposition (no comments), for "has exactly this line" checks. */
async function lines(m: Metrics): Promise<Set<string>> {
  return new Set((await m.registry.metrics()).split('\n').filter((l) => l !== '' && !l.startsWith('#')));
}

describe('metrics by org', () => {
  const store = storeOn(openDatabase(path.join(dir, 'metrics.sqlite')));
  after(() => store.db.close());

  test('when the process watches no ORGS_FILE, then every per-org series carries org="default" and exists at 0 from the start', async () => {
    const m = new Metrics(store, () => NOW);
    const l = await lines(m);
    for (const line of [
      'otw_ticks_total{org="default",result="ok"} 0',
      'otw_ticks_total{org="default",result="failed"} 0',
      'otw_ticks_total{org="default",result="interrupted"} 0',
      'otw_events_fetched_total{org="default"} 0',
      'otw_alerts_raised_total{org="default"} 0',
      'otw_alerts_suppressed_total{org="default"} 0',
      'otw_follow_ticks_total{org="default",outcome="idle"} 0',
      'otw_follow_requests_total{org="default"} 0',
      'otw_hook_requests_rejected_total{org="default",reason="unauthorized"} 0',
      'otw_hook_events_total{org="default",result="matched"} 0',
      'otw_last_successful_tick_timestamp_seconds{org="default"} 0',
      'otw_cursor_age_seconds{org="default"} -1',
      'otw_okta_rate_limit_limit{org="default"} 0',
      'otw_hook_last_delivery_timestamp_seconds{org="default"} 0',
      'otw_events_by_source{org="default",source="poll"} 0',
      'otw_outbox_size{org="default"} 0',
      'otw_watched_tokens{org="default"} 0',
    ]) {
      assert.ok(l.has(line), `missing: ${line}`);
    }
  });

  test('when one daemon watches the orgs prod and staging, then each tick, request, rate limit and hook delivery is counted under its own org', async () => {
    const m = new Metrics(store, () => NOW, { orgs: ['prod', 'staging'], storeFor: () => store });
    m.observeTick('prod', tick(false));
    m.observeTick('staging', tick(true));
    m.observeFollowTick('staging', { outcome: 'ok', requests: 4, events: 2, newAlerts: 1 } as FollowResult);
    m.observeOktaResponse('prod', 500);
    m.observeOktaResponse('staging', 200);
    m.watchRateLimit('prod', () => ({ limit: 100, remaining: 5 }));
    m.watchRateLimit('staging', () => ({ limit: 600, remaining: 550 }));
    m.observeHookDelivery('staging', { matched: 2, ignored: 1, lagsSeconds: [1, 2], durationSeconds: 0.05, at: NOW });
    m.observeHookRejected('prod', 'unauthorized');
    const l = await lines(m);
    for (const line of [
      'otw_ticks_total{org="prod",result="failed"} 1',
      'otw_ticks_total{org="prod",result="ok"} 0',
      'otw_ticks_total{org="staging",result="ok"} 1',
      'otw_ticks_total{org="staging",result="failed"} 0',
      'otw_events_fetched_total{org="prod"} 3',
      'otw_events_fetched_total{org="staging"} 5',
      'otw_alerts_raised_total{org="staging"} 3',
      'otw_follow_ticks_total{org="staging",outcome="ok"} 1',
      'otw_follow_requests_total{org="staging"} 4',
      'otw_okta_requests_total{org="prod",status="500"} 1',
      'otw_okta_requests_total{org="staging",status="200"} 1',
      'otw_okta_rate_limit_limit{org="prod"} 100',
      'otw_okta_rate_limit_remaining{org="prod"} 5',
      'otw_okta_rate_limit_remaining{org="staging"} 550',
      'otw_hook_events_total{org="staging",result="matched"} 2',
      'otw_hook_event_lag_seconds_count{org="staging"} 2',
      'otw_hook_requests_rejected_total{org="prod",reason="unauthorized"} 1',
      `otw_hook_last_delivery_timestamp_seconds{org="staging"} ${NOW.getTime() / 1000}`,
      'otw_tick_duration_seconds_count{org="prod"} 1',
    ]) {
      assert.ok(l.has(line), `missing: ${line}`);
    }
    assert.ok(![...l].some((x) => x.includes('org="default"')), 'no default org when the orgs are named');
  });

  test('when a caller names an org this process does not watch (a hook request for another path), then it is counted as org="unknown" and adds no series of its own', async () => {
    const m = new Metrics(store, () => NOW, { orgs: ['prod'] });
    for (let i = 0; i < 50; i++) m.observeHookRejected(`attacker-${i}`, 'not_found');
    m.observeOktaResponse('"} 1\nevil{a="', 200);
    const l = await lines(m);
    assert.ok(l.has('otw_hook_requests_rejected_total{org="unknown",reason="not_found"} 50'));
    assert.ok(l.has('otw_okta_requests_total{org="unknown",status="200"} 1'));
    assert.ok(![...l].some((x) => x.includes('attacker') || x.includes('evil')));
  });
});
