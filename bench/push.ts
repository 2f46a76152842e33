/**
 * Push latency (Okta Event Hooks) next to poll mode, in-process, against the fake Okta and a
 * loopback fake Slack: the production path of the daemon (`Daemon` with its receiver, the one ingest
 * function, the real dispatcher and the real Slack notifier over HTTP). See bench/README.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createApp } from '../src/app';
import { parseConfig } from '../src/config';
import { Daemon } from '../src/daemon';
import { createLogger } from '../src/logger';
import { HookPusher } from '../src/simulator/hook-pusher';
import { HttpReceiver } from '../soak/receivers';
import { tokenEvent, uuidFor } from '../test/helpers/events';
import { FakeOkta } from '../test/helpers/fake-okta';
import { prng } from '../test/helpers/random';
import { round } from './shared';
import { sleep, until } from '../soak/wait';

/** Targets of issue 11 (loopback). */
export const PUSH_TARGETS = { latencyP50Ms: 100, latencyP99Ms: 500, answerP99Ms: 200 } as const;
/** The default POLL_SCHEDULE's period: every 5 minutes. */
const POLL_PERIOD_MS = 5 * 60_000;
/** Largest burst of token creations in one hook delivery; bursts are 1..BURST_MAX, uniform. */
const BURST_MAX = 5;
const SECRET = 'FAKE-bench-event-hook-secret-0123456789';

/** Sizes of the push scenario. */
export interface PushOptions {
  /** Events pushed in bursts for the latency figures. */
  events: number;
  /** POSTs of 100 events for the hook's answer time. */
  answerPosts: number;
  /** Poll-mode rounds (a burst persisted in the fake, then a tick). */
  pollRounds: number;
  seed: number;
  /** Progress lines. */
  say: (s: string) => void;
}

/** Nearest-rank quantile of sorted numbers. */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function stats(xs: number[]): { n: number; p50: number; p90: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: round(quantile(s, 0.5), 1), p90: round(quantile(s, 0.9), 1), p99: round(quantile(s, 0.99), 1), max: round(s.at(-1) ?? NaN, 1) };
}


/** A daemon wired as in production, on a fresh database, with its own fake Okta and fake Slack. */
async function startDaemon(): Promise<{ fake: FakeOkta; slack: HttpReceiver; daemon: Daemon; url: string; close(): Promise<void> }> {
  const fake = new FakeOkta({ rateLimit: 100_000 });
  const orgUrl = await fake.start();
  const slack = new HttpReceiver('slack');
  await slack.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-bench-push-'));
  const config = parseConfig(
    {
      OKTA_ORG_URL: orgUrl,
      OKTA_API_TOKEN: fake.token,
      DB_PATH: path.join(dir, 'otw.sqlite'),
      NOTIFIERS: 'slack',
      SLACK_WEBHOOK_URL: slack.url,
      EVENT_HOOK_PORT: '0',
      EVENT_HOOK_SECRET: SECRET,
      // The bench runs the ticks itself (Daemon.tick, what the schedule calls), at known moments.
      POLL_SCHEDULE: '0 0 1 1 *',
    },
    { requireOkta: true },
  );
  // Info lines are written synchronously in production too (one per delivery): keep them, to a null sink.
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const app = await createApp(config, { logger: createLogger(config.log, { stream: sink }) });
  const daemon = new Daemon(app);
  await daemon.start();
  return {
    fake,
    slack,
    daemon,
    url: `http://127.0.0.1:${daemon.hookPort}/okta/event-hook`,
    async close() {
      await daemon.stop();
      await app.close();
      await slack.stop();
      await fake.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Alert id of event n, as the Slack message carries it. */
const alertIdOf = (n: number): string => `otw-${uuidFor(n)}`;

/** Runs the push and poll scenarios. */
export async function benchPush(opts: PushOptions): Promise<Record<string, unknown>> {
  const rand = prng(opts.seed * 7919 + 11);
  let next = 50_000_000;

  // 1. The hook's answer time: POSTs of 100 events, one after the other (Okta sends one at a time).
  const answer = await (async () => {
    const d = await startDaemon();
    try {
      const pusher = new HookPusher({ url: d.url, secret: SECRET, orgUrl: 'https://bench.okta.invalid' });
      const times: number[] = [];
      const statuses: Record<string, number> = {};
      const sent: Array<Record<string, unknown>> = [];
      for (let p = 0; p < opts.answerPosts; p++) {
        const events = Array.from({ length: 100 }, () => tokenEvent(next++, new Date().toISOString()));
        d.fake.persist(...events);
        sent.push(...events);
        const t = performance.now();
        const o = await pusher.deliver(events);
        times.push(performance.now() - t);
        for (const a of o.attempts) statuses[String(a.status)] = (statuses[String(a.status)] ?? 0) + 1;
      }
      // The poller reads the same events: nothing new.
      await d.daemon.tick();
      const tick = d.daemon.lastResult;
      return { posts: opts.answerPosts, eventsPerPost: 100, answerMs: stats(times), statuses, poll: { ok: tick?.ok, events: tick?.events, newEvents: tick?.newEvents, newAlerts: tick?.newAlerts } };
    } finally {
      await d.close();
    }
  })();
  opts.say(`    hook answer, ${opts.answerPosts} POSTs of 100 events: p50 ${answer.answerMs.p50} ms, p99 ${answer.answerMs.p99} ms`);

  // 2. Push latency: bursts of 1..BURST_MAX token creations, one delivery each, from the fake's POST
  //    to the fake Slack's receipt. After a burst of k the next comes k seconds later (Slack's
  //    sustained rate is one message a second; a faster stream queues by design). One burst in
  //    twenty is delivered a second time, as Okta sometimes does.
  const d = await startDaemon();
  try {
    const pusher = new HookPusher({ url: d.url, secret: SECRET, orgUrl: 'https://bench.okta.invalid' });
    const sentAt = new Map<string, number>();
    const bursts: number[] = [];
    let duplicates = 0;
    const failedDeliveries: string[] = [];
    const startedAt = Date.now();
    for (let n = 0; n < opts.events; ) {
      const k = Math.min(opts.events - n, 1 + Math.floor(rand() * BURST_MAX));
      const events = Array.from({ length: k }, () => tokenEvent(next++, new Date().toISOString()));
      n += k;
      bursts.push(k);
      d.fake.persist(...events);
      const t = Date.now();
      for (const e of events) sentAt.set(`otw-${String(e.uuid)}`, t);
      const o = await pusher.deliver(events);
      if (!o.delivered) failedDeliveries.push(JSON.stringify(o.attempts));
      if (rand() < 0.05) {
        duplicates++;
        await pusher.deliver(events);
      }
      const wait = t + k * 1000 + 50 - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const pushWallS = (Date.now() - startedAt) / 1000;
    const received = (): number => new Set(d.slack.receipts.flatMap((r) => r.alertIds)).size;
    await until(() => received() >= sentAt.size, 30_000, 5);
    const receivedBeforePoll = received();
    const firstAt = new Map<string, number>();
    for (const r of d.slack.receipts) for (const id of r.alertIds) if (!firstAt.has(id)) firstAt.set(id, r.at);
    const latencies = [...sentAt].filter(([id]) => firstAt.has(id)).map(([id, t]) => firstAt.get(id)! - t);
    const messagesBeforePoll = d.slack.receipts.length;

    // 3. The poller reads the same events (all in the fake's log): 0 new alerts, no message more.
    await d.daemon.tick();
    const tick = d.daemon.lastResult;
    await sleep(2000);
    const messages = d.slack.receipts.length;
    const perAlert = new Map<string, number>();
    for (const r of d.slack.receipts) for (const id of r.alertIds) perAlert.set(id, (perAlert.get(id) ?? 0) + 1);
    const sentTwice = [...perAlert.values()].filter((c) => c > 1).length;
    const unexpected = [...perAlert.keys()].filter((id) => !sentAt.has(id)).length;

    // 4. Poll mode on the same daemon: a burst persisted in the fake only, then a tick (what the
    //    schedule runs). Measured: tick start to Slack receipt. The schedule's wait is added after.
    const tickToSlack: number[] = [];
    const tickMs: number[] = [];
    for (let round_ = 0; round_ < opts.pollRounds; round_++) {
      const k = 1 + Math.floor(rand() * BURST_MAX);
      const ids: string[] = [];
      for (let i = 0; i < k; i++) {
        ids.push(alertIdOf(next));
        d.fake.persist(tokenEvent(next++, new Date().toISOString()));
      }
      const before = d.slack.receipts.length;
      const t = Date.now();
      await d.daemon.tick();
      tickMs.push(Date.now() - t);
      await until(() => d.slack.receipts.length - before >= k, 30_000, 5);
      for (const r of d.slack.receipts.slice(before)) if (r.alertIds.some((id) => ids.includes(id))) tickToSlack.push(r.at - t);
      await sleep(k * 1000 + 50);
    }
    // An event is published at a uniformly random moment of the 5-minute period: it waits U(0, 5 min)
    // for the next slot, then a tick-to-Slack time as measured. Quantiles of that sum, over an even
    // grid of waits paired with every measured time (deterministic, no sampling noise).
    const pollSums: number[] = [];
    for (const l of tickToSlack) for (let i = 0; i < 1000; i++) pollSums.push(((i + 0.5) / 1000) * POLL_PERIOD_MS + l);

    return {
      answer,
      latency: {
        events: sentAt.size,
        bursts: bursts.length,
        burstSizes: `1..${BURST_MAX}, uniform`,
        duplicateDeliveries: duplicates,
        failedDeliveries: failedDeliveries.length,
        wallS: round(pushWallS, 1),
        receivedBeforePoll,
        messagesBeforePoll,
        missing: sentAt.size - latencies.length,
        postToSlackMs: stats(latencies),
      },
      pollAfterPush: { ok: tick?.ok, events: tick?.events, newEvents: tick?.newEvents, newAlerts: tick?.newAlerts, slackMessagesAfter: messages - messagesBeforePoll },
      slack: { messages, uniqueEvents: sentAt.size, sentTwice, unexpected },
      pollMode: {
        rounds: opts.pollRounds,
        tickMs: stats(tickMs),
        tickToSlackMs: stats(tickToSlack),
        scheduleMs: POLL_PERIOD_MS,
        computedPublishedToSlackS: (() => {
          const s = stats(pollSums);
          return { p50: round(s.p50 / 1000, 1), p99: round(s.p99 / 1000, 1), note: 'U(0, 5 min) wait for the next slot + measured tick-to-Slack; Okta\'s own System Log delay not included' };
        })(),
      },
    };
  } finally {
    await d.close();
  }
}
