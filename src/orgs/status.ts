import type { App } from '../app';
import { Leases, type LeaseRow, type ReplicaRow } from '../scale/leases';

/** One org's row of `status`: its checkpoint and its last tick. */
export interface OrgStatusRow {
  org: string;
  url: string | null;
  /** When the org's cursor was last saved; null before its first tick. */
  cursorSavedAt: string | null;
  lastTick: { result: string; startedAt: string; finishedAt: string | null; newAlerts: number; error: string | null } | null;
  lastSuccessAt: string | null;
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
    });
  }
  return { orgs, leases: await Leases.list(app.store.sql), replicas: await Leases.replicas(app.store.sql) };
}
