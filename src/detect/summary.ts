import { API_TOKEN_CREATE } from '../okta/log-event';
import { apiTokensLink, systemLogLink } from './admin-links';
import type { ExcessAlerts } from '../store/store';
import { orgField, type AlertOrg, type AlertSummary } from './alert';
import { text } from './fields';
import { RULE } from './rule';

const MAX_ACTORS = 20;
const MAX_TOKEN_NAMES = 50;

/** The command that lists stored alerts. */
export const HOW_TO_LIST = 'okta-token-watch status --alerts';

/** At most this many alert ids ride in a summary; `count` is always the full number. */
export const MAX_SUMMARY_ALERT_IDS = 1000;

/** The bounds `Store.excessAwaitingSummary` is asked for. */
export const SUMMARY_BOUNDS = { actors: MAX_ACTORS, tokenNames: MAX_TOKEN_NAMES, alertIds: MAX_SUMMARY_ALERT_IDS } as const;

/**
 * The one summary for a tick's alerts beyond MAX_ALERTS_PER_RUN: nothing is dropped, the alerts are
 * stored and listed by `status --alerts`; the summary says how many, who and when. Built from what
 * the store aggregated (bounded lists), never from the alerts themselves, so a backlog of 100,000
 * costs no more memory than one of 200.
 */
export function buildSummary(excess: ExcessAlerts, now: Date, orgUrl: string, org: AlertOrg | null = null): Omit<AlertSummary, 'id'> {
  const firstPublished = validTime(excess.firstPublished) ?? now.toISOString();
  const lastPublished = validTime(excess.lastPublished) ?? now.toISOString();
  const alertIds = excess.alertIds.slice(0, MAX_SUMMARY_ALERT_IDS);
  return {
    ...orgField(org),
    createdAt: now.toISOString(),
    rule: { id: RULE.id, name: RULE.name, severity: RULE.severity, riskScore: RULE.riskScore },
    count: excess.count,
    actors: excess.actors.slice(0, MAX_ACTORS).map(({ actor, count }) => ({ actor: text(actor, 200) ?? 'unknown actor', count })),
    actorCount: excess.actorCount,
    tokenNames: excess.tokenNames.slice(0, MAX_TOKEN_NAMES).map((name) => text(String(name), 200) ?? ''),
    tokenNameCount: excess.tokenNameCount,
    firstPublished,
    lastPublished,
    alertIds,
    alertIdsOmitted: Math.max(0, excess.count - alertIds.length),
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

function validTime(s: string | null): string | null {
  return s !== null && Number.isFinite(Date.parse(s)) ? s : null;
}
