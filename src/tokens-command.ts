import fs from 'node:fs';
import type { AppConfig, OktaConfig } from './config';
import { EXIT_FAILURE, EXIT_OK } from './errors';
import { redact } from './logger';
import { jsonEscape, plainText } from './notify/sanitize';
import { ApiTokensError, API_TOKENS_READ_SCOPE, listApiTokens, type ApiTokenInfo } from './okta/api-tokens';
import { SdkOktaHttp } from './okta/client';
import type { OktaHttp } from './okta/http';
import { DEFAULT_ORG } from './orgs/runtime';
import { openStore, type StoreLocation } from './store/open';
import type { TerminalOutput } from './terminal-output';

/**
 * `okta-token-watch tokens [--json]`: the org's active API tokens, each with its owner, expiry,
 * network restriction and whether this program alerted on its creation. Read-only everywhere: one
 * list call to Okta, a read-only open of the database (none is created when it is missing).
 */

/** One listed token with what this program knows about it. */
export interface TokenRow extends ApiTokenInfo {
  /** The owner's login, when some stored event names that user as its actor (no extra request). */
  ownerLogin: string | null;
  /** No network condition restricts where the token may be used from. */
  unrestricted: boolean;
  /** The alert on the token's creation; null when none (or when there is no database). */
  alerted: { alertId: string; at: string } | null;
}

interface AlertLookup {
  alertOn(tokenId: string): Promise<{ alertId: string; at: string } | null>;
  loginOf(userId: string): Promise<string | null>;
  close(): Promise<void>;
}

/** The database's answers about one org, or null when there is no SQLite file yet. */
async function openLookup(where: StoreLocation, org: string): Promise<AlertLookup | null> {
  // PostgreSQL (DATABASE_URL) has no file to look for: opening it says whether it is there.
  if (!where.databaseUrl && !fs.existsSync(where.dbPath)) return null;
  const { store } = await openStore(where, { readonly: true });
  const db = store.sql;
  return {
    alertOn: async (id) =>
      (await db.get<{ alertId: string; at: string }>(
        `SELECT a.alert_id AS "alertId", a.created_at AS at FROM alerts a JOIN events e ON e.uuid = a.event_uuid
          WHERE e.token_id = ? AND e.event_type = 'system.api_token.create' AND a.org = ? ORDER BY a.id LIMIT 1`,
        [id, org],
      )) ?? null,
    loginOf: async (id) => (await db.get<{ login: string }>(`SELECT actor_login AS login FROM events WHERE actor_id = ? AND org = ? AND actor_login IS NOT NULL ORDER BY published DESC LIMIT 1`, [id, org]))?.login ?? null,
    close: () => store.close(),
  };
}

/** Okta's connection values other than ZONE (ANYWHERE, or none given) leave the token usable from anywhere. */
function isUnrestricted(t: ApiTokenInfo): boolean {
  return t.network?.connection !== 'ZONE';
}

/** The OktaHttp for the list: a service app asks for exactly the scope the list needs. */
function tokensHttp(okta: OktaConfig): OktaHttp {
  const scoped: OktaConfig = okta.auth.mode === 'oauth' ? { ...okta, auth: { ...okta.auth, scopes: [API_TOKENS_READ_SCOPE] } } : okta;
  return new SdkOktaHttp(scoped);
}

/** The one sentence for a refusal. */
function refusal(err: ApiTokensError, okta: OktaConfig): string {
  if (err.kind === 'forbidden') {
    return okta.auth.mode === 'ssws'
      ? `cannot list API tokens: the Okta credentials lack ${API_TOKENS_READ_SCOPE} (Okta answered 403); use OKTA_API_TOKEN of an admin who may read API tokens, or a service app granted ${API_TOKENS_READ_SCOPE}.`
      : `cannot list API tokens: the service app lacks ${API_TOKENS_READ_SCOPE}; grant it on the app's "Okta API Scopes" tab (with an admin role that may read API tokens), then run this again.`;
  }
  if (err.kind === 'unauthorized') return 'cannot list API tokens: Okta rejected the credentials (HTTP 401); run "okta-token-watch check" to find out why.';
  return `cannot list API tokens: ${plainText(err.message, 300)}.`;
}

/** Runs the command; resolves to the exit code. */
export async function runTokensCommand(config: AppConfig, io: { stdout: TerminalOutput; stderr: TerminalOutput }, opts: { json: boolean; okta?: OktaHttp; org?: string }): Promise<number> {
  // With ORGS_FILE the org's own settings (its URL and credentials); `--org` chose it.
  const org = opts.org ?? DEFAULT_ORG;
  const orgConfig = config.orgs?.find((o) => o.name === org)?.config ?? config;
  const okta = orgConfig.okta!;
  let list;
  try {
    list = await listApiTokens(opts.okta ?? tokensHttp(okta));
  } catch (err) {
    if (!(err instanceof ApiTokensError)) throw err;
    io.stderr.write(`okta-token-watch: ${redact(refusal(err, okta))}\n`);
    return EXIT_FAILURE;
  }
  const lookup = await openLookup(config.store, org);
  let rows: TokenRow[];
  try {
    rows = [];
    for (const t of list.tokens) {
      rows.push({
        ...t,
        ownerLogin: lookup && t.userId ? await lookup.loginOf(t.userId) : null,
        unrestricted: isUnrestricted(t),
        alerted: lookup ? await lookup.alertOn(t.id) : null,
      });
    }
  } finally {
    await lookup?.close();
  }
  const unrestricted = rows.filter((r) => r.unrestricted).length;
  if (opts.json) {
    // Raw JSON would carry control and bidi characters from token names to the terminal: \u escapes instead.
    io.stdout.write(jsonEscape(JSON.stringify({ count: rows.length, unrestricted, truncated: list.truncated, unreadable: list.unreadable, alertsKnown: lookup !== null, tokens: rows }, null, 2)) + '\n');
    return EXIT_OK;
  }
  const lines = [
    `${rows.length} active API token(s)${list.truncated ? ' (list cut at the page bound: more exist)' : ''}; ${unrestricted} with no network restriction (marked "!")` +
      `${lookup ? '' : `; no database at ${config.store.dbPath}, so whether this program alerted is unknown`}`,
  ];
  for (const r of rows) {
    // Names and every other field were typed by an admin or chosen by whoever made the token: visible and bounded.
    const owner = r.userId ? `${plainText(r.userId, 64)}${r.ownerLogin ? ` (${plainText(r.ownerLogin, 100)})` : ''}` : 'unknown';
    const zones = r.network?.include.length ? `: ${r.network.include.map((z) => plainText(z, 60)).join(', ')}` : '';
    const network = r.network ? `${plainText(r.network.connection ?? 'not set', 20)}${zones}` : 'not reported';
    lines.push(
      `${r.unrestricted ? '!' : ' '} "${plainText(r.name ?? '(no name)', 100)}" ${plainText(r.id, 64)}`,
      `    owner     ${owner}${r.clientName ? `, via ${plainText(r.clientName, 80)}` : ''}`,
      `    created   ${plainText(r.created ?? 'unknown', 40)}; expires ${plainText(r.expiresAt ?? 'unknown', 40)}${r.tokenWindow ? ` (window ${plainText(r.tokenWindow, 20)} unused)` : ''}`,
      `    network   ${network}${r.unrestricted ? ' - NO NETWORK RESTRICTION: usable from any IP' : ''}`,
      `    alerted   ${r.alerted ? `yes, ${plainText(r.alerted.alertId, 60)} at ${plainText(r.alerted.at, 40)}` : lookup ? 'no (made before this program watched, or not seen)' : 'unknown'}`,
    );
  }
  if (list.unreadable) lines.push(`${list.unreadable} record(s) in Okta's answer were not readable tokens and are left out`);
  io.stdout.write(lines.join('\n') + '\n');
  return EXIT_OK;
}
