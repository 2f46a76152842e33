import type { Store } from '../store/store';

/** Handled rows are kept this long (for an investigation), then deleted at a start. */
const KEEP_HANDLED_MS = 7 * 86_400_000;
/** Payloads larger than this are not Slack's (block_actions and view_submission are a few KB). */
const MAX_PAYLOAD_CHARS = 256 * 1024;

/**
 * The Slack app's inbox (migration 013): an interactive envelope is stored before it is
 * acknowledged and marked handled after its action, so no acknowledged click is lost to a crash.
 */
export class SlackInbox {
  constructor(private readonly store: Store) {}

  /** Stores a new envelope; false when this envelope id was received before. Throws when the database cannot take it. */
  receive(envelopeId: string, payload: unknown, now: Date): boolean {
    const json = JSON.stringify(payload ?? null) ?? 'null';
    if (json.length > MAX_PAYLOAD_CHARS) throw new Error('the payload is larger than any Slack interaction');
    return (
      this.store
        .prepared('INSERT INTO slack_inbox (envelope_id, payload, received_at) VALUES (?, ?, ?) ON CONFLICT (envelope_id) DO NOTHING')
        .run(envelopeId, json, now.toISOString()).changes === 1
    );
  }

  /** Marks an envelope's action done (carried out, refused or ignored). */
  handled(envelopeId: string, now: Date): void {
    this.store.prepared('UPDATE slack_inbox SET handled_at = ? WHERE envelope_id = ? AND handled_at IS NULL').run(now.toISOString(), envelopeId);
  }

  /** Envelopes acknowledged but never finished (their process stopped), oldest first; old handled rows are deleted. */
  unhandled(now: Date = new Date()): Array<{ envelopeId: string; payload: unknown }> {
    this.store.prepared('DELETE FROM slack_inbox WHERE handled_at IS NOT NULL AND handled_at < ?').run(new Date(now.getTime() - KEEP_HANDLED_MS).toISOString());
    const rows = this.store.prepared('SELECT envelope_id AS id, payload FROM slack_inbox WHERE handled_at IS NULL ORDER BY received_at, envelope_id').all() as Array<{ id: string; payload: string }>;
    return rows.map((r) => ({ envelopeId: r.id, payload: JSON.parse(r.payload) as unknown }));
  }
}
