import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OrgScheduler, TickDeadlineError, type OrgOutcome, type SchedulerTimers } from '../src/scale/scheduler';

/** Timers on a fake clock: `advance` fires what falls due, in order, letting promises run between. */
class FakeTimers implements SchedulerTimers {
  now = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): number {
    const id = ++this.seq;
    this.due.set(id, { at: this.now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }

  /** Resolves after `ms` of fake time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    await flush();
    for (;;) {
      const next = [...this.due.entries()].filter(([, t]) => t.at <= end).sort((x, y) => x[1].at - y[1].at || x[0] - y[0])[0];
      if (!next) break;
      this.due.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
      await flush();
    }
    this.now = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A promise's state without waiting for it. */
function watch<T>(p: Promise<T>): { settled: boolean; value?: T } {
  const w: { settled: boolean; value?: T } = { settled: false };
  void p.then((v) => {
    w.settled = true;
    w.value = v;
  });
  return w;
}

const statuses = (outcomes: OrgOutcome[]): Record<string, string> => Object.fromEntries(outcomes.map((o) => [o.org, o.status]));

const INTERVAL = 60_000;

describe('org scheduler', () => {
  test('when one org hangs forever, then every other org still finishes its tick every slot', async () => {
    const timers = new FakeTimers();
    const scheduler = new OrgScheduler({ concurrency: 2, timers });
    const orgs = ['hung', 'a', 'b', 'c', 'd'];
    const ticks: Record<string, number> = {};
    let hungSignal: AbortSignal | undefined;
    const tick = async (org: string, signal: AbortSignal): Promise<void> => {
      ticks[org] = (ticks[org] ?? 0) + 1;
      if (org === 'hung') {
        hungSignal = signal;
        // Ignores the abort and never settles, like a request stuck without a timeout.
        return new Promise<void>(() => {});
      }
      await timers.sleep(1_000);
    };

    const slot1 = watch(scheduler.runSlot(orgs, tick, { deadlineMs: INTERVAL }));
    await timers.advance(4_000);
    // One place is held by the hung org; the other four went through the other place.
    assert.deepEqual(ticks, { hung: 1, a: 1, b: 1, c: 1, d: 1 });
    assert.equal(slot1.settled, false);
    await timers.advance(INTERVAL - 4_000);
    assert.equal(slot1.settled, true);
    assert.deepEqual(statuses(slot1.value!), { hung: 'timed-out', a: 'ok', b: 'ok', c: 'ok', d: 'ok' });
    assert.ok(hungSignal?.aborted);
    assert.ok(hungSignal.reason instanceof TickDeadlineError);

    for (let slot = 2; slot <= 4; slot++) {
      const next = watch(scheduler.runSlot(orgs, tick, { deadlineMs: INTERVAL }));
      // Its place was freed at the deadline: the others run two at a time again and the slot ends
      // as soon as they are done, long before its deadline.
      await timers.advance(2_000);
      assert.equal(next.settled, true, `slot ${slot} ended without waiting for the hung org`);
      assert.deepEqual(statuses(next.value!), { hung: 'skipped', a: 'ok', b: 'ok', c: 'ok', d: 'ok' });
      await timers.advance(INTERVAL - 2_000);
    }
    assert.deepEqual(ticks, { hung: 1, a: 4, b: 4, c: 4, d: 4 });
    assert.equal(scheduler.isRunning('hung'), true);
    assert.deepEqual(scheduler.countsFor('hung'), { skipped: 3, timedOut: 1 });
  });

  test('when more orgs than ORG_CONCURRENCY are due, then no more than that many ticks run at once and all of them run', async () => {
    const timers = new FakeTimers();
    const scheduler = new OrgScheduler({ concurrency: 3, timers });
    const orgs = Array.from({ length: 10 }, (_, i) => `org-${i}`);
    let active = 0;
    let most = 0;
    const started: string[] = [];
    const tick = async (org: string): Promise<void> => {
      started.push(org);
      active++;
      most = Math.max(most, active);
      // Different lengths, so places free up at different times.
      await timers.sleep(1_000 + (started.length % 3) * 700);
      active--;
    };
    const slot = watch(scheduler.runSlot(orgs, tick, { deadlineMs: INTERVAL }));
    await timers.advance(0);
    assert.equal(active, 3);
    for (let t = 0; t < 20 && !slot.settled; t++) {
      await timers.advance(500);
      assert.ok(active <= 3, `at most 3 at once, saw ${active}`);
    }
    assert.equal(slot.settled, true);
    assert.equal(most, 3);
    assert.deepEqual(started, orgs, 'started in the order given');
    assert.ok(slot.value!.every((o) => o.status === 'ok'));
  });

  test('when an org is still running at the next slot, then that slot skips it instead of queueing it behind itself', async () => {
    const timers = new FakeTimers();
    const scheduler = new OrgScheduler({ concurrency: 4, timers });
    const starts: Array<{ org: string; at: number }> = [];
    const tick = async (org: string): Promise<void> => {
      starts.push({ org, at: timers.now });
      // The slow org ignores the abort and only ends 90 s after it started.
      await timers.sleep(org === 'slow' ? 90_000 : 1_000);
    };
    const slot1 = watch(scheduler.runSlot(['slow', 'fast'], tick, { deadlineMs: INTERVAL }));
    await timers.advance(INTERVAL);
    assert.deepEqual(statuses(slot1.value!), { slow: 'timed-out', fast: 'ok' });

    // Slot 2 at 60 s: slow still runs (until 90 s).
    const slot2 = watch(scheduler.runSlot(['slow', 'fast'], tick, { deadlineMs: INTERVAL }));
    await timers.advance(1_000);
    assert.deepEqual(statuses(slot2.value!), { slow: 'skipped', fast: 'ok' });
    await timers.advance(INTERVAL - 1_000);
    assert.equal(scheduler.isRunning('slow'), false, 'it ended at 90 s');
    // Not started when it ended, nor at slot 2's end: it waits for slot 3.
    assert.deepEqual(starts.filter((s) => s.org === 'slow').map((s) => s.at), [0]);

    const slot3 = watch(scheduler.runSlot(['slow', 'fast'], tick, { deadlineMs: INTERVAL }));
    await timers.advance(0);
    assert.deepEqual(starts.filter((s) => s.org === 'slow').map((s) => s.at), [0, 2 * INTERVAL]);
    await timers.advance(INTERVAL);
    assert.equal(slot3.value![0]!.status, 'timed-out');
    assert.deepEqual(scheduler.countsFor('slow'), { skipped: 1, timedOut: 2 });
  });

  test('when a tick throws or rejects, then it is reported failed and the others run', async () => {
    const timers = new FakeTimers();
    const scheduler = new OrgScheduler({ concurrency: 1, timers });
    const boom = new Error('Okta answered 500');
    const tick = (org: string): Promise<void> => {
      if (org === 'throws') throw boom;
      if (org === 'rejects') return Promise.reject(boom);
      return Promise.resolve();
    };
    const out = await scheduler.runSlot(['throws', 'rejects', 'fine'], tick, { deadlineMs: INTERVAL });
    assert.deepEqual(statuses(out), { throws: 'failed', rejects: 'failed', fine: 'ok' });
    assert.equal((out[0] as { error: unknown }).error, boom);
    assert.deepEqual(scheduler.running(), []);
  });

  test('when the deadline passes before a place frees up, then the waiting orgs are reported missed, not run late', async () => {
    const timers = new FakeTimers();
    const scheduler = new OrgScheduler({ concurrency: 1, timers });
    const started: string[] = [];
    const tick = (org: string): Promise<void> => {
      started.push(org);
      return new Promise<void>(() => {});
    };
    const slot = watch(scheduler.runSlot(['hung', 'waiting'], tick, { deadlineMs: INTERVAL }));
    await timers.advance(INTERVAL);
    assert.deepEqual(statuses(slot.value!), { hung: 'timed-out', waiting: 'missed' });
    await timers.advance(INTERVAL);
    assert.deepEqual(started, ['hung']);
    assert.equal(scheduler.isRunning('waiting'), false);
  });

  test('when the daemon stops during a slot, then running ticks are aborted, queued ones never start, and the slot waits for the running ones', async () => {
    const timers = new FakeTimers();
    const scheduler = new OrgScheduler({ concurrency: 1, timers });
    const stop = new AbortController();
    const started: string[] = [];
    const tick = (org: string, signal: AbortSignal): Promise<void> => {
      started.push(org);
      // Finishes the page in hand, then returns, a little after the abort.
      return new Promise<void>((resolve) => signal.addEventListener('abort', () => void timers.sleep(500).then(resolve)));
    };
    const slot = watch(scheduler.runSlot(['a', 'b'], tick, { deadlineMs: INTERVAL, signal: stop.signal }));
    await timers.advance(1_000);
    stop.abort(new Error('SIGTERM'));
    await timers.advance(0);
    assert.equal(slot.settled, false, 'waits for the page in hand');
    await timers.advance(500);
    assert.deepEqual(statuses(slot.value!), { a: 'ok', b: 'missed' });
    assert.deepEqual(started, ['a']);
  });

  test('when the daemon has already stopped and the slot has no org (a replica that holds no lease), then the slot resolves at once', async () => {
    const timers = new FakeTimers();
    const scheduler = new OrgScheduler({ concurrency: 2, timers });
    const stop = new AbortController();
    stop.abort(new Error('SIGTERM'));
    const slot = watch(scheduler.runSlot([], () => Promise.resolve(), { deadlineMs: INTERVAL, signal: stop.signal }));
    await timers.advance(0);
    assert.equal(slot.settled, true, 'a stop during start-up waited for this slot forever (CI scale soak, seed 662297346)');
    assert.deepEqual(slot.value, []);
    // Nor after the deadline: it must not hang on a timer it never clears either.
    await timers.advance(INTERVAL * 2);
    assert.deepEqual(slot.value, []);
  });
});
