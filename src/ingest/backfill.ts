import type { App } from '../app';
import { formatDuration, parseDuration } from '../duration';
import type { OktaLogEvent } from '../okta/log-event';
import { buildLogUrl, pageEntries, PollError } from '../okta/system-log';
import { entryKey } from '../detect/raw-event';
import { unreadableReason } from '../detect/unreadable';
import { ingest, summarizeExcess } from './ingest';

/** Okta keeps the System Log for 90 days. */
export const RETENTION_MS = 90 * 86_400_000;

/** What a backfill did. */
export interface BackfillResult {
  ok: boolean;
  since: Date;
  until: Date;
  clamped: boolean;
  pages: number;
  requests: number;
  events: number;
  newEvents: number;
  newAlerts: number;
  alreadySeen: number;
  suppressed: number;
  /**
   * With --dry-run: the matching entries and whether each was already stored. `event` is the entry
   * as Okta sent it (any shape when the decision is `unreadable: ...`); `key` its dedupe key.
   */
  matches: Array<{ event: OktaLogEvent; key: string; alreadySeen: boolean; decision: string }>;
  durationMs: number;
  error?: string;
}

/** Progress after each page. */
export interface BackfillProgress {
  pages: number;
  events: number;
  newAlerts: number;
  elapsedMs: number;
}

/**
 * Scans a past range with a bounded query (since + until, ordered by `published`) through the same
 * ingest function (ingest.ts) as the live poller and the event hook, without touching the live cursor. Events already
 * stored (and so already alerted) are skipped; new alerts are marked as coming from a backfill.
 */
export async function runBackfill(
  app: App,
  opts: { since: Date; until: Date; dryRun: boolean; signal?: AbortSignal; onProgress?: (p: BackfillProgress) => void },
): Promise<BackfillResult> {
  const { store, detector, clock, logger } = app;
  const started = clock.now();
  const oldest = new Date(started.getTime() - RETENTION_MS);
  const clamped = opts.since < oldest;
  const since = clamped ? oldest : opts.since;
  if (clamped) logger.warn('backfill start is older than Okta keeps the System Log (90 days); starting at the retention limit', { since: since.toISOString() });
  const result: BackfillResult = {
    ok: false,
    since,
    until: opts.until,
    clamped,
    pages: 0,
    requests: 0,
    events: 0,
    newEvents: 0,
    newAlerts: 0,
    alreadySeen: 0,
    suppressed: 0,
    matches: [],
    durationMs: 0,
  };
  const tickId = opts.dryRun ? null : await store.startTick(started, 'backfill');
  const notifiers = app.notifiers.map((n) => n.name);
  try {
    let url: string | null = buildLogUrl(app.config.okta!.orgUrl, { filter: detector.filter, since, until: opts.until, limit: 1000 });
    let alerts = 0;
    while (url !== null) {
      if (opts.signal?.aborted) throw new Error('backfill interrupted; run it again to finish (already stored events are skipped)');
      const page = await app.reader!.fetchPage(url, opts.signal);
      result.pages++;
      result.requests += page.requests;
      const entries = pageEntries(page);
      result.events += entries.length;
      const keys = entries.map(entryKey);
      const unseen = await store.unseenUuids(keys);
      result.alreadySeen += entries.length - unseen.size;
      if (opts.dryRun) {
        await detector.refresh();
        entries.forEach((entry, i) => {
          const unreadable = unreadableReason(entry);
          const d = unreadable === null ? detector.decide(entry as OktaLogEvent, clock.now()) : null;
          const decision = d === null ? `unreadable: ${unreadable}` : d.alert ? 'alert' : `suppressed: ${d.suppressedBy}`;
          result.matches.push({ event: entry as OktaLogEvent, key: keys[i]!, alreadySeen: !unseen.has(keys[i]!), decision });
        });
      } else {
        const out = await ingest({ ...app, notifiers, poll: app.config.poll }, {
          entries,
          tickId,
          checkpoint: { source: 'backfill' },
          alertsSoFar: alerts,
          rateLimitRemaining: page.rateLimit?.remaining ?? null,
          requests: page.requests,
        });
        alerts += out.newAlerts;
        result.newEvents += out.newEvents;
        result.newAlerts += out.newAlerts;
        result.suppressed += out.suppressed;
      }
      opts.onProgress?.({ pages: result.pages, events: result.events, newAlerts: result.newAlerts, elapsedMs: clock.now().getTime() - started.getTime() });
      // A bounded query ends with an empty page or a page without a next link.
      url = entries.length > 0 ? page.nextUrl : null;
    }
    if (!opts.dryRun) await summarizeExcess({ ...app, notifiers }, tickId);
    result.ok = true;
  } catch (err) {
    // A failed page still spent requests (and rate limit).
    if (err instanceof PollError) result.requests += err.requests;
    result.error = err instanceof Error ? err.message : String(err);
  }
  result.durationMs = clock.now().getTime() - started.getTime();
  if (tickId !== null) {
    await store.finishTick(tickId, clock.now(), result.ok ? 'ok' : 'failed', { requests: result.requests, error: result.error ?? null });
  }
  logger.info(result.ok ? 'backfill finished' : opts.signal?.aborted ? 'backfill stopped by a signal' : 'backfill failed', {
    since: since.toISOString(),
    until: opts.until.toISOString(),
    pages: result.pages,
    events: result.events,
    newAlerts: result.newAlerts,
    alreadySeen: result.alreadySeen,
    dryRun: opts.dryRun,
    duration: formatDuration(result.durationMs),
    error: result.error,
  });
  return result;
}

/** Parses `7d`, `36h` (relative to now) or an ISO 8601 time; null when it is neither. */
function parseTime(text: string, now: Date): Date | null {
  const d = parseDuration(text);
  if (d !== null) return new Date(now.getTime() - d);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return null;
  const t = Date.parse(text);
  return Number.isFinite(t) ? new Date(t) : null;
}

/** The range of `backfill --since X [--until Y]`, or the usage error. */
export function parseBackfillRange(sinceText: string, untilText: string | undefined, now: Date): { since: Date; until: Date } | { error: string } {
  const since = parseTime(sinceText, now);
  if (!since) return { error: '--since must be a duration like 7d or 36h, or an ISO time like 2026-11-01T00:00:00Z' };
  const until = untilText === undefined ? now : parseTime(untilText, now);
  if (!until) return { error: '--until must be an ISO time like 2026-11-08T00:00:00Z, or a duration ago like 1d' };
  if (until <= since) return { error: '--until must be later than --since' };
  if (until > now) return { error: '--until must not be in the future' };
  return { since, until };
}
