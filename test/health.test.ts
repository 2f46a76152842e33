import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Daemon } from '../src/daemon';
import { healthOf } from '../src/health';
import { tokenEvent } from './helpers/events';
import { startHarness } from './helpers/harness';
import { Receiver } from './helpers/receiver';

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{') && l.split(' ')[0] === name);
  return line ? Number(line.split(' ').at(-1)) : NaN;
}

describe('health and metrics', () => {
  test('when ticks succeed, fail and recover, then /healthz flips 200 -> 503 -> 200 and /metrics counters move', async () => {
    const h = await startHarness({ env: { HEALTH_PORT: '0', POLL_SCHEDULE: '0 0 1 1 *', OKTA_MAX_RETRIES: '0' } });
    const daemon = new Daemon(h.app);
    try {
      h.fake.persist(tokenEvent(1, new Date(h.clock.now().getTime() - 1000).toISOString()));
      await daemon.start();
      await daemon.followSettled(); // the new token's watch: one follow request after the poll
      await h.app.dispatcher.runOnce(); // joins the delivery pass the tick started
      const port = daemon.healthPort!;
      const ok = await get(port, '/healthz');
      assert.equal(ok.status, 200, ok.body);
      let m = (await get(port, '/metrics')).body;
      assert.equal(metric(m, 'otw_ticks_total{org="default",result="ok"}'), 1);
      assert.equal(metric(m, 'otw_alerts_raised_total{org="default"}'), 1);
      assert.equal(metric(m, 'otw_events_fetched_total{org="default"}'), 1);
      // Two for the poll tick (a page, then the empty page), one for the follow tick of the new token.
      assert.equal(metric(m, 'otw_okta_requests_total{org="default",status="200"}'), 3);
      assert.equal(metric(m, 'otw_deliveries{org="default",notifier="console",status="sent"}'), 1);
      assert.equal(metric(m, 'otw_outbox_size{org="default"}'), 0);
      assert.ok(metric(m, 'otw_okta_rate_limit_remaining{org="default"}') > 0);
      assert.ok(metric(m, 'otw_cursor_age_seconds{org="default"}') >= 0);

      h.fake.failStatus(1, 500);
      await daemon.tick();
      const bad = await get(port, '/healthz');
      assert.equal(bad.status, 503);
      assert.match(bad.body, /the last tick failed: Okta answered HTTP 500/);
      m = (await get(port, '/metrics')).body;
      assert.equal(metric(m, 'otw_ticks_total{org="default",result="failed"}'), 1);
      assert.equal(metric(m, 'otw_okta_requests_total{org="default",status="500"}'), 1);

      await daemon.tick();
      assert.equal((await get(port, '/healthz')).status, 200);
      assert.equal((await get(port, '/nope')).status, 404);
    } finally {
      await daemon.stop();
      await h.close();
    }
  });

  test('when the last success is older than two schedule intervals, then the verdict is unhealthy with the reason', () => {
    const t0 = Date.parse('2026-11-28T12:00:00Z');
    const src = (nowMs: number) => ({
      lastTick: () => ({ ok: true, finishedAt: new Date(t0) }),
      lastSuccessAt: () => new Date(t0),
      intervalMs: () => 300_000,
      startedAt: new Date(t0 - 1000),
      now: () => new Date(nowMs),
    });
    assert.equal(healthOf(src(t0 + 600_000)).healthy, true);
    const stale = healthOf(src(t0 + 600_001));
    assert.equal(stale.healthy, false);
    assert.match(stale.reason, /no successful tick for more than two schedule intervals/);
  });
});

describe('the daemon under a delivery backlog', () => {
  test('when Slack does not answer, then the next tick still polls Okta and stores new events (delivery never holds the tick slot)', { timeout: 20_000 }, async () => {
    const slack = new Receiver();
    slack.defaultAnswer = 'hang';
    await slack.start();
    const h = await startHarness({ env: { POLL_SCHEDULE: '0 0 1 1 *', NOTIFIERS: 'slack', SLACK_WEBHOOK_URL: slack.url('/hook'), NOTIFY_TIMEOUT: '60s' } });
    const daemon = new Daemon(h.app);
    try {
      h.fake.persist(tokenEvent(1, new Date(h.clock.now().getTime() - 1000).toISOString()));
      await daemon.start();
      await slack.waitFor(1); // the alert's send is in flight, and stays so
      const before = h.fake.logRequests().length;
      h.fake.persist(tokenEvent(2, new Date(h.clock.now().getTime() - 500).toISOString()));
      await daemon.tick();
      assert.ok(h.fake.logRequests().length > before, 'the second tick asked Okta');
      assert.equal(daemon.lastResult?.ok, true);
      assert.equal(daemon.lastResult?.newEvents, 1);
      assert.equal(slack.requests.length, 1, 'the first send is still hanging');
      assert.equal(h.logs.lines.filter((l) => l.includes('"message":"tick finished"')).length, 2, 'both poll ticks finished while the send hangs');
      assert.doesNotMatch(h.logs.text, /skipping this slot/);
    } finally {
      await slack.stop(); // the hanging send fails (retryable), so the daemon can stop
      await daemon.stop();
      await h.close();
    }
  });
});
