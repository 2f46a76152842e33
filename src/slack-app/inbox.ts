import { localReplicaGone, replicaId } from '../scale/replica';
import type { Store } from '../store/store';

/** Handled rows are kept this long (for an investigation), then deleted at a start. */
const KEEP_HANDLED_MS = 7 * 86_400_000;
/** Payloads larger than this are not Slack's (block_actions and view_submission are a few KB). */
const MAX_PAYLOAD_CHARS = 256 * 1024;
/** LEASE_TTL's default, for an inbox whose owner does not say. */
const DEFAULT_TTL_MS = 120_000;

/** The replica an inbox belongs to: its claims name it, and other replicas' liveness is judged by the TTL. */
export interface InboxOwner {
  /** This replica's id ({@link replicaId}). */
  holder: string;
  /** LEASE_TTL: a replica not seen within it (three heartbeats) no longer counts as live here. */
  ttlMs: number;
}

/**
 * The Slack app's inbox (migrations 013 and 016): an interactive envelope is stored before it is
 * acknowledged, claimed by the replica that received it, and marked handled after its action, so no
 * acknowledged click is lost to a crash. Replicas share it: a click left unhandled is acted on by
 * another replica only once its claimer is gone, and taken over with one compare-and-set, so one
 * click is acted on once (an acknowledgement or an "expected" is never recorded twice).
 */
export class SlackInbox {
  private readonly owner: InboxOwner;

  constructor(
    private readonly store: Store,
    owner?: InboxOwner,
  ) {
    this.owner = owner ?? { holder: replicaId(), ttlMs: DEFAULT_TTL_MS };
  }

  /** Stores a new envelope, claimed by this replica; false when this envelope id was received before. Throws when the database cannot take it. */
  async receive(envelopeId: string, payload: unknown, now: Date): Promise<boolean> {
    const json = JSON.stringify(payload ?? null) ?? 'null';
    if (json.length > MAX_PAYLOAD_CHARS) throw new Error('the payload is larger than any Slack interaction');
    const { changes } = await this.store.sql.run('INSERT INTO slack_inbox (envelope_id, payload, received_at, claimed_by) VALUES (?, ?, ?, ?) ON CONFLICT (envelope_id) DO NOTHING', [
      envelopeId,
      json,
      now.toISOString(),
      this.owner.holder,
    ]);
    return changes === 1;
  }

  /** Marks an envelope's action done (carried out, refused or ignored). */
  async handled(envelopeId: string, now: Date): Promise<void> {
    await this.store.sql.run('UPDATE slack_inbox SET handled_at = ? WHERE envelope_id = ? AND handled_at IS NULL', [now.toISOString(), envelopeId]);
  }

  /** Deletes handled rows older than a week (at a start: not at every sweep). */
  async pruneHandled(now: Date): Promise<void> {
    await this.store.sql.run('DELETE FROM slack_inbox WHERE handled_at IS NOT NULL AND handled_at < ?', [new Date(now.getTime() - KEEP_HANDLED_MS).toISOString()]);
  }

  /**
   * Envelopes acknowledged but never finished by a replica that is gone (stopped, killed, or from
   * before claims existed), now claimed by this one, oldest first. A click whose claimer is still
   * live is its to finish and is left alone. This replica must count as live itself (registered in
   * `replicas`, as Leases does), else it takes nothing.
   */
  async claimLeft(): Promise<Array<{ envelopeId: string; payload: unknown }>> {
    const { sql } = this.store;
    const rows = await sql.all<{ id: string; claimedBy: string | null; receivedAt: string; payload: string }>(
      'SELECT envelope_id AS id, claimed_by AS "claimedBy", received_at AS "receivedAt", payload FROM slack_inbox WHERE handled_at IS NULL AND (claimed_by IS NULL OR claimed_by != ?) ORDER BY received_at, envelope_id',
      [this.owner.holder],
    );
    if (rows.length === 0) return [];
    // Live: seen within LEASE_TTL (three heartbeats) by the database's clock, one heartbeat more
    // than the leases' fair share counts: a replica whose one heartbeat failed (a brief database
    // error) keeps its clicks. On SQLite (one host) a replica whose process is gone is not live
    // either, as its leases are freed.
    const dbNow = await this.store.db.now();
    const live = new Set((await sql.all<{ holder: string }>('SELECT holder FROM replicas WHERE seen_at > ?', [new Date(dbNow.getTime() - this.owner.ttlMs).toISOString()])).map((r) => r.holder));
    // Only a replica that counts as live itself takes clicks over: the others then leave them to it.
    // One that is not (yet) registered, or whose heartbeat lapsed, waits for a later sweep.
    if (!live.has(this.owner.holder)) return [];
    const local = this.store.db.engine === 'sqlite';
    const out: Array<{ envelopeId: string; payload: unknown }> = [];
    // A click with no claim was stored by a replica of a version before claims (during a rolling
    // upgrade it may be acting on it right now): free once it is older than LEASE_TTL, by the
    // database's clock (the one every replica shares; its own was written by that replica's).
    const unclaimedFreeBefore = dbNow.getTime() - this.owner.ttlMs;
    for (const r of rows) {
      const gone = r.claimedBy === null ? !(Date.parse(r.receivedAt) > unclaimedFreeBefore) : !live.has(r.claimedBy) || (local && localReplicaGone(r.claimedBy));
      if (!gone) continue;
      const { changes } = await sql.run('UPDATE slack_inbox SET claimed_by = ? WHERE envelope_id = ? AND handled_at IS NULL AND claimed_by IS NOT DISTINCT FROM ?', [this.owner.holder, r.id, r.claimedBy]);
      if (changes !== 1) continue; // another replica took it first
      let payload: unknown;
      try {
        payload = JSON.parse(r.payload) as unknown;
      } catch {
        payload = null;
      }
      out.push({ envelopeId: r.id, payload });
    }
    return out;
  }
}
