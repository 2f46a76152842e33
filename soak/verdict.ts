/**
 * The soak's verdict per notifier: lost messages, duplicates, and whether each duplicate is
 * explained by a SIGKILL between a send and its record. Pure, so it is unit-tested
 * (test/smoke-bench-soak.test.ts) apart from the run.
 */
import type { Receipt } from './receivers';

/** What the verdict needs to know about one daemon process. */
export interface ProcessRecord {
  g: number;
  spawnedAt: number;
  end: 'sigkill' | 'sigterm' | 'crashed' | null;
  trigger: string | null;
  /** `${alertId}|${notifier}` rows marked sent in the database this process left behind. */
  sentAfter: Set<string> | null;
}

/** A receipt with the process that sent it. */
export type AttributedReceipt = Receipt & { gen: number };

export interface Duplicate {
  notifier: string;
  alertId: string;
  first: string;
  second: string;
  genFirst: number;
  genSecond: number;
  killedBy: string | null;
  /** Why it is not explained; absent when it is. */
  why?: string;
}

export interface NotifierVerdict {
  injected: number;
  received: number;
  lost: number;
  lostAlertIds: string[];
  duplicates: number;
  explained: number;
  unexplained: number;
  summaries: number;
  /** Messages about alert ids that were not injected as token creations. */
  foreign: number;
  defects: string[];
}

/**
 * Which process sent a receipt: the one alive when it was accepted. The soak starts a process only
 * after the previous one exited and the receivers had time to take what it wrote, so the windows
 * [spawnedAt of g, spawnedAt of g+1) do not overlap. Console receipts carry their process already.
 */
export function attribute(r: Receipt & { gen?: number }, processes: ProcessRecord[]): AttributedReceipt {
  if (r.gen !== undefined) return r as AttributedReceipt;
  let gen = 0;
  for (const p of processes) if (p.spawnedAt <= r.at) gen = p.g;
  return { ...r, gen };
}

/**
 * A duplicate (two receipts of one alert by one notifier, in time order) is explained when the
 * first came from a process that was SIGKILLed while the delivery row was still not marked sent in
 * the database it left, and the second from a later process. Anything else (two copies from one
 * process, a copy resent after the row was marked sent, a copy after a graceful stop) is not.
 */
export function judge(
  notifier: string,
  expectedAlertIds: string[],
  receipts: AttributedReceipt[],
  processes: ProcessRecord[],
  /** Judge alert messages (ids `otw-<uuid>`) or follow-up messages (ids `otw-followup-<uuid>`). */
  kind: 'alert' | 'followup' = 'alert',
): { verdict: NotifierVerdict; explained: Duplicate[]; unexplained: Duplicate[] } {
  const byGen = new Map(processes.map((p) => [p.g, p]));
  const expected = new Set(expectedAlertIds);
  const byAlert = new Map<string, AttributedReceipt[]>();
  const inSummary = new Set<string>();
  let summaries = 0;
  const defects = new Set<string>();
  for (const r of receipts) {
    if (r.notifier !== notifier) continue;
    for (const d of r.defects) defects.add(d);
    if (r.kind === 'summary') {
      if (kind !== 'alert') continue;
      summaries++;
      for (const id of r.alertIds) inSummary.add(id);
      continue;
    }
    if (r.kind !== kind) continue;
    for (const id of r.alertIds) byAlert.set(id, [...(byAlert.get(id) ?? []), r]);
  }
  const lost = expectedAlertIds.filter((id) => !byAlert.has(id) && !inSummary.has(id));
  const foreign = [...byAlert.keys()].filter((id) => !expected.has(id)).length;
  const explained: Duplicate[] = [];
  const unexplained: Duplicate[] = [];
  for (const [alertId, rs] of byAlert) {
    rs.sort((a, b) => a.at - b.at);
    for (let i = 1; i < rs.length; i++) {
      const a = rs[i - 1]!;
      const b = rs[i]!;
      const first = byGen.get(a.gen);
      const why =
        b.gen <= a.gen
          ? 'both copies came from the same process'
          : first?.end !== 'sigkill'
            ? `the process that sent the first copy (gen ${a.gen}) was not killed (${first?.end ?? 'unknown'})`
            : first.sentAfter === null
              ? `no snapshot of the database gen ${a.gen} left`
              : first.sentAfter.has(`${alertId}|${notifier}`)
                ? `gen ${a.gen} had recorded the delivery as sent before it was killed`
                : undefined;
      const d: Duplicate = {
        notifier,
        alertId,
        first: new Date(a.at).toISOString(),
        second: new Date(b.at).toISOString(),
        genFirst: a.gen,
        genSecond: b.gen,
        killedBy: first?.trigger ?? null,
      };
      if (why === undefined) explained.push(d);
      else unexplained.push({ ...d, why });
    }
  }
  const duplicates = explained.length + unexplained.length;
  return {
    verdict: {
      injected: expectedAlertIds.length,
      received: [...byAlert.keys()].filter((id) => expected.has(id)).length,
      lost: lost.length,
      lostAlertIds: lost.slice(0, 20),
      duplicates,
      explained: explained.length,
      unexplained: unexplained.length,
      summaries,
      foreign,
      defects: [...defects],
    },
    explained,
    unexplained,
  };
}

/**
 * Follow-ups a notifier received before their alert: a reply must never reach a destination ahead
 * of what it replies to (the outbox holds a follow-up until its alert went out on that notifier).
 */
export function followUpsBeforeAlert(notifier: string, receipts: Receipt[]): Array<{ followUpId: string; alertId: string }> {
  const firstAlert = new Map<string, number>();
  for (const r of receipts) {
    if (r.notifier !== notifier || (r.kind !== 'alert' && r.kind !== 'summary')) continue;
    for (const id of r.alertIds) firstAlert.set(id, Math.min(firstAlert.get(id) ?? Infinity, r.at));
  }
  const early: Array<{ followUpId: string; alertId: string }> = [];
  for (const r of receipts) {
    if (r.notifier !== notifier || r.kind !== 'followup' || !r.parentAlertId) continue;
    const alertAt = firstAlert.get(r.parentAlertId);
    if (alertAt === undefined || alertAt > r.at) early.push({ followUpId: r.alertIds[0] ?? '?', alertId: r.parentAlertId });
  }
  return early;
}
