/**
 * The many-orgs soak's verdicts (soak/scale.ts), as pure functions of what the soak recorded: the fake
 * orgs' request log (which process asked which org when), the kills, and the notifiers' receipts.
 * Kept apart from the run so test/smoke-bench-soak.test.ts can feed them made-up histories.
 */
import type { OrgRequest } from '../src/simulator/okta-orgs';
import type { Receipt } from './receivers';
import type { Duplicate, NotifierVerdict } from './verdict';

/** Two processes that asked one org for its System Log in the same schedule slot. */
export interface Overlap {
  org: string;
  /** Start of the slot (epoch ms). */
  slotStart: string;
  who: string[];
}

/**
 * Slots (of `intervalMs`, aligned on the epoch as POLL_SCHEDULE's cron slots are) in which more than
 * one process read one org's System Log. Every read counts (a poll page, a retry, a follow read):
 * under a lease, one org has one reader at a time. Requests without a label (not from a daemon under
 * test) are ignored. One exception, a handover: a process that was told to stop (SIGTERM, releasing
 * its leases) or killed, whose reads in the slot all came before another process's first, does not
 * overlap with it (`endedAt`: when each process was stopped or killed).
 */
export function overlappingReads(log: readonly OrgRequest[], intervalMs: number, endedAt: ReadonlyMap<string, number> = new Map()): Overlap[] {
  const slots = new Map<string, Map<string, { first: number; last: number }>>();
  for (const r of log) {
    if (!r.systemLog || r.who === null) continue;
    const slot = Math.floor(r.at / intervalMs);
    const key = `${r.org}\u0000${slot}`;
    let s = slots.get(key);
    if (!s) slots.set(key, (s = new Map()));
    const w = s.get(r.who);
    if (!w) s.set(r.who, { first: r.at, last: r.at });
    else {
      w.first = Math.min(w.first, r.at);
      w.last = Math.max(w.last, r.at);
    }
  }
  // a handed over to b: every read of a before b's first, and a stopped or killed by then.
  const handedOver = (a: string, ra: { first: number; last: number }, rb: { first: number }): boolean => {
    const end = endedAt.get(a);
    return ra.last < rb.first && end !== undefined && end <= rb.first;
  };
  const out: Overlap[] = [];
  for (const [key, readers] of slots) {
    if (readers.size < 2) continue;
    const list = [...readers];
    let overlap = false;
    for (let i = 0; i < list.length && !overlap; i++) {
      for (let j = i + 1; j < list.length && !overlap; j++) {
        const [a, ra] = list[i]!;
        const [b, rb] = list[j]!;
        if (!handedOver(a, ra, rb) && !handedOver(b, rb, ra)) overlap = true;
      }
    }
    if (!overlap) continue;
    const [org, slot] = key.split('\u0000') as [string, string];
    out.push({ org, slotStart: new Date(Number(slot) * intervalMs).toISOString(), who: list.map(([w]) => w).sort() });
  }
  return out.sort((a, b) => a.slotStart.localeCompare(b.slotStart) || a.org.localeCompare(b.org));
}

/** The smallest gap between System Log reads of one org by two different processes (for the report). */
export function closestForeignReads(log: readonly OrgRequest[]): { ms: number; org: string; who: [string, string] } | null {
  const last = new Map<string, OrgRequest>();
  let best: { ms: number; org: string; who: [string, string] } | null = null;
  for (const r of [...log].sort((a, b) => a.at - b.at)) {
    if (!r.systemLog || r.who === null) continue;
    const prev = last.get(r.org);
    if (prev && prev.who !== r.who && (best === null || r.at - prev.at < best.ms)) best = { ms: r.at - prev.at, org: r.org, who: [prev.who!, r.who] };
    last.set(r.org, r);
  }
  return best;
}

/** One SIGKILL of a daemon process. */
export interface Kill {
  who: string;
  at: number;
}

/** How long one org, read by a killed process, waited for another process to read it. */
export interface Handover {
  org: string;
  from: string;
  /** Epoch ms of the kill. */
  killedAt: number;
  /** The first process to read the org after the kill, and after how many ms; null: nobody did. */
  to: string | null;
  ms: number | null;
  /** Within the bound (LEASE_TTL + one interval + the tolerance). */
  ok: boolean;
}

/**
 * For each kill, the orgs the killed process was reading (a System Log read within the two intervals
 * before the kill) and how long until another process read each of them. Bound: `ttlMs + intervalMs +
 * toleranceMs` from the kill (the lease was renewed at the kill at the latest, expires TTL later, and
 * the next slot of a live replica takes it). `measurableUntil` is when the run stopped looking (the
 * end of the faults): a kill too close to it is not judged.
 */
export function handovers(
  log: readonly OrgRequest[],
  kills: readonly Kill[],
  o: { ttlMs: number; intervalMs: number; toleranceMs: number; measurableUntil: number },
): { handovers: Handover[]; notMeasured: number } {
  const bound = o.ttlMs + o.intervalMs + o.toleranceMs;
  const reads = log.filter((r) => r.systemLog && r.who !== null).sort((a, b) => a.at - b.at);
  const out: Handover[] = [];
  let notMeasured = 0;
  for (const k of kills) {
    const held = new Set(reads.filter((r) => r.who === k.who && r.at <= k.at && r.at >= k.at - 2 * o.intervalMs).map((r) => r.org));
    for (const org of held) {
      if (k.at + bound > o.measurableUntil) {
        notMeasured++;
        continue;
      }
      const lastOwn = reads.filter((r) => r.org === org && r.who === k.who).at(-1)!.at;
      const next = reads.find((r) => r.org === org && r.who !== k.who && r.at > lastOwn);
      const ms = next ? next.at - k.at : null;
      out.push({ org, from: k.who, killedAt: k.at, to: next?.who ?? null, ms, ok: ms !== null && ms <= bound });
    }
  }
  return { handovers: out, notMeasured };
}

/** A receipt with the daemon process that sent it. */
export type SentBy = Receipt & { who: string };

/** What the judge needs to know of a process. */
export interface ProcessEnd {
  who: string;
  /** How it ended; null while it still runs. */
  end: 'sigkill' | 'sigterm' | 'crashed' | null;
  /** `${alertId}|${notifier}` recorded sent in the database right after its SIGKILL (null: not read). */
  sentAfter: Set<string> | null;
  trigger: string | null;
}

/**
 * Lost and duplicate messages of one notifier when several processes send at once (two replicas): the
 * sender of each receipt is known (a per-process URL path, mail sender or stdout), not guessed from
 * time. A duplicate is explained only when the first copy's sender was SIGKILLed while the delivery
 * was still unrecorded in the database it left; two copies from one process, from a live or gracefully
 * stopped process, or after the row was recorded sent, are not.
 */
export function judgeReplicas(
  notifier: string,
  expectedAlertIds: readonly string[],
  receipts: readonly SentBy[],
  processes: readonly ProcessEnd[],
): { verdict: NotifierVerdict; explained: Duplicate[]; unexplained: Duplicate[] } {
  const byWho = new Map(processes.map((p) => [p.who, p]));
  const expected = new Set(expectedAlertIds);
  const byAlert = new Map<string, SentBy[]>();
  const defects = new Set<string>();
  let summaries = 0;
  const inSummary = new Set<string>();
  for (const r of receipts) {
    if (r.notifier !== notifier) continue;
    for (const d of r.defects) defects.add(d);
    if (r.kind === 'summary') {
      summaries++;
      for (const id of r.alertIds) inSummary.add(id);
      continue;
    }
    if (r.kind !== 'alert') continue;
    for (const id of r.alertIds) byAlert.set(id, [...(byAlert.get(id) ?? []), r]);
  }
  const lost = expectedAlertIds.filter((id) => !byAlert.has(id) && !inSummary.has(id));
  const explained: Duplicate[] = [];
  const unexplained: Duplicate[] = [];
  const gen = (who: string): number => Number(/\d+/.exec(who)?.[0] ?? 0);
  for (const [alertId, rs] of byAlert) {
    const sorted = [...rs].sort((a, b) => a.at - b.at);
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1]!;
      const b = sorted[i]!;
      const first = byWho.get(a.who);
      const why =
        a.who === b.who
          ? 'both copies came from the same process'
          : first?.end !== 'sigkill'
            ? `the process that sent the first copy (${a.who}) was not killed (${first?.end ?? 'still running'})`
            : first.sentAfter === null
              ? `no look at the database right after ${a.who} was killed`
              : first.sentAfter.has(`${alertId}|${notifier}`)
                ? `${a.who} had recorded the delivery as sent before it was killed`
                : undefined;
      const d: Duplicate = {
        notifier,
        alertId,
        first: new Date(a.at).toISOString(),
        second: new Date(b.at).toISOString(),
        genFirst: gen(a.who),
        genSecond: gen(b.who),
        killedBy: first?.trigger ?? null,
      };
      if (why === undefined) explained.push(d);
      else unexplained.push({ ...d, why });
    }
  }
  return {
    verdict: {
      injected: expectedAlertIds.length,
      received: [...byAlert.keys()].filter((id) => expected.has(id)).length,
      lost: lost.length,
      lostAlertIds: lost.slice(0, 20),
      duplicates: explained.length + unexplained.length,
      explained: explained.length,
      unexplained: unexplained.length,
      summaries,
      foreign: [...byAlert.keys()].filter((id) => !expected.has(id)).length,
      defects: [...defects],
    },
    explained,
    unexplained,
  };
}

/** Which process sent a receipt, from the tag its URL path or mail sender carries (`/g12/`, `otw-g12@`). */
export function senderOf(via: string | undefined): string | null {
  const m = /(?:^|[/-])(g\d+)(?:[/@]|$)/.exec(via ?? '');
  return m ? m[1]! : null;
}
