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
  async receive(envelopeId: string, payload: unknown, now: Date): Promise<boolean> {
    const json = JSON.stringify(payload ?? null) ?? 'null';
    if (json.length > MAX_PAYLOAD_CHARS) throw new Error('the payload is larger than any Slack interaction');
    const { changes } = await this.store.sql.run('INSERT INTO slack_inbox (envelope_id, payload, received_at) VALUES (?, ?, ?) ON CONFLICT (envelope_id) DO NOTHING', [envelopeId, json, now.toISOString()]);
    return changes === 1;
  }

  /** Marks an envelope's action done (carried out, refused or ignored). */
  async handled(envelopeId: string, now: Date): Promise<void> {
    await this.store.sql.run('UPDATE slack_inbox SET handled_at = ? WHERE envelope_id = ? AND handled_at IS NULL', [now.toISOString(), envelopeId]);
  }

  /** Envelopes acknowledged but never finished (their process stopped), oldest first; old handled rows are deleted. */
  async unhandled(now: Date = new Date()): Promise<Array<{ envelopeId: string; payload: unknown }>> {
    await this.store.sql.run('DELETE FROM slack_inbox WHERE handled_at IS NOT NULL AND handled_at < ?', [new Date(now.getTime() - KEEP_HANDLED_MS).toISOString()]);
    const rows = await this.store.sql.all<{ id: string; payload: string }>('SELECT envelope_id AS id, payload FROM slack_inbox WHERE handled_at IS NULL ORDER BY received_at, envelope_id');
    return rows.map((r) => ({ envelopeId: r.id, payload: JSON.parse(r.payload) as unknown }));
  }
}
