import type { App } from '../app';
import type { Alert } from '../detect/alert';
import type { ExceptionStatus } from '../detect/exceptions';
import { Leases, type LeaseRow, type ReplicaRow } from '../scale/leases';
import { followStatus } from '../store/follow-cursors';

/** One org's row of `status`: its checkpoint and its last tick. */
export interface OrgStatusRow {
  org: string;
  url: string | null;
  /** When the org's cursor was last saved; null before its first tick. */
  cursorSavedAt: string | null;
  lastTick: { result: string; startedAt: string; finishedAt: string | null; newAlerts: number; error: string | null } | null;
  lastSuccessAt: string | null;
  /** Its watched tokens and its last follow tick. */
  follow: Awaited<ReturnType<typeof followStatus>>;
  /** Okta's clock against ours at the org's last tick that caught up (ms; null: not measured). */
  oktaClockOffsetMs: number | null;
  /** Its exceptions file's entries (its own EXCEPTIONS_FILE, or the env file's). */
  exceptions: ExceptionStatus[];
}

/** What `status` shows of the orgs and of the replicas sharing the database. */
export interface OrgsStatus {
  orgs: OrgStatusRow[];
  leases: LeaseRow[];
  replicas: ReplicaRow[];
}

/** Each org's checkpoint and last tick (from its own store view), every lease, and the replicas seen. */
export async function orgStatus(app: App): Promise<OrgsStatus> {
  const orgs: OrgStatusRow[] = [];
  for (const rt of app.orgs) {
    const cursor = await rt.store.getCursor();
    const t = await rt.store.lastTick();
    const ok = await rt.store.lastSuccessfulTick();
    orgs.push({
      org: rt.name,
      url: rt.config.okta?.orgUrl ?? app.config.orgs?.find((o) => o.name === rt.name)?.url ?? null,
      cursorSavedAt: cursor?.updatedAt ?? null,
      lastTick: t ? { result: t.result, startedAt: t.startedAt, finishedAt: t.finishedAt ?? null, newAlerts: t.newAlerts, error: t.error ?? null } : null,
      lastSuccessAt: ok?.finishedAt ?? null,
      follow: await followStatus(rt.store),
      oktaClockOffsetMs: await rt.store.oktaClockOffset(),
      exceptions: rt.detector.exceptionsStatus(app.clock.now()),
    });
  }
  return { orgs, leases: await Leases.list(app.store.sql), replicas: await Leases.replicas(app.store.sql) };
}

/**
 * The newest alerts of every org, newest first (a store view is one org's): `status --alerts` with
 * ORGS_FILE. Each with its org, whose store view reads its watch and its response actions.
 */
export async function listAlertsAllOrgs(app: App, limit: number): Promise<Array<{ alert: Alert; summarized: boolean; org: string }>> {
  const rows = await app.store.sql.all<{ payload: string; summaryId: number | null; org: string }>('SELECT payload, summary_id AS "summaryId", org FROM alerts ORDER BY id DESC LIMIT ?', [limit]);
  return rows.map((r) => ({ alert: JSON.parse(r.payload) as Alert, summarized: r.summaryId !== null, org: r.org }));
}

/** The per-org counters of `status` summed over every org (suppressions by reason, first sources, last push). */
export async function acrossOrgs(app: App): Promise<{ suppressedBy: Array<{ reason: string; count: number; last: string }>; eventsBySource: Record<string, number>; lastPushReceivedAt: string | null }> {
  const reasons = new Map<string, { reason: string; count: number; last: string }>();
  const eventsBySource: Record<string, number> = {};
  let lastPush: string | null = null;
  for (const rt of app.orgs) {
    for (const r of await rt.store.suppressedByReason()) {
      const had = reasons.get(r.reason);
      reasons.set(r.reason, had ? { reason: r.reason, count: had.count + r.count, last: had.last > r.last ? had.last : r.last } : { ...r });
    }
    for (const [k, n] of Object.entries(await rt.store.eventsBySource())) eventsBySource[k] = (eventsBySource[k] ?? 0) + n;
    const p = await rt.store.lastPushReceivedAt();
    if (p !== null && (lastPush === null || p > lastPush)) lastPush = p;
  }
  return { suppressedBy: [...reasons.values()].sort((a, b) => b.count - a.count).slice(0, 20), eventsBySource, lastPushReceivedAt: lastPush };
}
