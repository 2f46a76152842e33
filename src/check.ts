import { createApp, type App } from './app';
import type { AppConfig } from './config';
import { OktaRequestError, oktaErrorOf, type OktaHttp } from './okta/http';
import type { Notifier } from './notify/notifier';
import type { Store } from './store/store';
import type { Clock } from './clock';
import { buildLogUrl } from './okta/system-log';
import { clockSkewIsLarge } from './ingest/poll';
import { migrationsDir } from './store/db';
import { checkWritable } from './store/check-writable';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { plainText } from './notify/sanitize';
import { responseCheckLines } from './respond/check';
import { isConnectorUrl } from './notify/teams';
import { checkSlackApp } from './slack-app/check';
import { orgCheckLines } from './orgs/check';

/** One line of the `check` report. */
export interface CheckLine {
  name: string;
  ok: boolean;
  /** Passes, but something the user should read (printed as WARN). */
  warn?: boolean;
  detail: string;
}

/**
 * Builds the program for `check`. An unusable DB_PATH is one FAIL line, not the end of the check:
 * the other checks then run against a throwaway in-memory database.
 */
export async function createCheckApp(config: AppConfig): Promise<{ app: App; dbProblem: string | null }> {
  try {
    return { app: await createApp(config), dbProblem: null };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // The database (a SQLite file, or PostgreSQL that refuses, is unreachable or rejects the
    // login) is one FAIL line; the other checks still run, on a throwaway in-memory store.
    if (!message.startsWith('DB_PATH ') && !message.startsWith('DATABASE_URL ')) throw err;
    return { app: await createApp({ ...config, store: { dbPath: ':memory:' } }), dbProblem: message };
  }
}

/**
 * Turns the outcome of one System Log request into one sentence a user can act on.
 * Exported for tests; `runCheck` is the entry point.
 */
export function explainOktaFailure(err: unknown, mode: 'ssws' | 'oauth'): string {
  if (err instanceof OktaRequestError) {
    switch (err.kind) {
      case 'network':
        return `cannot reach OKTA_ORG_URL ${err.message.replace(/^cannot reach Okta/, '').trim()}: check the URL, DNS, the firewall and any proxy.`;
      case 'timeout':
        return `OKTA_ORG_URL did not answer in time (${err.message}): check the network path to Okta.`;
      case 'refused-origin':
        return `${err.message}.`;
      case 'auth-setup': {
        const e = err.detail?.error ?? '';
        if (e === 'invalid_client') return `Okta rejected the service app (invalid_client): check OKTA_CLIENT_ID, that the app uses "Public key / Private key" client authentication, and that the public key for OKTA_KEY_ID is registered on it. ${err.message}.`;
        if (e === 'invalid_scope') return `the service app is not granted okta.logs.read (invalid_scope): grant it under the app's "Okta API Scopes" tab. ${err.message}.`;
        if (e === 'unreadable_key') return `${err.message}: paste the whole RSA key Okta generated for the app (PEM or JWK).`;
        if (/dpop/i.test(e)) return `Okta rejected the DPoP proof (${e}): check that OKTA_PRIVATE_KEY is an RSA key registered on the app. ${err.message}.`;
        return `Okta's token endpoint refused the service app: ${err.message}.`;
      }
      default:
        return err.message;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

function explainStatus(status: number, body: unknown, mode: 'ssws' | 'oauth'): string {
  const e = oktaErrorOf(body);
  const code = e ? ` ${e.errorCode}` : '';
  if (status === 401) {
    return mode === 'ssws'
      ? `Okta rejected OKTA_API_TOKEN (401${code}): the token is wrong, revoked or expired (SSWS tokens expire after 30 days unused); create a new one.`
      : `Okta rejected the access token (401${code}): check the service app's grant and that it is assigned an admin role.`;
  }
  if (status === 403) {
    return mode === 'ssws'
      ? `the token's admin may not read the System Log (403${code}): create the token as an admin with at least the Read-Only Administrator role.`
      : `the service app may not read the System Log (403${code}): grant okta.logs.read and assign it the Read-Only Administrator role.`;
  }
  if (status === 404) return `OKTA_ORG_URL does not look like an Okta org (404 on /api/v1/logs): use the org URL, like https://example.okta.com.`;
  if (status === 429) return `Okta is rate limiting this org right now (429${code}): try again after a minute; if it persists, other integrations use most of the System Log limit.`;
  if (status >= 500) return `Okta answered HTTP ${status}${code}: try again later; see status.okta.com.`;
  return `Okta refused the System Log request (HTTP ${status}${code}${e ? `: ${e.errorSummary.slice(0, 200)}` : ''}).`;
}

/** Validates everything `run` needs, without moving the cursor. */
export async function runCheck(app: App, opts: { dbProblem?: string | null } = {}): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const okta = app.config.okta!;
  if (app.config.orgs) {
    lines.push({ name: 'settings', ok: true, detail: `${app.config.orgs.length} org(s) from ORGS_FILE, schedule "${app.config.poll.schedule}"` });
    lines.push(...orgCheckLines(app.config.orgs));
  } else lines.push({ name: 'settings', ok: true, detail: `org ${okta.orgUrl}, ${okta.auth.mode === 'ssws' ? 'API token' : 'OAuth service app'}, schedule "${app.config.poll.schedule}", notifiers ${app.notifiers.map((n) => n.name).join(', ')}` });
  // A mistyped name in the environment leaves its setting unset: the run would go on without it.
  for (const w of app.config.warnings) lines.push({ name: 'environment', ok: false, detail: w });

  // The database: migrated to the version this program ships, and writable.
  if (opts.dbProblem) lines.push({ name: 'database', ok: false, detail: opts.dbProblem });
  else try {
    // The newest file's number, not the count: numbers are assigned per branch and may have gaps.
    const expected = Math.max(0, ...fs.readdirSync(migrationsDir()).filter((f) => /^\d{3}_.*\.sql$/.test(f)).map((f) => Number(f.slice(0, 3))));
    await checkWritable(app.store);
    // PostgreSQL has no file to show: its label names host, port and database (never a password).
    const sqlite = app.store.sql.engine === 'sqlite';
    const where = sqlite ? app.config.store.dbPath : app.store.db.label;
    const mode = sqlite ? `, mode ${(fs.statSync(app.config.store.dbPath).mode & 0o777).toString(8)}` : '';
    lines.push({
      name: 'database',
      ok: app.schemaVersion === expected,
      detail: app.schemaVersion === expected ? `${where} is writable, schema version ${app.schemaVersion}${mode}` : `${where} is at schema ${app.schemaVersion}, expected ${expected}`,
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    lines.push({
      name: 'database',
      ok: false,
      detail:
        app.store.sql.engine === 'sqlite'
          ? `DB_PATH ${app.config.store.dbPath} is not writable: ${why}; check the directory's owner and permissions.`
          : `the PostgreSQL database ${app.store.db.label} (DATABASE_URL) is not writable: ${why}; check the role's privileges.`,
    });
  }

  if (app.config.orgs) {
    // Each org's own checks with its own credentials and routing, every line named by the org.
    for (const rt of app.orgs) {
      const prefixed = (ls: CheckLine[]): CheckLine[] => ls.map((l) => ({ ...l, name: `${rt.name}: ${l.name}` }));
      if (!rt.config.okta || !rt.okta) {
        lines.push({ name: `${rt.name}: okta`, ok: false, detail: 'the org\'s credentials are not available (see its org line above)' });
      } else {
        lines.push(...prefixed(await checkSystemLog(rt.okta, rt.config, rt.detector.filter, app.clock)));
      }
      lines.push(...prefixed(await responseCheckLines(rt.config, rt.revokeOkta)));
      lines.push(...prefixed(await checkReceiver(rt.config.eventHook)));
      if (rt.config.okta) lines.push(...prefixed(await checkEventHook(rt.store, rt.config)));
      lines.push(...prefixed(await checkNotifiers(rt.notifiers)));
    }
  } else {
    // One filtered request: the same query the poller makes, over the last minute.
    lines.push(...(await checkSystemLog(app.okta!, app.config, app.detector.filter, app.clock)));
    lines.push(...(await responseCheckLines(app.config, app.revokeOkta)));
    lines.push(...(await checkReceiver(app.config.eventHook)));
    lines.push(...(await checkEventHook(app.store, app.config)));
    lines.push(...(await checkNotifiers(app.notifiers)));
  }
  if (app.config.slackApp) lines.push(...(await checkSlackApp(app.config.slackApp, app.responder, app.config.notify.timeoutMs)));
  if (app.config.notify.webhook && app.config.notify.webhook.secret === null) {
    // Without a signature a receiver cannot tell our alerts from anyone's POST to its URL.
    lines.push({
      name: 'notifier webhook',
      ok: true,
      warn: true,
      detail: 'WEBHOOK_SECRET is not set, so webhook requests go out unsigned and the receiver cannot verify they come from this program: set it to at least 16 random characters (openssl rand -hex 32) and verify X-OTW-Signature.',
    });
  }
  if (app.config.notify.teams && isConnectorUrl(app.config.notify.teams.webhookUrl) && app.notifiers.some((n) => n.name === 'teams')) {
    lines.push({
      name: 'notifier teams',
      ok: true,
      warn: true,
      detail: 'TEAMS_WEBHOOK_URL is an Office 365 connector webhook, which Microsoft is retiring: create a Workflows webhook ("Post to a channel when a webhook request is received") and use its URL instead.',
    });
  }
  if (app.config.notify.defaulted) {
    lines.push({
      name: 'notifiers',
      ok: true,
      warn: true,
      detail: 'no notifier is configured, so alerts only reach stdout: set SLACK_WEBHOOK_URL, SMTP_HOST and EMAIL_*, WEBHOOK_URL, PAGERDUTY_ROUTING_KEY or TEAMS_WEBHOOK_URL (or NOTIFIERS=console if stdout is where you want them).',
    });
  }
  return lines;
}

/** One System Log request like the poller's, over the last minute: are these credentials enough? */
async function checkSystemLog(okta: OktaHttp, config: AppConfig, filter: string, clock: Clock): Promise<CheckLine[]> {
  const now = clock.now();
  const o = config.okta!;
  const lines: CheckLine[] = [];
  const url = buildLogUrl(o.orgUrl, { filter, since: new Date(now.getTime() - 60_000), limit: 1 });
  try {
    const res = await okta.get(url);
    const clockLine = checkClock(res.header('date'), clock.now().getTime(), config.poll.lookbackMs);
    if (clockLine) lines.push(clockLine);
    if (res.status >= 200 && res.status < 300 && Array.isArray(res.body)) {
      const rl = `${res.header('x-rate-limit-remaining') ?? '?'}/${res.header('x-rate-limit-limit') ?? '?'}`;
      lines.push({ name: 'okta', ok: true, detail: `System Log readable with these credentials; rate limit remaining ${rl}` });
    } else if (res.status >= 200 && res.status < 300) {
      lines.push({ name: 'okta', ok: false, detail: 'OKTA_ORG_URL answered, but not like Okta\'s System Log API: check the URL.' });
    } else {
      lines.push({ name: 'okta', ok: false, detail: explainStatus(res.status, res.body, o.auth.mode) });
    }
  } catch (err) {
    lines.push({ name: 'okta', ok: false, detail: explainOktaFailure(err, o.auth.mode) });
  }
  return lines;
}

/** Each notifier's own check (settings, and the destination when it can be reached without sending). */
async function checkNotifiers(notifiers: readonly Notifier[]): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  for (const n of notifiers) {
    if (!n.check) {
      lines.push({ name: `notifier ${n.name}`, ok: true, detail: 'settings valid' });
      continue;
    }
    try {
      await n.check();
      lines.push({ name: `notifier ${n.name}`, ok: true, detail: 'settings valid and destination reachable' });
    } catch (err) {
      lines.push({ name: `notifier ${n.name}`, ok: false, detail: err instanceof Error ? err.message : String(err) });
    }
  }
  return lines;
}

/**
 * Okta's clock against ours, from a response's Date header: a WARN line when they are more than half
 * of LOOKBACK apart (the poller reads on Okta's clock, but the local one needs fixing). Null otherwise.
 */
export function checkClock(dateHeader: string | null, localNow: number, lookbackMs: number): CheckLine | null {
  const serverNow = Date.parse(dateHeader ?? '');
  if (!Number.isFinite(serverNow)) return null;
  const offset = serverNow - localNow;
  if (!clockSkewIsLarge(offset, lookbackMs)) return null;
  const seconds = Math.round(Math.abs(offset) / 1000);
  return {
    name: 'clock',
    ok: true,
    warn: true,
    detail: `the local clock is ${seconds} s ${offset < 0 ? 'ahead of' : 'behind'} Okta's (more than half of LOOKBACK): the poller uses Okta's clock, but fix the local one (NTP).`,
  };
}

/**
 * The registered event hook (when `event-hook register` stored one): Okta sends events only to an
 * ACTIVE and VERIFIED hook. One read-only GET; the SDK's generated API is loaded only here.
 */
async function checkReceiver(hook: AppConfig['eventHook']): Promise<CheckLine[]> {
  if (!hook) return [];
  // Okta's own verification step, asked of the receiver on this machine: it shows the daemon is
  // up with this secret and path. Reachability from the internet is `event-hook register`'s test.
  const host = hook.host === '0.0.0.0' || hook.host === '::' ? '127.0.0.1' : hook.host;
  const where = `${hook.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${hook.port}${hook.path}`;
  const challenge = `okta-token-watch-check-${Date.now()}`;
  const answer = await new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
    const mod = hook.tls ? https : http;
    // The receiver's own certificate may be self-signed or name the public host, not this address.
    const req = mod.get(where, { headers: { authorization: hook.secret, 'x-okta-verification-challenge': challenge }, timeout: 3000, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body = (body + c).slice(0, 4096)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 3 s')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
  if ('error' in answer) {
    return [{ name: 'push receiver', ok: true, warn: true, detail: `settings valid; nothing answers at ${where} (${plainText(answer.error, 60)}): start the daemon (run) before registering the hook.` }];
  }
  let verified = false;
  try {
    verified = (JSON.parse(answer.body) as { verification?: unknown }).verification === challenge;
  } catch {
    /* not JSON: not our receiver */
  }
  if (answer.status === 200 && verified) return [{ name: 'push receiver', ok: true, detail: `answers Okta's verification at ${where}` }];
  const why = answer.status === 401 ? 'it refused this EVENT_HOOK_SECRET (a daemon started with another secret?)' : `it answered HTTP ${answer.status} without the challenge (another program on EVENT_HOOK_PORT, or EVENT_HOOK_PATH differs?)`;
  return [{ name: 'push receiver', ok: false, detail: `${where}: ${why}` }];
}

async function checkEventHook(store: Store, config: AppConfig): Promise<CheckLine[]> {
  const stored = await store.registeredEventHook();
  if (!stored) return [];
  const lines: CheckLine[] = [];
  if (!config.eventHookSecret) {
    lines.push({ name: 'event hook', ok: false, detail: 'an event hook is registered but EVENT_HOOK_SECRET is not set: set the secret the hook was registered with, or run "okta-token-watch event-hook remove".' });
  }
  const { EventHookClient, EventHookApiError } = await import('./okta/event-hooks');
  const again = `run "okta-token-watch event-hook register --url ${stored.uri}" with the daemon running`;
  try {
    const hook = await new EventHookClient(config.okta!, 'read').get(stored.hookId);
    const ok = hook.status === 'ACTIVE' && hook.verificationStatus === 'VERIFIED';
    lines.push({
      name: 'event hook',
      ok,
      detail: ok
        ? `${plainText(hook.id, 60)} is ACTIVE and VERIFIED for ${plainText(hook.uri, 300)}`
        : `${plainText(hook.id, 60)} is ${plainText(hook.status || 'in an unknown state', 30)} and ${plainText(hook.verificationStatus || 'not verified', 30)}: Okta pushes events only to an ACTIVE, VERIFIED hook; ${again}.`,
    });
  } catch (err) {
    if (!(err instanceof EventHookApiError)) throw err;
    const why =
      err.status === 404
        ? `the registered hook ${plainText(stored.hookId, 60)} no longer exists in Okta; ${again}.`
        : err.status === 403 || err.transport?.detail?.error === 'invalid_scope'
          ? `may not read event hooks (${plainText(err.message, 300)}): grant okta.eventHooks.read (or manage) to the service app, or use a Super Administrator's token.`
          : `cannot read the registered hook ${plainText(stored.hookId, 60)}: ${plainText(err.message, 300)}.`;
    lines.push({ name: 'event hook', ok: false, detail: why });
  }
  return lines;
}
