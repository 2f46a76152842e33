import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { tickDepsFor } from '../src/app';
import { Daemon } from '../src/daemon';
import { runTick } from '../src/ingest/poll';
import { tokenEvent } from './helpers/events';
import { ROOT, startHarness } from './helpers/harness';

const RULES = path.join(ROOT, 'deploy', 'prometheus-rules.yaml');
const RULES_TEST = path.join(ROOT, 'deploy', 'prometheus-rules.test.yaml');
/** Labels Prometheus adds to every scraped series; the daemon never writes them. */
const TARGET_LABELS = new Set(['job', 'instance']);
/** Series Prometheus writes itself. */
const SYNTHETIC = new Set(['up']);

/** One sample line of the text exposition format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unreadable /metrics line: ${line}`);
    out.push({ name: m[1]!, labels: parseLabels(m[2] ?? ''), value: Number(m[3]) });
  }
  return out;
}

function parseLabels(s: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const m of s.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
  return labels;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** Runs promtool; a missing promtool fails the test (CI installs Debian's `prometheus` package). */
function promtool(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    assert.fail('promtool is not installed, so deploy/prometheus-rules.yaml cannot be tested: install it (Debian/Ubuntu: apt-get install -y prometheus)');
  }
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The /metrics text of a real daemon that ticked against the fake Okta once, alert delivered. */
async function scrapeRealDaemon(): Promise<{ text: string; samples: Sample[] }> {
  const h = await startHarness({ env: { HEALTH_PORT: '0', POLL_SCHEDULE: '*/5 * * * *' } });
  const daemon = new Daemon(h.app);
  try {
    h.fake.persist(tokenEvent(1, new Date(h.clock.now().getTime() - 1000).toISOString()));
    await daemon.start();
    await h.app.dispatcher.runOnce();
    const res = await fetch(`http://127.0.0.1:${daemon.healthPort!}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    return { text, samples: parseExposition(text) };
  } finally {
    await daemon.stop();
    await h.close();
  }
}

describe('Prometheus rules for the daemon itself', () => {
  test('when the daemon has ticked once, then /metrics has every series and label the rules and their tests use', async () => {
    const { samples } = await scrapeRealDaemon();
    const byName = new Map<string, Sample[]>();
    for (const s of samples) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
    const labelNames = (name: string): Set<string> => new Set((byName.get(name) ?? []).flatMap((s) => Object.keys(s.labels)));

    const rules = parse(fs.readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    const all = rules.groups.flatMap((g) => g.rules);
    assert.ok(all.length >= 7, 'ticks failing, stale, cursor, deliveries, outbox, rate limit, down');
    for (const r of all) {
      const names = [...r.expr.matchAll(/\b(otw_[a-z0-9_]+)/g)].map((m) => m[1]!);
      for (const name of names) assert.ok(byName.has(name), `${r.alert} uses ${name}, which the real /metrics output does not have`);
      // Every matcher's label exists on its metric, and an equality matcher's value really occurs.
      for (const m of r.expr.matchAll(/\b(otw_[a-z0-9_]+)\{([^}]*)\}/g)) {
        for (const [, label, op, v] of m[2]!.matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
          assert.ok(labelNames(m[1]!).has(label!), `${r.alert}: ${m[1]} has no label ${label}`);
          if (op === '=') assert.ok(byName.get(m[1]!)!.some((s) => s.labels[label!] === v), `${r.alert}: no ${m[1]}{${label}="${v}"} in /metrics`);
        }
      }
      for (const m of r.expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
        for (const label of m[1]!.split(',').map((l) => l.trim()).filter((l) => l && !TARGET_LABELS.has(l))) {
          assert.ok(names.some((n) => labelNames(n).has(label)), `${r.alert} groups by ${label}, which none of its series has`);
        }
      }
    }

    // The promtool tests feed series by name and labels: the same names and labels as the real output.
    const tests = parse(fs.readFileSync(RULES_TEST, 'utf8')) as { tests: Array<{ name: string; input_series: Array<{ series: string }> }> };
    for (const t of tests.tests) {
      for (const { series } of t.input_series) {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$/.exec(series);
        assert.ok(m, `${t.name}: unreadable series ${series}`);
        const name = m[1]!;
        if (SYNTHETIC.has(name)) continue;
        assert.ok(byName.has(name), `${t.name}: input series ${name} is not in the real /metrics output`);
        for (const [label, v] of Object.entries(parseLabels(m[2]!))) {
          if (TARGET_LABELS.has(label)) continue;
          assert.ok(labelNames(name).has(label), `${t.name}: ${name} has no label ${label} in /metrics`);
          // Notifier and org names depend on the configuration; other label values are this program's words.
          if (label !== 'notifier' && label !== 'org') assert.ok(byName.get(name)!.some((s) => s.labels[label] === v), `${t.name}: no ${name}{${label}="${v}"} in /metrics`);
        }
      }
    }
  });

  test('when the daemon has ticked once, then the figures the rules divide and compare by are real values', async () => {
    const { samples } = await scrapeRealDaemon();
    // A failed-tick series born at 1 would be invisible to increase(): it exists at 0 from the start.
    assert.equal(value(samples, 'otw_ticks_total', { org: 'default', result: 'failed' }), 0);
    assert.equal(value(samples, 'otw_ticks_total', { org: 'default', result: 'interrupted' }), 0);
    assert.equal(value(samples, 'otw_ticks_total', { org: 'default', result: 'ok' }), 1);
    assert.equal(value(samples, 'otw_poll_interval_seconds'), 300);
    assert.ok(value(samples, 'otw_okta_rate_limit_limit')! > 0, 'the limit of the last System Log response');
    assert.ok(value(samples, 'otw_okta_rate_limit_remaining')! <= value(samples, 'otw_okta_rate_limit_limit')!);
    assert.ok(value(samples, 'otw_last_successful_tick_timestamp_seconds')! > 0);
  });

  test('when the daemon has had no Okta response, then remaining has no sample; when it only got errors, then limit and remaining come from the same error response', async () => {
    const h = await startHarness({ env: { HEALTH_PORT: '0', OKTA_MAX_RETRIES: '0' } });
    try {
      let samples = parseExposition(await h.app.metrics.registry.metrics());
      assert.equal(value(samples, 'otw_okta_rate_limit_remaining'), undefined, 'no sample before the first response (a 0 reads as "used up")');
      assert.equal(value(samples, 'otw_okta_rate_limit_limit'), 0);
      h.fake.failStatus(3, 503);
      for (let i = 0; i < 3; i++) {
        const r = await h.tick();
        assert.equal(r.ok, false);
        h.app.metrics.observeTick('default', r);
      }
      samples = parseExposition(await h.app.metrics.registry.metrics());
      const limit = value(samples, 'otw_okta_rate_limit_limit')!;
      const remaining = value(samples, 'otw_okta_rate_limit_remaining');
      assert.equal(limit, h.fake.limit);
      assert.ok(remaining !== undefined && remaining > limit * 0.1, `remaining ${remaining} of ${limit} after three failed ticks: the error responses' own figure, not 0`);
    } finally {
      await h.close();
    }
  });

  test('when a tick is stopped by a signal during a catch-up, then it counts as interrupted, not failed', async () => {
    const h = await startHarness({ env: { HEALTH_PORT: '0' } });
    try {
      for (let i = 0; i < 1500; i++) h.fake.persist(tokenEvent(i, new Date(h.clock.now().getTime() - 60_000).toISOString()));
      const ac = new AbortController();
      const r = await runTick({ ...tickDepsFor(h.app, ac.signal), clock: h.clock, afterPageCommit: () => ac.abort() });
      assert.equal(r.interrupted, true);
      // What the daemon does with every tick's result.
      h.app.metrics.observeTick('default', r);
      const samples = parseExposition(await h.app.metrics.registry.metrics());
      assert.equal(value(samples, 'otw_ticks_total', { result: 'interrupted' }), 1);
      assert.equal(value(samples, 'otw_ticks_total', { result: 'failed' }), 0);
    } finally {
      await h.close();
    }
  });

  test('when the daemon restarts, then the last successful tick still comes from the database, not from this process', async () => {
    const h = await startHarness({ env: { HEALTH_PORT: '0' } });
    try {
      const r = await h.tick();
      assert.ok(r.ok);
      const finished = (await h.app.store.lastSuccessfulTick())!.finishedAt!;
      h.clock.advance(600_000);
      await h.restart();
      const samples = parseExposition(await h.app.metrics.registry.metrics());
      assert.equal(value(samples, 'otw_last_successful_tick_timestamp_seconds'), Date.parse(finished) / 1000);
    } finally {
      await h.close();
    }
  });

  test('when promtool checks and unit-tests the rules, then both pass', () => {
    const check = promtool(['check', 'rules', RULES]);
    assert.equal(check.status, 0, check.output);
    assert.match(check.output, /SUCCESS: \d+ rules found/);
    const unit = promtool(['test', 'rules', RULES_TEST]);
    assert.equal(unit.status, 0, unit.output);
    assert.match(unit.output, /SUCCESS/);
  });
});
