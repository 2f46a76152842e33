import { plainText } from '../notify/sanitize';
import type { Store } from '../store/store';
import { AuditLog, type AuditRow } from './audit';

/** The response actions of one alert for `status --alerts` (JSON: the rows; text: `actionLines`). */
export async function alertActions(store: Store, alertId: string, limit = 20): Promise<AuditRow[]> {
  return new AuditLog(store).ofAlert(alertId, limit);
}

/**
 * One indented line per action, oldest first: what, who (and through what), when, the result, and
 * the reason or error. Names and reasons come from Slack users and analysts: made visible and
 * bounded like event text.
 */
export function actionLines(rows: readonly AuditRow[], indent = '    '): string[] {
  return rows.map((r) => {
    const who = `${plainText(r.by.name ?? r.by.id ?? 'unknown', 80)} via ${r.by.via}${r.by.via === 'slack' && r.by.id ? ` (${plainText(r.by.id, 30)})` : ''}`;
    const result = r.result === 'pending' ? 'pending (waiting for Okta)' : r.result;
    const why = r.error ? `: ${plainText(r.error, 200)}` : r.reason ? `: "${plainText(r.reason, 200)}"` : '';
    return `${indent}${r.action} by ${who} at ${plainText(r.finishedAt ?? r.requestedAt, 40)}: ${result}${why}`;
  });
}

/** `actionLines(alertActions(store, alertId))`: what the lead wires next to each alert of `status --alerts`. */
export async function alertActionLines(store: Store, alertId: string, indent = '    '): Promise<string[]> {
  return actionLines(await alertActions(store, alertId), indent);
}
