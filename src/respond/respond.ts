import type { App } from '../app';
import type { Clock } from '../clock';
import { orgField, type Alert } from '../detect/alert';
import type { FollowUp, ResponseRecord, WatchSnapshot } from '../follow/followup';
import type { Logger } from '../logger';
import type { OktaHttp } from '../okta/http';
import type { OktaLogEvent } from '../okta/log-event';
import { revokeApiToken } from '../okta/revoke';
import type { Store } from '../store/store';
import { AuditLog, viaUsText, type Actor, type AuditResult, type AuditRow } from './audit';
import { isAllowed, RESPONSE_ACTION_NAMES, type ResponseAction, type ResponseConfig } from './config';
import { exceptionEntryFor, type ExceptionEntryOffer } from './exception-entry';

/** What `respond` needs; `respondDepsFor(app)` builds it from the wired program. */
export interface RespondDeps {
  store: Store;
  /** Null when the Okta settings are missing: a revoke then fails with a sentence saying so. */
  okta: OktaHttp | null;
  oktaAuth: 'ssws' | 'oauth' | null;
  config: ResponseConfig;
  /** Every enabled notifier: each gets the action's follow-up. */
  notifiers: string[];
  clock: Clock;
  logger: Logger;
  /** A pending revoke older than this belongs to a process that stopped: it may be tried again. Default 5 minutes. */
  staleAfterMs?: number;
  /** How long a second request waits for a pending revoke by another process to finish. Default 90 s. */
  waitForPendingMs?: number;
}

/** One request to act on an alert. */
export interface RespondRequest {
  /** The alert id (`otw-...`); the CLI may also give the token id (`00T...`): its newest alert is used. */
  target: string;
  action: ResponseAction;
  /**
   * Who asks. For `via: 'slack'`, `respond` itself checks RESPONDERS (user id, and `groupIds`: the
   * user groups the Slack app found the user in), so no caller can skip the check; a refused
   * attempt is stored. The CLI runs with the installation's own Okta credentials and is not checked.
   */
  by: Actor & { groupIds?: readonly string[] };
  /** Required for `expected`, optional otherwise; bounded to 500 characters. */
  reason?: string | null;
}

/**
 * How a request ended, for an interface to render:
 * - done: the action happened now (revoked, already gone in Okta, or recorded);
 * - already: an earlier revoke of this token stands (pending or done) and Okta was not called again;
 * - in-progress: another process's revoke of this token is still waiting for Okta's answer;
 * - refused: not allowed, not enabled, or not possible (nothing was tried);
 * - failed: Okta refused (403) or failed; nothing is marked revoked.
 */
export type OutcomeStatus = 'done' | 'already' | 'in-progress' | 'refused' | 'failed';

export interface ResponseOutcome {
  status: OutcomeStatus;
  /** The audit row's result. */
  result: AuditResult;
  /** The audit row of this attempt (null only for a request naming no known action, which cannot be stored). */
  actionId: number | null;
  alertId: string | null;
  /** The token the alert is about, and its owner (the admin who created it): raw event text. */
  token: { id: string | null; name: string | null; owner: string | null } | null;
  /** For `already` and `in-progress`: the revoke that stands (who, when, result). */
  previous?: AuditRow;
  /** For `expected`: the exceptions-file entry to add, or why there is none. */
  exceptionEntry?: ExceptionEntryOffer;
  /** The follow-up queued to every notifier (null for refused attempts and repeats). */
  followUp: FollowUp | null;
  /**
   * One sentence: "revoked token "X" (00T...) of Y", "already revoked by Z at T", "not allowed:
   * ...". Token names and reasons in it are raw attacker-controlled text: escape it for your format.
   */
  text: string;
}

const MAX_REASON = 500;
const DEFAULT_STALE_MS = 5 * 60_000;
const DEFAULT_WAIT_MS = 90_000;

/** The deps from the wired program. */
export function respondDepsFor(app: App): RespondDeps {
  return {
    store: app.store,
    okta: app.revokeOkta,
    oktaAuth: app.config.okta?.auth.mode ?? null,
    config: app.config.respond,
    notifiers: app.notifiers.map((n) => n.name),
    clock: app.clock,
    logger: app.logger,
  };
}

/**
 * Acts on an alert (revoke its token, mark it expected, acknowledge it) and records the attempt in
 * the audit table, whatever its result. Every action that happened (not a refusal, not a repeat)
 * queues a follow-up of kind `response` (key `response:<action id>`) to every notifier. A revoke
 * is claimed by a `pending` row inside a transaction holding the token's lock, so two processes
 * (the daemon's Slack click and a CLI, or two replicas) or two clicks call Okta once; a second
 * request answers with the first's result. Never throws for Okta's answers; a database failure does throw.
 */
export async function respond(deps: RespondDeps, req: RespondRequest): Promise<ResponseOutcome> {
  const audit = new AuditLog(deps.store);
  const now = deps.clock.now();
  // The Slack app passes values from a payload: an action that is none of ours cannot even be
  // stored (the table's CHECK), so it is refused here, logged, and never reaches Okta.
  if (!(RESPONSE_ACTION_NAMES as readonly unknown[]).includes(req.action) || typeof req.target !== 'string') {
    deps.logger.warn('response refused: not a known action or target', { via: req.by?.via, by: typeof req.by?.id === 'string' ? req.by.id.slice(0, 100) : null });
    return { status: 'refused', result: 'refused', actionId: null, alertId: null, token: null, followUp: null, text: 'not allowed: not a known action' };
  }
  const reason = boundReason(req.reason);
  const by: Actor = { via: req.by.via, id: bound(req.by.id, 100), name: bound(req.by.name, 200) };
  const found = await findAlert(deps.store, req.target);
  const alert = found?.alert ?? null;
  const tokenId = alert?.token?.id ?? null;
  const token = alert ? { id: tokenId, name: alert.token?.name ?? null, owner: alert.actor.login ?? alert.actor.displayName ?? alert.actor.id } : null;
  const base = { alertId: alert?.id ?? null, token };

  const refuse = async (why: string, sentence = `not allowed: ${why}`): Promise<ResponseOutcome> => {
    const actionId = await audit.insert({ alertRowId: found?.rowId ?? null, target: bound(req.target, 200) ?? '', tokenId, action: req.action, by, at: now, result: 'refused', reason, error: why, finished: true });
    deps.logger.warn('response refused', { action: req.action, target: bound(req.target, 200), via: by.via, by: by.id, actionId, why });
    return { ...base, status: 'refused', result: 'refused', actionId, followUp: null, text: sentence };
  };

  if (req.by.via === 'slack' && (req.by.id === null || !isAllowed(deps.config, req.by.id, req.by.groupIds ?? []))) {
    return refuse(`${by.name ?? by.id ?? 'this Slack user'} is not in RESPONDERS`);
  }
  if (!deps.config.actions.has(req.action)) {
    return refuse(req.action === 'revoke' ? 'revoking is off: RESPONSE_ACTIONS does not list revoke' : `RESPONSE_ACTIONS does not list ${req.action}`);
  }
  if (!found) {
    const why = `no alert ${/^otw-/.test(req.target) ? 'with the id' : 'about the token'} ${bound(req.target, 80)} in this database`;
    // Not a permission problem: this program acts only on what it alerted on (its audit and
    // follow-ups hang off the alert). Other tokens are revoked where they are listed.
    return refuse(why, `${why}: okta-token-watch acts only on tokens it alerted on (an alert id, or the token id of one); revoke other tokens in the Admin Console (Security > API > Tokens)`);
  }
  if (req.action === 'expected' && reason === null) return refuse('marking an alert expected needs a reason');

  if (req.action !== 'revoke') {
    const entry = req.action === 'expected' ? exceptionEntryFor(found.alert, await rawEventOf(deps.store, found.alert), reason ?? '', by.name ?? by.id ?? by.via, now) : undefined;
    const { actionId, followUp } = await deps.store.transaction(async (tx) => {
      const txAudit = new AuditLog(tx);
      const id = await txAudit.insert({ alertRowId: found.rowId, target: found.alert.id, tokenId, action: req.action, by, at: now, result: 'recorded', reason, error: null, finished: true });
      return { actionId: id, followUp: await queueFollowUp(deps, tx, found.alert, (await txAudit.get(id))!) };
    });
    deps.logger.info('response recorded', { action: req.action, alertId: found.alert.id, via: by.via, by: by.id, actionId });
    const text =
      req.action === 'expected'
        ? `marked alert ${found.alert.id} expected${reason ? `: ${reason}` : ''}${entry === undefined ? '' : entry.yaml !== null ? '; add the exceptions-file entry to stop alerts from this source' : `; ${entry.why}`}`
        : `acknowledged alert ${found.alert.id}${reason ? `: ${reason}` : ''}`;
    return { ...base, status: 'done', result: 'recorded', actionId, followUp, text, ...(entry ? { exceptionEntry: entry } : {}) };
  }

  if (!tokenId) return refuse(`alert ${found.alert.id} names no token to revoke`);
  if (!deps.okta || !deps.oktaAuth) return refuse('the Okta settings are missing (OKTA_ORG_URL and credentials)');
  const what = `token "${bound(token?.name, 200) ?? '(no name)'}" (${bound(tokenId, 60)})${token?.owner ? ` of ${bound(token.owner, 200)}` : ''}`;

  // The claim: check and insert in one transaction, so that of two processes racing for the same
  // token exactly one inserts the pending row. SQLite serialises the writers (BEGIN IMMEDIATE);
  // PostgreSQL's READ COMMITTED would let two replicas both see no standing revoke, so the token's
  // lock makes them take turns before the check.
  const staleMs = deps.staleAfterMs ?? DEFAULT_STALE_MS;
  const claim = await deps.store.transaction(async (tx) => {
    await tx.sql.lock(`respond:${tokenId}`);
    const txAudit = new AuditLog(tx);
    const standing = await txAudit.standingRevoke(tokenId);
    if (standing && !(standing.result === 'pending' && now.getTime() - Date.parse(standing.requestedAt) > staleMs)) {
      const id = await txAudit.insert({ alertRowId: found.rowId, target: found.alert.id, tokenId, action: 'revoke', by, at: now, result: 'duplicate', reason, error: `revoke #${standing.id} stands`, finished: true });
      return { duplicateOf: standing, actionId: id };
    }
    if (standing) await txAudit.finish(standing.id, now, 'failed', 'the process stopped before recording Okta\'s answer; revoked again by a later action');
    return { duplicateOf: null, actionId: await txAudit.insert({ alertRowId: found.rowId, target: found.alert.id, tokenId, action: 'revoke', by, at: now, result: 'pending', reason, error: null, finished: false }) };
  });

  if (claim.duplicateOf) {
    const previous = claim.duplicateOf.result === 'pending' ? await waitForResult(deps, audit, claim.duplicateOf) : claim.duplicateOf;
    const who = `${previous.by.name ?? previous.by.id ?? 'someone'} via ${previous.by.via}`;
    const [status, text]: [OutcomeStatus, string] =
      previous.result === 'pending'
        ? ['in-progress', `a revoke of ${what} by ${who} has been waiting for Okta since ${previous.requestedAt}; see "okta-token-watch status --alerts"`]
        : previous.result === 'revoked'
          ? ['already', `${what} was already revoked by ${who} at ${previous.finishedAt ?? previous.requestedAt}`]
          : previous.result === 'already-gone'
            ? ['already', `${what} was already gone in Okta when ${who} revoked it at ${previous.finishedAt ?? previous.requestedAt}`]
            : // The other process's revoke failed meanwhile: this request did not try; asking again will.
              ['failed', `the revoke of ${what} by ${who} failed (${previous.error ?? previous.result}); nothing is revoked: try again`];
    deps.logger.info('revoke repeated', { alertId: found.alert.id, tokenId, actionId: claim.actionId, standing: previous.id, via: by.via, by: by.id });
    return { ...base, status, result: 'duplicate', actionId: claim.actionId, previous, followUp: null, text };
  }

  const answer = await revokeApiToken(deps.okta, tokenId, deps.oktaAuth);
  const error = 'error' in answer ? answer.error : null;
  const done = deps.clock.now();
  const followUp = await deps.store.transaction(async (tx) => {
    const txAudit = new AuditLog(tx);
    await txAudit.finish(claim.actionId, done, answer.result, error);
    return queueFollowUp(deps, tx, found.alert, (await txAudit.get(claim.actionId))!);
  });
  const fields = { alertId: found.alert.id, tokenId, actionId: claim.actionId, via: by.via, by: by.id, result: answer.result };
  if (answer.result === 'revoked' || answer.result === 'already-gone') deps.logger.info('token revoked', fields);
  else deps.logger.warn('revoke failed', { ...fields, error });
  const text =
    answer.result === 'revoked'
      ? `revoked ${what}`
      : answer.result === 'already-gone'
        ? `${what} was already gone in Okta (revoked or expired before): nothing to revoke`
        : `could not revoke ${what}: ${error}`;
  return { ...base, status: answer.result === 'revoked' || answer.result === 'already-gone' ? 'done' : 'failed', result: answer.result, actionId: claim.actionId, followUp, text };
}

/** Waits (on the injected clock) for another process's pending revoke to get Okta's answer. */
async function waitForResult(deps: RespondDeps, audit: AuditLog, row: AuditRow): Promise<AuditRow> {
  const until = deps.clock.now().getTime() + (deps.waitForPendingMs ?? DEFAULT_WAIT_MS);
  let current = row;
  while (current.result === 'pending' && deps.clock.now().getTime() < until) {
    await deps.clock.sleep(250);
    current = (await audit.get(row.id)) ?? current;
  }
  return current;
}

/**
 * The alert a target names: an alert id (`otw-...`), or a token id (its newest alert); null when
 * none. Only the Store's org's alerts: an action on another org's alert would reach that org's
 * token with this org's Okta credentials.
 */
export async function findAlert(store: Store, target: string): Promise<{ alert: Alert; rowId: number } | null> {
  if (target.length > 200) return null;
  const row = /^otw-/.test(target)
    ? await store.sql.get<{ id: number; payload: string }>('SELECT id, payload FROM alerts WHERE alert_id = ? AND org = ?', [target, store.org])
    : await store.sql.get<{ id: number; payload: string }>('SELECT a.id, a.payload FROM alerts a JOIN events e ON e.uuid = a.event_uuid WHERE e.token_id = ? AND a.org = ? ORDER BY a.id DESC LIMIT 1', [target, store.org]);
  return row ? { alert: JSON.parse(row.payload) as Alert, rowId: row.id } : null;
}

async function rawEventOf(store: Store, alert: Alert): Promise<OktaLogEvent | null> {
  const row = await store.sql.get<{ raw: string }>('SELECT raw FROM events WHERE uuid = ?', [alert.event.uuid]);
  try {
    return row ? (JSON.parse(row.raw) as OktaLogEvent) : null;
  } catch {
    return null;
  }
}

/** Queues the action's follow-up to every notifier, on the Store of the transaction that records it. */
async function queueFollowUp(deps: RespondDeps, tx: Store, alert: Alert, row: AuditRow): Promise<FollowUp | null> {
  if (row.result === 'pending' || row.result === 'refused' || row.result === 'duplicate') return null;
  const response: ResponseRecord = {
    actionId: row.id,
    action: row.action,
    by: row.by,
    at: row.finishedAt ?? row.requestedAt,
    result: row.result,
    reason: row.reason,
    error: row.error,
  };
  return tx.insertFollowUp(
    {
      alertId: alert.id,
      // The analyst's response belongs to the alert's org.
      ...orgField(alert.org),
      kind: 'response',
      createdAt: response.at,
      token: { id: alert.token?.id ?? '', name: alert.token?.name ?? null },
      prominent: false,
      signals: [],
      response,
      watch: await watchSnapshot(tx, alert, response),
    },
    `response:${row.id}`,
    deps.notifiers,
    new Date(response.at),
  );
}

/**
 * The token's watch as the follow-up reports it: the watch row (issue 12) when there is one, with
 * this revoke applied (Okta's own revoke event closes the watch later). Without a watch row, an
 * idle snapshot that only says whether it is revoked.
 */
async function watchSnapshot(store: Store, alert: Alert, response: ResponseRecord): Promise<WatchSnapshot> {
  const w = alert.token?.id
    ? await store.sql.get<{ until: string; closedAt: string | null; closed: string | null; firstUseAt: string | null; createdAt: string; events: number; sensitive: number; revokedAt: string | null; revokedBy: string | null }>(
        `SELECT watch_until AS "until", closed_at AS "closedAt", close_reason AS closed, first_use_at AS "firstUseAt", created_published AS "createdAt",
                events, sensitive, revoked_at AS "revokedAt", revoked_by AS "revokedBy" FROM token_watches WHERE token_id = ? AND org = ?`,
        [alert.token.id, store.org],
      )
    : undefined;
  const revokedNow = response.action === 'revoke' && response.result === 'revoked';
  const firstUse = w?.firstUseAt ? Date.parse(w.firstUseAt) : NaN;
  const created = w ? Date.parse(w.createdAt) : NaN;
  return {
    until: w?.until ?? alert.event.published,
    watching: w ? w.closedAt === null : false,
    firstUseAt: w?.firstUseAt ?? null,
    minutesToFirstUse: Number.isFinite(firstUse) && Number.isFinite(created) ? Math.round((firstUse - created) / 60_000) : null,
    firstUseNewCountry: null,
    firstUseNewNetwork: null,
    events: w?.events ?? 0,
    sensitive: w?.sensitive ?? 0,
    revokedAt: w?.revokedAt ?? (revokedNow ? response.at : null),
    revokedBy: w?.revokedBy ?? (revokedNow ? viaUsText(response.by) : null),
    closed: w?.closed === 'window-ended' || w?.closed === 'revoked' || w?.closed === 'expired' ? w.closed : null,
  };
}

function bound(v: string | null | undefined, max: number): string | null {
  if (v === null || v === undefined) return null;
  return Array.from(v).slice(0, max).join('');
}

function boundReason(v: string | null | undefined): string | null {
  const t = (v ?? '').trim();
  return t === '' ? null : (bound(t, MAX_REASON) as string);
}
