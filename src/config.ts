import { createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pollScheduleProblem } from './poll-schedule';
import { parseDuration } from './duration';
import { parseEnvFile } from './env-file';
import { ConfigError } from './errors';
import { fileReadProblem } from './file-problem';
import { isSetting, notASetting, unknownEnvironmentNames, type SettingName } from './settings';
import { envReferences } from './orgs/env-refs';
import { parseNotifyConfig, type NotifyConfig } from './notify/config';
import { parseDetectConfig, type DetectConfig } from './detect/config';
import { parseEventHookConfig, type EventHookConfig } from './hook/config';
import { parseResponseConfig, type ResponseConfig } from './respond/config';
import { parseSlackAppConfig, type SlackAppConfig } from './slack-app/config';
import { loadOrgsFile, refusedWithOrgsFile, type OrgConfig } from './orgs/config';

/** How the daemon authenticates to Okta. */
export type OktaAuth =
  | { mode: 'ssws'; token: string }
  | {
      mode: 'oauth';
      clientId: string;
      privateKey: string;
      /** The setting the key came from, for error sentences (never the key itself). */
      keySetting: 'OKTA_PRIVATE_KEY' | 'OKTA_PRIVATE_KEY_FILE';
      keyId: string | undefined;
      scopes: string[];
    };

/** Settings of the Okta source. */
export interface OktaConfig {
  /** The org's origin, e.g. `https://example.okta.com` (no path, no trailing slash). */
  orgUrl: string;
  auth: OktaAuth;
  requestTimeoutMs: number;
  /** Attempts after the first for 5xx, timeouts and network errors. */
  maxRetries: number;
  /** Longest single wait for a rate-limit reset before the tick gives up. */
  maxRateLimitWaitMs: number;
  /** Fraction (0..1) of the rate limit left to the org's other integrations. */
  rateLimitHeadroom: number;
  pageLimit: number;
}

/** Settings of the schedule and the look-back. */
export interface PollConfig {
  schedule: string;
  lookbackMs: number;
  maxAlertsPerRun: number;
  /**
   * FOLLOW_WINDOW: how long after its creation each new token's activity is followed (0: off).
   * Optional so that code building a PollConfig by hand keeps working; ingest then uses the default.
   */
  followWindowMs?: number;
  /**
   * FOLLOW_SETTLE: how long after a watch's end (its window's end, or the revoke) the follow query
   * keeps reading before the digest, for events Okta stores late. Default: LOOKBACK.
   */
  followSettleMs?: number;
}

/** Settings of the outbox dispatcher. */
export interface DeliveryConfig {
  maxAttempts: number;
  maxAgeMs: number;
  /** How often the dispatcher looks for due deliveries between ticks. */
  intervalMs: number;
}

/** How orgs are shared out: between replicas (leases) and within one process (concurrency). */
export interface ScaleConfig {
  /** LEASE_TTL: how long an org's lease lasts without renewal (renewed every third of it). */
  leaseTtlMs: number;
  /** ORG_CONCURRENCY: at most this many orgs' ticks run at once in one process. */
  orgConcurrency: number;
}

/** Settings of the logger. */
export interface LogConfig {
  level: 'error' | 'warn' | 'info' | 'debug';
  format: 'json' | 'pretty';
}

/** The health and metrics endpoint; null when HEALTH_PORT is unset. */
export interface HealthConfig {
  host: string;
  port: number;
}

/** Everything, parsed once at start-up and handed out in typed slices. */
export interface AppConfig {
  okta: OktaConfig | null;
  poll: PollConfig;
  /**
   * Where the store lives: PostgreSQL at databaseUrl when DATABASE_URL is set (replicas share it),
   * else the SQLite file at dbPath. databaseUrl holds a password: it is in `secrets`, never logged.
   */
  store: { dbPath: string; databaseUrl?: string | null };
  log: LogConfig;
  delivery: DeliveryConfig;
  scale: ScaleConfig;
  health: HealthConfig | null;
  notify: NotifyConfig;
  detect: DetectConfig;
  /** The push receiver (Okta Event Hooks); null when EVENT_HOOK_PORT is unset. */
  eventHook: EventHookConfig | null;
  /** EVENT_HOOK_SECRET (part of eventHook; here for `event-hook register` and `check`); null when unset. */
  eventHookSecret: string | null;
  /** What analysts may do about alerts (RESPONSE_ACTIONS) and who may in Slack (RESPONDERS). */
  respond: ResponseConfig;
  /** Slack app mode (buttons on alerts over Socket Mode); null when SLACK_APP_TOKEN is unset. */
  slackApp: SlackAppConfig | null;
  /**
   * The orgs of ORGS_FILE, each with its own full config; null without ORGS_FILE (one org, from the
   * env file: `okta` above). With ORGS_FILE, `okta`, `eventHook` and `eventHookSecret` above are null.
   */
  orgs: OrgConfig[] | null;
  /** Every secret value found in the settings (with ORGS_FILE: every org's too), for the log redactor. */
  secrets: string[];
  /**
   * Sentences about names in the process environment that look like settings but are not (a
   * typo there is not fatal: the environment is shared with other software). Logged at start,
   * FAIL lines in `check`.
   */
  warnings: string[];
}

/** The environment as a plain map. */
export type Env = Record<string, string | undefined>;

/**
 * Reads the env file (`.env` in the working directory unless a path is given) and overlays the
 * process environment, which wins. The file's syntax is `parseEnvFile`'s; every name in it must be
 * a setting, so a typo stops start-up instead of silently leaving a notifier unconfigured.
 * A missing default `.env` is fine; a missing explicit file is a configuration error.
 */
export function loadEnv(envFile: string | undefined, processEnv: Env = process.env): Env {
  const file = envFile ?? path.resolve('.env');
  const label = envFile ?? '.env';
  const fromFile: Env = {};
  let text: string | null = null;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && envFile === undefined) text = null;
    else if (code === 'ENOENT') throw new ConfigError([`--env-file: the file ${envFile} does not exist; give the path of your env file.`]);
    else throw new ConfigError([`${envFile ? '--env-file' : 'The env file'} ${label} cannot be read (${code ?? 'error'}): check that this user may read it.`]);
  }
  if (text !== null) {
    const parsed = parseEnvFile(text, label);
    const problems = [...parsed.problems];
    const orgsFile = processEnv.ORGS_FILE ?? parsed.entries.find((e) => e.name === 'ORGS_FILE')?.value;
    for (const e of parsed.entries) {
      if (!isSetting(e.name)) problems.push(orgSecretInEnvFile(e.name, `(${label} line ${e.line}) `, orgsFile) ?? notASetting(e.name, `(${label} line ${e.line}) `));
      else fromFile[e.name] = e.value;
    }
    if (problems.length > 0) throw new ConfigError(problems);
  }
  const env: Env = { ...fromFile };
  for (const [k, v] of Object.entries(processEnv)) if (v !== undefined) env[k] = v;
  return env;
}

/**
 * The sentence for a variable of the env file that the orgs file reads as an org's secret
 * (`{ env: NAME }`): it belongs in the daemon's process environment. Null when the orgs file does
 * not name it (or cannot be read: its own check says why later). Never the value.
 */
function orgSecretInEnvFile(name: string, where: string, orgsFile: string | undefined): string | null {
  if (!orgsFile) return null;
  let text: string;
  try {
    // Only a regular file of a sane size (its loader says what is wrong with any other, later).
    const st = fs.statSync(orgsFile);
    if (!st.isFile() || st.size > 1024 * 1024) return null;
    text = fs.readFileSync(orgsFile, 'utf8');
  } catch {
    return null;
  }
  if (!envReferences(text).has(name)) return null;
  return `${name} ${where}is an org's secret that ORGS_FILE reads ({ env: ${name} }), not a setting: the env file holds settings only; set it in the daemon's process environment (a root-only EnvironmentFile= of the unit, a Kubernetes secret), or use { file: ... } in the orgs file.`;
}

/** Settings collected while parsing, with the problems found so far. */
export class EnvReader {
  readonly problems: string[] = [];
  readonly secrets: string[] = [];
  constructor(readonly env: Env) {}

  /** The trimmed value, or undefined when unset or blank. */
  get(name: SettingName): string | undefined {
    const v = this.env[name];
    if (v === undefined) return undefined;
    const t = v.trim();
    return t === '' ? undefined : t;
  }

  secret(name: SettingName): string | undefined {
    const v = this.get(name);
    if (v !== undefined) this.secrets.push(v);
    return v;
  }

  problem(sentence: string): void {
    this.problems.push(sentence);
  }

  duration(name: SettingName, fallback: string): number {
    const raw = this.get(name) ?? fallback;
    const ms = parseDuration(raw);
    if (ms === null || ms <= 0) {
      this.problem(`${name} is not a duration: use a number and a unit, like 90s, 6m, 2h or 7d (default ${fallback}).`);
      return parseDuration(fallback) ?? 0;
    }
    return ms;
  }

  integer(name: SettingName, fallback: number, min: number, max: number, defaultText = `default ${fallback}`): number {
    const raw = this.get(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      this.problem(`${name} must be a whole number from ${min} to ${max} (${defaultText}).`);
      return fallback;
    }
    return Number(raw);
  }

  oneOf<T extends string>(name: SettingName, allowed: readonly T[], fallback: T): T {
    const raw = this.get(name);
    if (raw === undefined) return fallback;
    const v = raw.toLowerCase() as T;
    if (!allowed.includes(v)) {
      this.problem(`${name} must be one of ${allowed.join(', ')} (default ${fallback}).`);
      return fallback;
    }
    return v;
  }

  boolean(name: SettingName, fallback: boolean): boolean {
    const raw = this.get(name);
    if (raw === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    this.problem(`${name} must be true or false (default ${fallback}).`);
    return fallback;
  }

  /**
   * An https URL, or http only on loopback (for local testing). Never echoes the value: webhook
   * URLs are secrets.
   */
  url(name: SettingName, opts: { secret?: boolean } = {}): URL | undefined {
    const raw = opts.secret ? this.secret(name) : this.get(name);
    if (raw === undefined) return undefined;
    const problem = checkUrl(raw);
    if (problem) {
      this.problem(`${name} ${problem}`);
      return undefined;
    }
    return new URL(raw);
  }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Why a URL is not acceptable for an outbound destination, or null when it is. */
export function checkUrl(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'is not a valid URL: give a full https:// URL.';
  }
  if (u.username || u.password) return 'must not carry a user name or password in the URL.';
  if (u.protocol === 'https:') return null;
  if (u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname)) return null;
  return 'must be an https:// URL (http:// is accepted only for 127.0.0.1 or localhost, for local testing).';
}

/**
 * Parses the OKTA_* settings, recording problems on the reader. Exported for ORGS_FILE, which runs
 * it once per org over that org's values.
 */
export function parseOkta(r: EnvReader): OktaConfig | null {
  const before = r.problems.length;
  const rawUrl = r.get('OKTA_ORG_URL');
  let orgUrl = '';
  if (rawUrl === undefined) {
    r.problem('OKTA_ORG_URL is not set: set it to your Okta org URL, like https://example.okta.com.');
  } else {
    const problem = checkUrl(rawUrl);
    if (problem) r.problem(`OKTA_ORG_URL ${problem}`);
    else {
      const u = new URL(rawUrl);
      if (u.pathname !== '/' || u.search || u.hash) {
        r.problem('OKTA_ORG_URL must be the bare org URL with no path, like https://example.okta.com.');
      } else if (/-admin\./i.test(u.hostname)) {
        r.problem('OKTA_ORG_URL points at the Admin Console host (-admin): use the org URL without -admin.');
      } else {
        orgUrl = u.origin;
      }
    }
  }

  const token = r.secret('OKTA_API_TOKEN');
  const clientId = r.get('OKTA_CLIENT_ID');
  const keyInline = r.secret('OKTA_PRIVATE_KEY');
  const keyFile = r.get('OKTA_PRIVATE_KEY_FILE');
  const keyIdSetting = r.get('OKTA_KEY_ID');
  const scopes = (r.get('OKTA_SCOPES') ?? 'okta.logs.read').split(/[\s,]+/).filter(Boolean);
  let auth: OktaAuth | null = null;

  if (token && (clientId || keyInline || keyFile)) {
    r.problem('OKTA_API_TOKEN and OKTA_CLIENT_ID are both set: use either an API token or an OAuth service app, not both.');
  } else if (token) {
    if (/^(SSWS|Bearer)\s/i.test(token)) {
      r.problem('OKTA_API_TOKEN must be the bare token, without the "SSWS " prefix.');
    } else {
      auth = { mode: 'ssws', token };
    }
  } else if (clientId || keyInline || keyFile) {
    let privateKey: string | undefined;
    if (!clientId) r.problem('OKTA_CLIENT_ID is not set: set it to the client id of your Okta API service app.');
    if (keyInline && keyFile) {
      r.problem('OKTA_PRIVATE_KEY and OKTA_PRIVATE_KEY_FILE are both set: use one of them.');
    } else if (keyFile) {
      try {
        privateKey = fs.readFileSync(keyFile, 'utf8').trim();
        r.secrets.push(privateKey);
      } catch (err) {
        r.problem(fileReadProblem('OKTA_PRIVATE_KEY_FILE', keyFile, err));
      }
    } else if (keyInline) {
      // Env files cannot hold real newlines easily; accept \n escapes in an inline PEM.
      privateKey = keyInline.replace(/\\n/g, '\n');
      r.secrets.push(privateKey);
    } else {
      r.problem('OKTA_PRIVATE_KEY is not set: set OKTA_PRIVATE_KEY (PEM or JWK) or OKTA_PRIVATE_KEY_FILE for the service app.');
    }
    let keyId = keyIdSetting;
    const keySetting = keyFile ? 'OKTA_PRIVATE_KEY_FILE' : 'OKTA_PRIVATE_KEY';
    if (privateKey !== undefined) {
      const kind = privateKeyKind(privateKey);
      const unusable = kind === null ? null : privateKeyProblem(privateKey, kind.kind);
      if (kind === null) {
        r.problem(`${keySetting} holds neither a PEM private key nor a JWK: paste the key Okta generated for the app.`);
      } else if (unusable) {
        r.problem(`${keySetting} ${unusable}`);
      } else if (kind.kind === 'jwk' && !keyId && kind.kid) {
        keyId = kind.kid;
      }
      if (!keyId) r.problem('OKTA_KEY_ID is not set: set it to the key id (kid) shown for the key in the app\'s settings.');
    }
    if (!scopes.includes('okta.logs.read')) {
      r.problem('OKTA_SCOPES must include okta.logs.read, the scope the System Log needs.');
    }
    if (clientId && privateKey && keyId && r.problems.length === before) auth = { mode: 'oauth', clientId, privateKey, keySetting, keyId, scopes };
  } else {
    r.problem('OKTA_API_TOKEN is not set: set it, or set OKTA_CLIENT_ID, OKTA_PRIVATE_KEY (or OKTA_PRIVATE_KEY_FILE) and OKTA_KEY_ID for an OAuth service app.');
  }

  const requestTimeoutMs = r.duration('OKTA_REQUEST_TIMEOUT', '60s');
  const maxRetries = r.integer('OKTA_MAX_RETRIES', 5, 0, 20);
  const maxRateLimitWaitMs = r.duration('OKTA_MAX_RATE_LIMIT_WAIT', '2m');
  const headroomPct = r.integer('OKTA_RATE_LIMIT_HEADROOM_PERCENT', 10, 0, 90);
  if (r.problems.length > before || !auth) return null;
  return {
    orgUrl,
    auth,
    requestTimeoutMs,
    maxRetries,
    maxRateLimitWaitMs,
    rateLimitHeadroom: headroomPct / 100,
    pageLimit: 1000,
  };
}

/** Tells a PEM key from a JWK, and finds the JWK's kid. */
function privateKeyKind(key: string): { kind: 'pem' } | { kind: 'jwk'; kid: string | undefined } | null {
  if (/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(key)) return { kind: 'pem' };
  try {
    const jwk = JSON.parse(key) as Record<string, unknown>;
    if (jwk && typeof jwk === 'object' && typeof jwk.kty === 'string' && typeof jwk.d === 'string') {
      return { kind: 'jwk', kid: typeof jwk.kid === 'string' ? jwk.kid : undefined };
    }
  } catch {
    /* not JSON */
  }
  return null;
}

/**
 * Why a key that looks like a PEM or JWK cannot be used, or null when it can. The key is parsed
 * here, at start-up, because the SDK only reads it when it first asks for an access token, and
 * its failure there looked like a network error retried six times. Never quotes the key.
 */
function privateKeyProblem(key: string, kind: 'pem' | 'jwk'): string | null {
  let type: string | undefined;
  try {
    const k = kind === 'pem' ? createPrivateKey(key) : createPrivateKey({ key: JSON.parse(key) as import('node:crypto').JsonWebKey, format: 'jwk' });
    type = k.asymmetricKeyType;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MISSING_PASSPHRASE') return 'is an encrypted private key: export it without a passphrase (openssl pkey -in key.pem -out plain.pem).';
    return 'cannot be read as a private key (it is damaged or incomplete): paste the whole key Okta generated for the app, BEGIN and END lines included.';
  }
  // The SDK signs its DPoP proofs with RS256 whatever the key, so only an RSA key can work.
  if (type !== 'rsa') return `is ${type === undefined ? 'not an RSA key' : `an ${type.toUpperCase()} key`}: the Okta SDK signs with RS256, so the service app needs an RSA key.`;
  return null;
}

/** What a command needs from the settings. */
export interface ParseOptions {
  /** Commands that talk to Okta need its settings; `status` and `retry-failed` do not. */
  requireOkta: boolean;
}

/** Parses and validates every setting at once; throws ConfigError listing every problem. */
export function parseConfig(env: Env, opts: ParseOptions): AppConfig {
  const r = new EnvReader(env);
  const orgsFile = r.get('ORGS_FILE');
  // With ORGS_FILE the file is the one place that says which orgs exist and how to reach them.
  if (orgsFile !== undefined) {
    const refused = refusedWithOrgsFile(r);
    if (refused.length > 0) {
      r.problem(`${refused.join(', ')} ${refused.length === 1 ? 'is' : 'are'} set together with ORGS_FILE: each org's URL, credentials and event hook secret are given in that file; remove ${refused.length === 1 ? 'it' : 'them'} from the env file and the environment.`);
    }
  }

  const okta = orgsFile !== undefined ? null : opts.requireOkta ? parseOkta(r) : tryParseOkta(r);

  const schedule = r.get('POLL_SCHEDULE') ?? '*/5 * * * *';
  const scheduleProblem = pollScheduleProblem(schedule);
  if (scheduleProblem) r.problem(scheduleProblem);
  const poll: PollConfig = {
    schedule,
    lookbackMs: r.duration('LOOKBACK', '6m'),
    maxAlertsPerRun: r.integer('MAX_ALERTS_PER_RUN', 100, 1, 100000),
    followWindowMs: parseFollowWindow(r),
  };
  if (poll.lookbackMs > 90 * 86_400_000) r.problem('LOOKBACK must be at most 90d, Okta\'s System Log retention.');
  // Unset: LOOKBACK, the allowance the poller makes for late events (at most a day: a longer one
  // would only hold digests back).
  if (r.get('FOLLOW_SETTLE') === undefined) poll.followSettleMs = Math.min(poll.lookbackMs, 86_400_000);
  else {
    poll.followSettleMs = r.duration('FOLLOW_SETTLE', '6m');
    if (poll.followSettleMs > 86_400_000) r.problem('FOLLOW_SETTLE must be at most 24h.');
  }

  const dbPath = r.get('DB_PATH') ?? './data/okta-token-watch.sqlite';
  // Nothing here expands `~` (no shell reads this file): it would become a directory named "~".
  if (/^~/.test(dbPath)) r.problem('DB_PATH starts with ~, which is not expanded to a home directory: write the full path.');
  const databaseUrl = parseDatabaseUrl(r);
  const log: LogConfig = {
    level: r.oneOf('LOG_LEVEL', ['error', 'warn', 'info', 'debug'] as const, 'info'),
    format: r.oneOf('LOG_FORMAT', ['json', 'pretty'] as const, 'json'),
  };
  const delivery: DeliveryConfig = {
    maxAttempts: r.integer('DELIVERY_MAX_ATTEMPTS', 10, 1, 1000),
    maxAgeMs: r.duration('DELIVERY_MAX_AGE', '48h'),
    intervalMs: r.duration('DELIVERY_INTERVAL', '15s'),
  };
  const scale: ScaleConfig = { leaseTtlMs: leaseTtl(r), orgConcurrency: r.integer('ORG_CONCURRENCY', 8, 1, 64) };
  let health: HealthConfig | null = null;
  if (r.get('HEALTH_PORT') !== undefined) {
    health = { port: r.integer('HEALTH_PORT', 0, 0, 65535, 'unset: off; 0 picks a free port'), host: r.get('HEALTH_HOST') ?? '127.0.0.1' };
  }
  const notify = parseNotifyConfig(r);
  const slackApp = parseSlackAppConfig(r, notify);
  const detect = parseDetectConfig(r);
  // With ORGS_FILE each org has its own event hook secret: the receiver's settings are read per org.
  const eventHook = orgsFile !== undefined ? null : parseEventHookConfig(r);
  const respond = parseResponseConfig(r);
  if (eventHook && health && eventHook.port !== 0 && eventHook.port === health.port && eventHook.host === health.host) {
    r.problem('EVENT_HOOK_PORT is the same as HEALTH_PORT: the push receiver needs its own port.');
  }

  const config: AppConfig = { okta, poll, store: { dbPath, databaseUrl }, log, delivery, scale, health, notify, detect, eventHook, eventHookSecret: eventHook?.secret ?? null, respond, slackApp, orgs: null, secrets: r.secrets, warnings: unknownEnvironmentNames(env) };
  if (orgsFile !== undefined) {
    // Read even when other settings are wrong, so one run lists every problem; an org's problem
    // that only repeats a shared setting's is not said twice.
    const loaded = loadOrgsFile(config, env, r.problems, opts);
    for (const p of loaded.problems) r.problem(p);
    if (loaded.orgs) {
      config.orgs = loaded.orgs;
      for (const o of loaded.orgs) for (const s of o.config.secrets) if (!config.secrets.includes(s)) config.secrets.push(s);
      // The variables the file names are the orgs' credentials, not mistyped settings.
      config.warnings = config.warnings.filter((w) => !loaded.referencedEnv.some((n) => w.startsWith(`${n} `)));
      for (const o of loaded.orgs) o.config.warnings = config.warnings;
      const hook = loaded.orgs.find((o) => o.config.eventHook)?.config.eventHook;
      if (hook && health && hook.port !== 0 && hook.port === health.port && hook.host === health.host) {
        r.problem('EVENT_HOOK_PORT is the same as HEALTH_PORT: the push receiver needs its own port.');
      }
    }
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/**
 * LEASE_TTL: at least 10s, because leases are renewed every third of it and one renewal may wait
 * for SQLite's 5 s busy timeout; at most 1h, because a dead replica's orgs go unpolled for that long.
 */
function leaseTtl(r: EnvReader): number {
  const ms = r.duration('LEASE_TTL', '2m');
  if (r.get('LEASE_TTL') !== undefined && (ms < 10_000 || ms > 3_600_000)) r.problem('LEASE_TTL must be from 10s to 1h (default 2m).');
  return Math.min(Math.max(ms, 10_000), 3_600_000);
}

/**
 * DATABASE_URL: a `postgresql://USER:PASSWORD@HOST:PORT/DATABASE` URL (pg's query options such as
 * `?sslmode=require` allowed), or null when unset (SQLite at DB_PATH). The value and its password
 * are secrets: registered for the log redactor, and no problem sentence repeats any part of it.
 */
function parseDatabaseUrl(r: EnvReader): string | null {
  const raw = r.secret('DATABASE_URL');
  if (raw === undefined) return null;
  const form = 'write postgresql://USER:PASSWORD@HOST:5432/DATABASE';
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    r.problem(`DATABASE_URL is not a valid URL: ${form}.`);
    return null;
  }
  let password = '';
  try {
    password = decodeURIComponent(u.password);
  } catch {
    r.problem(`DATABASE_URL has a badly %-encoded password: encode special characters in it as %XX.`);
    return null;
  }
  if (password) r.secrets.push(password, u.password);
  if (u.protocol !== 'postgresql:' && u.protocol !== 'postgres:') r.problem(`DATABASE_URL must be a postgresql:// URL: ${form} (leave it unset to use SQLite at DB_PATH).`);
  else if (!u.hostname) r.problem(`DATABASE_URL names no host: ${form}.`);
  else if (!u.pathname.replace(/^\//, '')) r.problem(`DATABASE_URL names no database: ${form}.`);
  else if (r.get('DB_PATH') !== undefined) r.problem('DATABASE_URL and DB_PATH are both set: the store is PostgreSQL when DATABASE_URL is set, so remove DB_PATH.');
  else return raw;
  return null;
}

/**
 * FOLLOW_WINDOW: `0` (any unit, or none) turns following off; otherwise a duration of at most 90d,
 * since the follow query cannot read past Okta's System Log retention.
 */
export function parseFollowWindow(r: EnvReader): number {
  const raw = r.get('FOLLOW_WINDOW');
  if (raw !== undefined && /^0+(?:\.0+)?\s*(?:ms|s|m|h|d)?$/i.test(raw)) return 0;
  const ms = r.duration('FOLLOW_WINDOW', '24h');
  if (ms > 90 * 86_400_000) r.problem('FOLLOW_WINDOW must be at most 90d, Okta\'s System Log retention (0 turns following off).');
  return ms;
}

/** Okta settings when they are complete, else null, without raising problems. */
function tryParseOkta(main: EnvReader): OktaConfig | null {
  const sub = new EnvReader(main.env);
  const okta = parseOkta(sub);
  main.secrets.push(...sub.secrets);
  return sub.problems.length === 0 ? okta : null;
}
