import { followDepsFor, tickDepsFor, type App } from '../app';
import { summarizeExcess } from '../ingest/ingest';
import { runFollowTick } from '../ingest/follow';
import { runTick } from '../ingest/poll';
import { redact } from '../logger';
import { Leases } from '../scale/leases';
import { replicaId } from '../scale/replica';
import { fencedStore, type OrgRuntime } from './runtime';

/** How one org's part of a one-shot `poll` ended. */
export interface OrgPollOutcome {
  org: string;
  status: 'ok' | 'failed' | 'skipped';
  /** Why it failed, or who holds the lease of a skipped org. */
  detail: string | null;
}

/**
 * `poll` with ORGS_FILE: one tick per org (then its follow tick), each under the org's lease as
 * the daemon takes it, so a one-shot poll never reads an org beside the replica that holds it.
 * Orgs go one after the other: taking the next org's lease hands back the previous one's (the
 * lease list is one org long), and the last is released at the end. An org another live replica
 * holds is skipped and said so: that replica polls it. Ticks carry the org's fenced store, so a
 * lease lost mid-tick rolls back instead of moving the cursor under the new holder.
 */
export async function pollOrgs(app: App, signal: AbortSignal, say: (line: string) => void): Promise<OrgPollOutcome[]> {
  const leases = new Leases(app.store.db, { holder: replicaId(), ttlMs: app.config.scale.leaseTtlMs, logger: app.logger });
  const outcomes: OrgPollOutcome[] = [];
  try {
    for (const rt of app.orgs) {
      if (signal.aborted) break;
      outcomes.push(await pollOne(app, rt, leases, signal));
      const o = outcomes[outcomes.length - 1]!;
      if (o.status === 'skipped') say(`org ${o.org}: skipped: ${o.detail}`);
      else if (o.status === 'failed') say(`org ${o.org}: tick failed: ${o.detail}`);
    }
  } finally {
    await leases.release().catch((err: unknown) => {
      app.logger.warn('the org leases could not be released; other replicas take them over after LEASE_TTL', { error: redact(err instanceof Error ? err.message : String(err)) });
    });
  }
  return outcomes;
}

async function pollOne(app: App, rt: OrgRuntime, leases: Leases, signal: AbortSignal): Promise<OrgPollOutcome> {
  let held: boolean;
  try {
    held = (await leases.acquire([rt.name])).held.includes(rt.name);
  } catch (err) {
    return { org: rt.name, status: 'failed', detail: `its lease could not be taken (database): ${redact(err instanceof Error ? err.message : String(err))}` };
  }
  if (!held) {
    const lease = (await Leases.list(app.store.sql)).find((l) => l.org === rt.name);
    const detail = lease ? `replica ${lease.holder} holds its lease until ${lease.expiresAt} and polls it` : 'another replica holds its lease and polls it';
    rt.logger.warn('org skipped: another replica holds its lease', { holder: lease?.holder ?? null, expiresAt: lease?.expiresAt ?? null });
    return { org: rt.name, status: 'skipped', detail };
  }
  leases.startHeartbeat();
  // What the daemon does when it takes an org over: a previous holder's open ticks are closed
  // (their committed pages kept) and a crash's unsummarized excess alerts get their summary.
  try {
    const abandoned = await rt.store.closeAbandonedTicks(app.clock.now());
    if (abandoned > 0) rt.logger.warn('the previous process stopped during a tick; its committed pages are kept', { ticks: abandoned });
    await summarizeExcess({ store: rt.store, detector: rt.detector, clock: app.clock, logger: rt.logger, notifiers: rt.notifiers.map((n) => n.name) }, null);
  } catch (err) {
    return { org: rt.name, status: 'failed', detail: `the ticks a previous process left open could not be closed (database): ${redact(err instanceof Error ? err.message : String(err))}` };
  }
  const fenced: OrgRuntime = { ...rt, store: fencedStore(rt.store, (tx) => leases.assertHeld(tx, rt.name)) };
  let ok: boolean;
  let error: string | undefined;
  let newAlerts = 0;
  try {
    const result = await runTick(tickDepsFor(app, signal, fenced));
    ok = result.ok;
    error = result.error;
    newAlerts = result.newAlerts;
    app.metrics.observeTick(rt.name, result, app.clock.now());
  } catch (err) {
    ok = false;
    error = redact(err instanceof Error ? err.message : String(err));
  }
  // As in a single-org poll, the follow tick never changes the outcome: its failures are logged
  // and its cursors make the next run resume.
  if (ok && !signal.aborted) {
    await runFollowTick(followDepsFor(app, signal, newAlerts, fenced)).catch((err: unknown) => {
      rt.logger.error('follow tick failed', { error: redact(err instanceof Error ? err.message : String(err)) });
    });
  }
  return ok ? { org: rt.name, status: 'ok', detail: null } : { org: rt.name, status: 'failed', detail: error ?? (signal.aborted ? 'interrupted' : 'unknown error') };
}
