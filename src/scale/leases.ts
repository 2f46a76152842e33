import { createHash } from 'node:crypto';
import os from 'node:os';
import type { Logger } from '../logger';
import type { SqlConn, SqlDb } from '../store/sql';

/** Thrown by the fence when another replica holds the org's lease: the transaction must roll back. */
export class LeaseLostError extends Error {
  constructor(
    readonly org: string,
    /** Who holds it now; null when nobody does (it was released or handed back). */
    readonly holder: string | null,
  ) {
    super(holder ? `the lease on org ${org} is now held by ${holder}` : `this replica no longer holds the lease on org ${org}`);
    this.name = 'LeaseLostError';
  }
}

/** What one `acquire` did. */
export interface AcquireResult {
  /** The orgs this replica holds now, in the order given to `acquire`. */
  held: string[];
  /** Orgs newly taken (free, expired, or released by their holder). */
  taken: string[];
  /** Orgs handed back: above this replica's fair share, or no longer in its list. */
  released: string[];
  /** Orgs this replica thought it held but another replica has taken. */
  lost: string[];
  /** Replicas seen within the TTL, this one included. */
  live: number;
  /** The most orgs this replica holds: ceil(orgs / live). */
  share: number;
}

/** A lease as `status` shows it. */
export interface LeaseRow {
  org: string;
  holder: string;
  /** When this holder took it (kept across renewals). */
  since: string;
  renewedAt: string;
  expiresAt: string;
}

/** A replica as `status` shows it. */
export interface ReplicaRow {
  holder: string;
  host: string | null;
  pid: number | null;
  startedAt: string | null;
  seenAt: string | null;
}

/** Options of {@link Leases}. */
export interface LeaseOptions {
  /** This replica's name (`replicaId()`). */
  holder: string;
  /** LEASE_TTL: how long a lease lasts without renewal. */
  ttlMs: number;
  logger?: Logger;
  /**
   * A monotonic clock in milliseconds (default `performance.now`). Only used to stop trusting this
   * replica's own view of its leases when it has not renewed them for a TTL; expiry itself is
   * decided by the database's clock.
   */
  monotonicMs?: () => number;
}

// Replica rows not seen for this long are deleted: long enough for `status` to show a replica that
// died recently, short enough that restarts (each a new id) do not pile up.
const FORGET_REPLICA_MS = 24 * 3_600_000;

/**
 * Leases on orgs, shared by every replica on one database, so that each org is polled by exactly
 * one replica at a time.
 *
 * `acquire(orgs)` runs once per tick: it renews this replica's leases, hands back those above its
 * fair share, and takes free or expired orgs up to that share. A heartbeat timer (every TTL/3)
 * renews held leases between ticks without taking new ones. A replica that dies stops renewing;
 * its leases expire after the TTL and the others take them at their next tick. Each transition is
 * one statement that only succeeds when the lease is free, expired or already this replica's, so
 * two replicas racing for one org never both win. Times come from `db.now()`, the database's
 * clock, so replicas whose clocks disagree still agree on expiry.
 *
 * The lease alone cannot stop a replica that stalled past its TTL from finishing a write it had
 * started, so writes that move an org's checkpoint call `assertHeld(tx, org)` inside their
 * transaction: a fence that fails when another replica has taken the org.
 */
export class Leases {
  readonly holder: string;
  readonly ttlMs: number;
  private readonly logger: Logger | undefined;
  private readonly monotonicMs: () => number;
  private readonly mine = new Set<string>();
  /** Monotonic time until which `mine` may be trusted without a renewal. */
  private trustedUntil = -Infinity;
  private startedAt: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private beating = false;
  private released = false;
  /** acquire, heartbeat and release run one at a time: each rewrites `mine`. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: SqlDb,
    opts: LeaseOptions,
  ) {
    if (!(opts.ttlMs > 0)) throw new Error('Leases: ttlMs must be positive');
    this.holder = opts.holder;
    this.ttlMs = opts.ttlMs;
    this.logger = opts.logger;
    this.monotonicMs = opts.monotonicMs ?? (() => performance.now());
  }

  /**
   * Once per tick: renews, hands back, takes. `orgs` are the orgs this replica would poll (all of
   * the configuration's, normally); a lease it holds on an org not in the list is handed back.
   * `busy` are orgs whose tick this replica is still running: they are never handed back in this
   * call (even above the fair share), because the replica taking one would read the org while this
   * one still does; they go at a later call, once their tick has ended.
   */
  acquire(orgs: readonly string[], opts: { busy?: ReadonlySet<string> } = {}): Promise<AcquireResult> {
    return this.serial(() => this.acquireNow([...new Set(orgs)], opts.busy ?? new Set()));
  }

  /** Renews the held leases and this replica's liveness, without taking new orgs. Returns what is still held. */
  heartbeat(): Promise<string[]> {
    return this.serial(async () => {
      if (this.released) return [];
      const t0 = this.monotonicMs();
      const now = await this.db.now();
      await this.seen(now);
      const lost = new Set(this.mine);
      for (const org of await this.renewAll(now)) lost.delete(org);
      for (const org of lost) this.mine.delete(org);
      this.trustedUntil = t0 + this.ttlMs;
      if (lost.size > 0) this.logger?.warn('leases lost to another replica', { orgs: [...lost] });
      return [...this.mine];
    });
  }

  /** Records that this replica is alive, before its first `acquire` (claims it makes meanwhile count as a live replica's). */
  register(): Promise<void> {
    return this.serial(async () => {
      if (this.released) return;
      await this.seen(await this.db.now());
    });
  }

  /** Starts the heartbeat timer (every TTL/3). It does not keep the process alive. */
  startHeartbeat(): void {
    if (this.timer || this.released) return;
    this.timer = setInterval(() => {
      // A heartbeat slower than the period (a locked or unreachable database) is not stacked up.
      if (this.beating) return;
      this.beating = true;
      this.heartbeat()
        .catch((err: unknown) => this.logger?.warn('lease heartbeat failed; the next one retries', { error: err instanceof Error ? err.message : String(err) }))
        .finally(() => (this.beating = false));
    }, Math.max(1, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** Stops the heartbeat timer without releasing anything (the leases then expire after the TTL). */
  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * On graceful stop: stops the heartbeat and deletes this replica's leases and its replica row,
   * so the others take its orgs at their next tick instead of after the TTL. Call it after the
   * last tick has finished.
   */
  release(): Promise<void> {
    this.stopHeartbeat();
    return this.serial(async () => {
      this.released = true;
      this.mine.clear();
      await this.db.run('DELETE FROM leases WHERE holder = ?', [this.holder]);
      await this.db.run('DELETE FROM replicas WHERE holder = ?', [this.holder]);
    });
  }

  /**
   * True when this replica believes it holds the org: taken or renewed, and renewed within the
   * TTL by its own monotonic clock. Writes still go through the fence; this only decides what to
   * start.
   */
  held(org: string): boolean {
    return this.mine.has(org) && this.monotonicMs() < this.trustedUntil;
  }

  /** The orgs {@link held} would say yes to. */
  heldOrgs(): string[] {
    return this.monotonicMs() < this.trustedUntil ? [...this.mine] : [];
  }

  /**
   * The fence: inside a transaction that moves the org's checkpoint, throws LeaseLostError unless
   * this replica still holds the org's lease. It also locks the lease row until the transaction
   * ends (a no-op UPDATE), so on PostgreSQL a replica taking the lease over waits for this
   * transaction and then reads what it committed; on SQLite the write transaction already excludes
   * every other writer. A lease past its expiry that nobody has taken yet still passes: the row
   * lock keeps a taker out until the commit, and the taker resumes from the committed checkpoint.
   */
  async assertHeld(tx: SqlConn, org: string): Promise<void> {
    if (!tx.inTransaction) throw new Error('assertHeld() must run inside the transaction it guards');
    const row = await tx.get<{ org: string }>('UPDATE leases SET holder = holder WHERE org = ? AND holder = ? RETURNING org', [org, this.holder]);
    if (row) return;
    this.mine.delete(org);
    const now = await tx.get<{ holder: string }>('SELECT holder FROM leases WHERE org = ?', [org]);
    throw new LeaseLostError(org, now?.holder ?? null);
  }

  /** Every lease, by org, for `status`. */
  static async list(conn: SqlConn): Promise<LeaseRow[]> {
    return conn.all<LeaseRow>('SELECT org, holder, acquired_at AS "since", renewed_at AS "renewedAt", expires_at AS "expiresAt" FROM leases ORDER BY org');
  }

  /** Every replica seen in the last day, for `status`. */
  static async replicas(conn: SqlConn): Promise<ReplicaRow[]> {
    const rows = await conn.all<ReplicaRow>('SELECT holder, host, pid, started_at AS "startedAt", seen_at AS "seenAt" FROM replicas ORDER BY holder');
    return rows.map((r) => ({ ...r, pid: r.pid === null ? null : Number(r.pid) }));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async acquireNow(orgs: string[], busy: ReadonlySet<string>): Promise<AcquireResult> {
    if (this.released) throw new Error('acquire() after release()');
    const t0 = this.monotonicMs();
    const now = await this.db.now();
    const nowIso = now.toISOString();
    await this.seen(now);
    await this.db.run('DELETE FROM replicas WHERE seen_at < ?', [iso(now.getTime() - FORGET_REPLICA_MS)]);
    // Live: seen within two heartbeats (each TTL/3). A replica that died stops counting before its
    // leases expire, so when they do the survivors' share already covers its orgs and they take them
    // at their next slot; counted for a whole TTL, a process killed just after it started kept the
    // share small and delayed the takeover past LEASE_TTL plus one interval (seen in the scale soak).
    const liveRow = await this.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM replicas WHERE seen_at > ?', [iso(now.getTime() - Math.round((this.ttlMs * 2) / 3))]);
    const live = Math.max(1, Number(liveRow?.n ?? 1));
    const share = Math.ceil(orgs.length / live);

    const before = new Set(this.mine);
    const renewed = new Set(await this.renewAll(now));
    const lost = [...before].filter((o) => !renewed.has(o));
    const wanted = new Set(orgs);
    const released: string[] = [];
    // Above the share (a replica joined) or no longer configured: handed back, the least
    // preferred first, so that each replica keeps the orgs it would pick again.
    // An org whose tick is still running stays, whatever the share: handing it back now would let
    // another replica read it while this one still does.
    const keep = [...renewed].filter((o) => wanted.has(o) || busy.has(o)).sort((a, b) => preference(this.holder, b) - preference(this.holder, a));
    const busyKept = keep.filter((o) => busy.has(o));
    const idleKept = keep.filter((o) => !busy.has(o));
    const room = Math.max(0, share - busyKept.length);
    for (const org of [...[...renewed].filter((o) => !wanted.has(o) && !busy.has(o)), ...idleKept.slice(room)]) {
      await this.db.run('DELETE FROM leases WHERE org = ? AND holder = ?', [org, this.holder]);
      released.push(org);
    }
    const held = new Set([...busyKept, ...idleKept.slice(0, room)]);

    const taken: string[] = [];
    if (held.size < share) {
      const rows = await this.db.all<{ org: string; holder: string; expiresAt: string }>(
        `SELECT org, holder, expires_at AS "expiresAt" FROM leases WHERE org IN (${orgs.map(() => '?').join(', ')})`,
        orgs,
      );
      const current = new Map(rows.map((r) => [r.org, r]));
      // Each replica tries the free orgs in its own order (rendezvous hashing), so replicas that
      // start together mostly reach for different orgs.
      const free = orgs.filter((o) => !held.has(o) && !released.includes(o)).filter((o) => {
        const r = current.get(o);
        return !r || r.expiresAt <= nowIso;
      });
      free.sort((a, b) => preference(this.holder, b) - preference(this.holder, a));
      const expiresIso = iso(now.getTime() + this.ttlMs);
      for (const org of free) {
        if (held.size >= share) break;
        const got = await this.db.get<{ org: string }>(
          `INSERT INTO leases (org, holder, acquired_at, renewed_at, expires_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (org) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
           WHERE leases.expires_at <= ?
           RETURNING org`,
          [org, this.holder, nowIso, nowIso, expiresIso, nowIso],
        );
        if (got) {
          held.add(org);
          taken.push(org);
        }
      }
    }

    this.mine.clear();
    for (const org of held) this.mine.add(org);
    this.trustedUntil = t0 + this.ttlMs;
    return { held: orgs.filter((o) => held.has(o)), taken, released, lost, live, share };
  }

  /** Extends every lease this replica holds; returns their orgs. */
  private async renewAll(now: Date): Promise<string[]> {
    const rows = await this.db.all<{ org: string }>('UPDATE leases SET renewed_at = ?, expires_at = ? WHERE holder = ? RETURNING org', [now.toISOString(), iso(now.getTime() + this.ttlMs), this.holder]);
    return rows.map((r) => r.org);
  }

  /** Records that this replica is alive (and, the first time, where it runs). */
  private async seen(now: Date): Promise<void> {
    const nowIso = now.toISOString();
    this.startedAt ??= nowIso;
    await this.db.run(
      'INSERT INTO replicas (holder, host, pid, started_at, seen_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (holder) DO UPDATE SET seen_at = excluded.seen_at',
      [this.holder, os.hostname(), process.pid, this.startedAt, nowIso],
    );
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** How much this holder prefers this org: a stable pseudo-random number per pair. */
function preference(holder: string, org: string): number {
  return createHash('sha256').update(holder).update('\0').update(org).digest().readUInt32BE(0);
}
