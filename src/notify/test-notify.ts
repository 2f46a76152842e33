import crypto from 'node:crypto';
import { systemClock, type Clock } from '../clock';
import { redact } from '../logger';
import { toDeliveryError, type Notifier } from './notifier';
import { buildSampleAlert } from './sample-alert';
import { bound } from './sanitize';

/** Options of `test-notify`. */
export interface TestNotifyOptions {
  /** Only this notifier (must be enabled). */
  notifier?: string;
  /** The org URL for the sample's links (default https://example.okta.com). */
  orgUrl?: string;
  /** With ORGS_FILE, the org the sample is of: every notifier names it, as a real alert's. */
  org?: { name: string; url: string };
  clock?: Clock;
  /** Time limit per notifier (default 60 s), on top of the notifier's own timeouts. */
  timeoutMs?: number;
}

/** One notifier's outcome. */
export interface TestNotifyResult {
  notifier: string;
  ok: boolean;
  detail: string;
}

/**
 * Sends one realistic sample alert, marked as a test, straight through each enabled notifier (or
 * the one named), not through the outbox: the point is to see the error now. One line each.
 */
export async function runTestNotify(
  notifiers: Notifier[],
  opts: TestNotifyOptions,
): Promise<{ lines: string[]; anyFailed: boolean; results: TestNotifyResult[] }> {
  const clock = opts.clock ?? systemClock;
  const targets = opts.notifier ? notifiers.filter((n) => n.name === opts.notifier) : notifiers;
  const results: TestNotifyResult[] = [];
  if (opts.notifier && targets.length === 0) {
    const name = opts.notifier.replace(/[^a-z0-9_-]/gi, '?').slice(0, 30);
    results.push({ notifier: name, ok: false, detail: `not an enabled notifier (enabled: ${notifiers.map((n) => n.name).join(', ') || 'none'})` });
  }
  const uuid = crypto.randomUUID();
  const alert = buildSampleAlert({ now: clock.now(), uuid, id: `otw-test-${uuid}`, orgUrl: opts.orgUrl, org: opts.org, source: 'test' });
  for (const n of targets) {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        n.send({ kind: 'alert', alert, test: true }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${Math.round((opts.timeoutMs ?? 60_000) / 1000)}s`)), opts.timeoutMs ?? 60_000);
        }),
      ]);
      results.push({ notifier: n.name, ok: true, detail: `sample alert delivered in ${Date.now() - started} ms` });
    } catch (err) {
      const e = toDeliveryError(err);
      results.push({ notifier: n.name, ok: false, detail: `${bound(redact(e.message), 300)} (${e.retryable ? 'temporary: the outbox would retry' : 'permanent: fix the setting'})` });
    } finally {
      clearTimeout(timer);
    }
  }
  const lines = results.map((r) => `${r.ok ? 'ok  ' : 'FAIL'}  ${r.notifier.padEnd(10)} ${r.detail}`);
  return { lines, anyFailed: results.some((r) => !r.ok), results };
}
