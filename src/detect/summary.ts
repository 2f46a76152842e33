import { API_TOKEN_CREATE } from '../okta/log-event';
import { apiTokensLink, systemLogLink } from './admin-links';
import type { Alert, AlertSummary } from './alert';
import { text } from './fields';
import { RULE } from './rule';

const MAX_ACTORS = 20;
const MAX_TOKEN_NAMES = 50;

/** The command that lists stored alerts. */
export const HOW_TO_LIST = 'okta-token-watch status --alerts';

/**
 * The one summary for a tick's alerts beyond MAX_ALERTS_PER_RUN: nothing is dropped, the alerts are
 * stored and listed by `status --alerts`; the summary says how many, who and when.
 */
export function buildSummary(alerts: Alert[], now: Date, orgUrl: string): Omit<AlertSummary, 'id'> {
  const counts = new Map<string, number>();
  const names: string[] = [];
  const seenNames = new Set<string>();
  let first: { t: number; s: string } | null = null;
  let last: { t: number; s: string } | null = null;
  for (const a of alerts) {
    const who = a.actor?.login ?? a.actor?.id ?? 'unknown actor';
    counts.set(who, (counts.get(who) ?? 0) + 1);
    const name = a.token?.name ?? null;
    if (name !== null && !seenNames.has(name) && names.length < MAX_TOKEN_NAMES) {
      seenNames.add(name);
      names.push(text(name, 200) ?? '');
    }
    const t = Date.parse(a.event?.published ?? '');
    if (Number.isFinite(t)) {
      if (!first || t < first.t) first = { t, s: a.event.published };
      if (!last || t > last.t) last = { t, s: a.event.published };
    }
  }
  const actors = [...counts.entries()]
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .slice(0, MAX_ACTORS)
    .map(([actor, count]) => ({ actor, count }));
  const firstPublished = first?.s ?? now.toISOString();
  const lastPublished = last?.s ?? now.toISOString();
  return {
    createdAt: now.toISOString(),
    rule: { id: RULE.id, name: RULE.name, severity: RULE.severity, riskScore: RULE.riskScore },
    count: alerts.length,
    actors,
    tokenNames: names,
    firstPublished,
    lastPublished,
    alertIds: alerts.map((a) => a.id),
    howToList: HOW_TO_LIST,
    links: {
      apiTokens: apiTokensLink(orgUrl),
      systemLog: systemLogLink(orgUrl, `eventType eq "${API_TOKEN_CREATE}"`, {
        from: new Date(Date.parse(firstPublished) - 60_000),
        to: new Date(Date.parse(lastPublished) + 60_000),
      }),
    },
  };
}
