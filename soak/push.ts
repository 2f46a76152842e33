/**
 * The soak's Okta Event Hook: every batch the soak persists in the fake's System Log is also pushed
 * to the daemon's receiver, the way Okta delivers (3 s timeout, one retry, duplicates, disorder),
 * while the poller reads the same events. See soak/README.md, "Push".
 */
import fs from 'node:fs';
import net from 'node:net';
import Database from 'better-sqlite3';
import { HookPusher, type AttemptResult, type DeliveryOutcome } from '../src/simulator/hook-pusher';
import { prng } from '../test/helpers/random';

/** A port nobody listens on now: the daemon keeps it across restarts, so the pusher's URL stays valid. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One pushed event and whether the daemon must store it (a token creation) or ignore it. */
export interface PushedEvent {
  uuid: string;
  matching: boolean;
  event: Record<string, unknown>;
}

/** What the push did over the run. */
export interface PushReport {
  /** Okta deliveries (a duplicate is its own delivery); `copies` of them were duplicates. */
  deliveries: number;
  copies: number;
  /** Deliveries sent after a batch persisted later than theirs was already handed to Okta (out of order). */
  reordered: number;
  /** Every attempt's answer: 200, 500, ..., timeout, refused (daemon down), reset (killed mid-request). */
  answers: Record<string, number>;
  /** Deliveries Okta retried (a second attempt), and how those retries ended. */
  retries: number;
  retryAnswers: Record<string, number>;
  /** Retries of a delivery whose first attempt the daemon took but never answered (killed mid-request), by answer. */
  retriedAfterLostAnswer: Record<string, number>;
  /** Deliveries that got no 2xx after the retry: Okta drops them, only the poller can store their events. */
  dropped: number;
  /** Token creations only in dropped deliveries, then stored by the poller (must be > 0: see README). */
  droppedThenPolled: number;
  /** A 2xx answered while an event it carried was not in the database (must be 0). */
  answeredBeforeCommit: number;
  verification: { ok: boolean; result: string } | null;
}

function answerOf(a: AttemptResult): string {
  if (a.status === 'timeout') return 'timeout';
  if (a.status === 'error') return /ECONNREFUSED/.test(a.error) ? 'refused' : /ECONNRESET|socket hang up/.test(a.error) ? 'reset' : 'error';
  return String(a.status);
}

function bump(t: Record<string, number>, k: string): void {
  t[k] = (t[k] ?? 0) + 1;
}

/** Okta pushing the soak's batches, with duplicates and out-of-order deliveries. */
export class SoakPush {
  readonly pusher: HookPusher;
  private readonly rand: () => number;
  private readonly pending = new Set<Promise<void>>();
  private readonly outcomes: Array<{ outcome: DeliveryOutcome; events: PushedEvent[]; copy: boolean }> = [];
  private readonly report: PushReport = {
    deliveries: 0,
    copies: 0,
    reordered: 0,
    answers: {},
    retries: 0,
    retryAnswers: {},
    retriedAfterLostAnswer: {},
    dropped: 0,
    droppedThenPolled: 0,
    answeredBeforeCommit: 0,
    verification: null,
  };
  private sent = 0;
  readonly problems: string[] = [];
  /** Called with one line per finished delivery (the soak writes it to the daemon log). */
  onLine: (line: string) => void = () => undefined;

  constructor(
    readonly url: string,
    secret: string,
    seed: number,
    private readonly dbPath: string,
    private readonly plan = { duplicateRate: 0.2, delayRate: 0.3, maxDelayMs: 4000 },
  ) {
    this.rand = prng(seed);
    const retryRand = prng(seed + 1);
    // Okta's second try comes a little later; long enough, now and then, to reach the restarted daemon.
    this.pusher = new HookPusher({ url, secret, random: this.rand, retryConnectionErrors: true, retryDelayMs: () => Math.round(200 + retryRand() * 4800) });
  }

  /**
   * Pushes one persisted batch: shuffled inside; now and then held back so a later batch overtakes it
   * (out of order); now and then pushed a second time as its own delivery (a duplicate).
   * `now` skips the hold (the soak pushes while the daemon is down and wants the refusal at once).
   */
  push(events: PushedEvent[], now = false): void {
    if (events.length === 0) return;
    const batch = shuffle(events, this.rand);
    const order = this.sent++;
    const delay = !now && this.rand() < this.plan.delayRate ? Math.round(this.rand() * this.plan.maxDelayMs) : 0;
    this.track(batch, delay, false, order);
    if (!now && this.rand() < this.plan.duplicateRate) this.track(shuffle(batch, this.rand), Math.round(this.rand() * this.plan.maxDelayMs * 1.5), true, order);
  }

  private track(events: PushedEvent[], delayMs: number, copy: boolean, order: number): void {
    const p = (async () => {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      if (this.sent > order + 1 && !copy) this.report.reordered++;
      const startedAt = new Date().toISOString();
      const outcome = await this.pusher.deliver(events.map((e) => e.event));
      this.outcomes.push({ outcome, events, copy });
      this.onLine(`[push] ${startedAt} ${copy ? 'duplicate ' : ''}delivery of ${events.length} event(s): ${outcome.attempts.map(answerOf).join(', then ')}`);
      if (outcome.delivered) this.checkStored(events);
    })().finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** A 2xx means "committed": every token creation it carried must already be in the database. */
  private checkStored(events: PushedEvent[]): void {
    if (!fs.existsSync(this.dbPath)) return;
    const db = new Database(this.dbPath, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      const q = db.prepare('SELECT 1 FROM events WHERE uuid = ?');
      const missing = events.filter((e) => e.matching && q.get(e.uuid) === undefined);
      if (missing.length) {
        this.report.answeredBeforeCommit++;
        this.problems.push(`push: a delivery was answered 2xx while ${missing.length} of its token creation(s) were not stored (first: ${missing[0]!.uuid})`);
      }
    } finally {
      db.close();
    }
  }

  /** Okta's verification GET, once the receiver listens. */
  async verify(): Promise<void> {
    const v = await this.pusher.verify();
    this.report.verification = { ok: v.ok, result: answerOf(v.result) };
    if (!v.ok) this.problems.push(`push: the verification GET failed (${answerOf(v.result)})`);
  }

  /** Resolves when every delivery, its delay and its retry have finished. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Batches the receiver committed so far (source_receipts is written in the batch's transaction). */
  static committedBatches(db: Database.Database): number {
    try {
      const r = db.prepare(`SELECT batches FROM source_receipts WHERE source = 'push'`).get() as { batches: number } | undefined;
      return r?.batches ?? 0;
    } catch {
      return 0;
    }
  }

  /** Which source first stored each event: events.source (poll or push), read while no daemon runs. */
  static sources(dbPath: string): Map<string, string> {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      return new Map((db.prepare('SELECT uuid, source FROM events').all() as Array<{ uuid: string; source: string }>).map((x) => [x.uuid, x.source]));
    } finally {
      db.close();
    }
  }

  /** The numbers, given which source first stored each event (events.source at the end of the run). */
  finish(sourceOf: Map<string, string>): PushReport {
    const r = this.report;
    const deliveredUuids = new Set<string>();
    for (const { outcome, events, copy } of this.outcomes) {
      r.deliveries++;
      if (copy) r.copies++;
      outcome.attempts.forEach((a, i) => {
        bump(r.answers, answerOf(a));
        if (i > 0) bump(r.retryAnswers, answerOf(a));
      });
      if (outcome.attempts.length > 1) r.retries++;
      if (outcome.attempts.length > 1 && answerOf(outcome.attempts[0]!) === 'reset') bump(r.retriedAfterLostAnswer, answerOf(outcome.attempts[1]!));
      if (outcome.delivered) for (const e of events) deliveredUuids.add(e.uuid);
      else r.dropped++;
    }
    const droppedOnly = new Set<string>();
    for (const { outcome, events } of this.outcomes) if (!outcome.delivered) for (const e of events) if (e.matching && !deliveredUuids.has(e.uuid)) droppedOnly.add(e.uuid);
    r.droppedThenPolled = [...droppedOnly].filter((u) => sourceOf.get(u) === 'poll').length;
    // Only when push really dropped a token creation does the backstop have something to prove: a
    // run whose pushes all got through in the end (Okta's retries outlasted every outage) says so
    // in its report, and is not a failure.
    const neverStored = [...droppedOnly].filter((u) => !sourceOf.has(u)).length;
    if (neverStored > 0) this.problems.push(`push: ${neverStored} token creation(s) dropped by push were never stored by another path`);
    return r;
  }
}

function shuffle<T>(xs: readonly T[], rand: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
