/**
 * The settings schema: every name this program reads from the environment or the env file.
 *
 * This list is the one place that says what a setting is. `EnvReader` only accepts these names
 * (the compiler enforces it), the env file refuses any other name, and the README and
 * `.env.example` are checked against it (test/docs.test.ts).
 */
export const SETTINGS = [
  // Okta
  'OKTA_ORG_URL',
  'OKTA_API_TOKEN',
  'OKTA_CLIENT_ID',
  'OKTA_PRIVATE_KEY',
  'OKTA_PRIVATE_KEY_FILE',
  'OKTA_KEY_ID',
  'OKTA_SCOPES',
  'OKTA_REQUEST_TIMEOUT',
  'OKTA_MAX_RETRIES',
  'OKTA_MAX_RATE_LIMIT_WAIT',
  'OKTA_RATE_LIMIT_HEADROOM_PERCENT',
  // Many orgs: one file says which orgs exist and how to reach each
  'ORGS_FILE',
  // Schedule, store, logs, health
  'POLL_SCHEDULE',
  'LOOKBACK',
  'MAX_ALERTS_PER_RUN',
  'DB_PATH',
  'DATABASE_URL',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'HEALTH_PORT',
  'HEALTH_HOST',
  // Replicas and many orgs
  'LEASE_TTL',
  'ORG_CONCURRENCY',
  // Push (Okta event hooks)
  'EVENT_HOOK_SECRET',
  // Detection
  'ALERT_OUTCOMES',
  'EXCEPTIONS_FILE',
  'TOKEN_LOOKUP',
  'TOKEN_LOOKUP_TIMEOUT',
  'TOKEN_LOOKUP_MAX',
  // Following each new token
  'FOLLOW_WINDOW',
  'FOLLOW_SETTLE',
  // Notifiers
  'NOTIFIERS',
  'NOTIFY_TIMEOUT',
  'SLACK_WEBHOOK_URL',
  'SLACK_BOT_TOKEN',
  'SLACK_CHANNEL',
  'SLACK_API_URL',
  'SLACK_APP_TOKEN',
  'SMTP_URL',
  'SMTP_HOST',
  'SMTP_PORT',
  'SMTP_SECURE',
  'SMTP_REQUIRE_TLS',
  'SMTP_USER',
  'SMTP_PASSWORD',
  'EMAIL_FROM',
  'EMAIL_TO',
  'WEBHOOK_URL',
  'WEBHOOK_SECRET',
  'PAGERDUTY_ROUTING_KEY',
  'PAGERDUTY_EVENTS_URL',
  'TEAMS_WEBHOOK_URL',
  // Responding to alerts (revoke, expected, acknowledge)
  'RESPONSE_ACTIONS',
  'RESPONDERS',
  // Delivery
  'DELIVERY_MAX_ATTEMPTS',
  'DELIVERY_MAX_AGE',
  'DELIVERY_INTERVAL',
  // Push (Okta Event Hooks)
  'EVENT_HOOK_PORT',
  'EVENT_HOOK_HOST',
  'EVENT_HOOK_PATH',
  'EVENT_HOOK_SECRET',
  'EVENT_HOOK_TLS_CERT_FILE',
  'EVENT_HOOK_TLS_KEY_FILE',
] as const;

/** A name from the schema. */
export type SettingName = (typeof SETTINGS)[number];

const KNOWN: ReadonlySet<string> = new Set(SETTINGS);

/** True when the name is a setting of this program. */
export function isSetting(name: string): name is SettingName {
  return KNOWN.has(name);
}

/**
 * Name prefixes that belong to this program. In the process environment an unknown name that
 * starts with one is almost certainly a mistyped setting. Names from other software that share
 * our words (`DB_HOST`, `LOG_DIR`, `HEALTH_CHECK_URL`) are left alone unless they are one edit
 * away from a setting.
 */
export const OWN_PREFIXES = [
  'OKTA_', 'POLL_', 'LOOKBACK', 'MAX_ALERTS', 'ALERT_OUTCOME', 'EXCEPTIONS_', 'TOKEN_LOOKUP',
  'FOLLOW_', 'NOTIFIER', 'NOTIFY_', 'SLACK_', 'SMTP_', 'EMAIL_', 'WEBHOOK_', 'PAGERDUTY_', 'TEAMS_', 'DELIVERY_', 'EVENT_HOOK_',
  'RESPONSE_', 'RESPONDER',
] as const;

/**
 * The Okta SDK's own variables (`OKTA_CLIENT_ORGURL`, `OKTA_CLIENT_TOKEN`, ...): this program never
 * reads them (its SDK layer is built without the SDK's config loader), and other Okta tools on the
 * same host may rely on them, so they are not reported unless they are a near miss of a setting.
 */
const FOREIGN_PREFIXES = ['OKTA_CLIENT_', 'OKTA_TESTING_'] as const;

/**
 * Edit distance with adjacent transpositions (optimal string alignment), so that `ULR` for `URL`
 * counts as one mistake.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The setting closest to a name, with its distance. */
export function closestSetting(name: string): { name: SettingName; distance: number } {
  const upper = name.toUpperCase();
  let best: { name: SettingName; distance: number } = { name: SETTINGS[0], distance: Infinity };
  for (const s of SETTINGS) {
    const distance = editDistance(upper, s);
    if (distance < best.distance) best = { name: s, distance };
  }
  return best;
}

/** "X is not a setting; did you mean Y?", or a pointer to the list when nothing is close. */
export function notASetting(name: string, where: string): string {
  const close = closestSetting(name);
  // A third of the name, at least 2 edits: close enough to be the same word mistyped.
  const limit = Math.max(2, Math.floor(name.length / 3));
  return close.distance <= limit
    ? `${name} ${where}is not a setting; did you mean ${close.name}?`
    : `${name} ${where}is not a setting: the README's "Settings" section and .env.example list every setting.`;
}

/**
 * Variables other software sets on every host, container or npm run: never reported, whatever
 * they look like. Kubernetes injects `<SERVICE>_SERVICE_HOST`, `<SERVICE>_SERVICE_PORT[_<name>]`
 * and `<SERVICE>_PORT_<n>_<PROTO>[...]` for each service in the namespace, so a service called
 * `okta-token-watch` or `webhook` would otherwise look like a mistyped setting; systemd sets
 * `NOTIFY_SOCKET` (our `NOTIFY_` prefix) for `Type=notify` units.
 */
const IGNORED_NAMES = /^(?:PATH|HOME|USER|LOGNAME|SHELL|PWD|OLDPWD|TERM|LANG|LANGUAGE|TZ|TMPDIR|HOSTNAME|NOTIFY_SOCKET|(?:NODE|NPM|KUBERNETES|LC|XDG|SSH|SYSTEMD|LISTEN|WATCHDOG)_\w*)$|_SERVICE_(?:HOST|PORT)(?:_\w+)?$|_PORT_\d+_(?:TCP|UDP|SCTP)(?:_(?:ADDR|PORT|PROTO))?$/;

/** A Kubernetes `<SERVICE>_PORT=tcp://10.0.0.1:443` link variable (the name alone could be a typo of ours). */
function isServiceLink(name: string, value: string | undefined): boolean {
  return /_PORT$/.test(name) && /^(?:tcp|udp|sctp):\/\//.test(value ?? '');
}

/**
 * True when an unknown name is close enough to a setting to be a typo of it, compared without
 * regard to case: one edit always; two when the longer of the two names has 8 or more characters
 * (`NOTIFER` for `NOTIFIERS`), where two edits rarely turn one real word into another (`DB_PASS`
 * is two edits from `DB_PATH`, but both are short).
 */
export function isNearMiss(name: string): boolean {
  const close = closestSetting(name);
  return close.distance <= 1 || (close.distance <= 2 && Math.max(name.length, close.name.length) >= 8);
}

/**
 * Names in the process environment that look like this program's settings but are not: each one
 * a warning sentence. Considered: names with one of this program's prefixes (see OWN_PREFIXES) and
 * near misses of a setting (see isNearMiss), in any case (`notifiers`, `Slack_Webhook_Url`);
 * common variables of the system, Node, npm and Kubernetes never are (IGNORED_NAMES).
 */
export function unknownEnvironmentNames(env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (isSetting(name) || !/^[A-Za-z_][A-Za-z0-9_]{0,99}$/.test(name)) continue;
    const upper = name.toUpperCase();
    if (IGNORED_NAMES.test(upper) || isServiceLink(upper, env[name])) continue;
    const foreign = FOREIGN_PREFIXES.some((p) => upper.startsWith(p));
    const ours = !foreign && OWN_PREFIXES.some((p) => upper.startsWith(p));
    if (ours || isNearMiss(name)) out.push(notASetting(name, 'is set in the environment but '));
  }
  return out;
}
