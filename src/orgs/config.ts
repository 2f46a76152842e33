import fs from 'node:fs';
import path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { EnvReader, parseFollowWindow, parseOkta, type AppConfig, type Env } from '../config';
import { ConfigError } from '../errors';
import { fileReadProblem } from '../file-problem';
import { editDistance, isSetting, type SettingName } from '../settings';
import { parseNotifyConfig } from '../notify/config';
import { parseDetectConfig } from '../detect/config';
import { parseEventHookConfig } from '../hook/config';

/**
 * ORGS_FILE: the orgs one daemon watches, each with its URL, its credentials (by reference only)
 * and optionally its own notifier routing, exceptions, outcomes, follow window and event hook
 * secret. Each org's values are checked by the very parsers that check the env file's settings,
 * run over the env's values with that org's put in their place; their sentences are then reworded
 * to name the org, the file's line and the field instead of the setting.
 */

/** One org of ORGS_FILE: its name and the full configuration it runs with. */
export interface OrgConfig {
  /** `^[a-z0-9][a-z0-9-]{0,31}$`, unique in the file: it goes into URL paths, metric labels and alerts. */
  name: string;
  /** The org's origin, like `https://acme.okta.com` (also when `config.okta` is null). */
  url: string;
  /**
   * The env's settings with this org's URL, credentials and overrides; `orgs` is null in it. `config.okta`
   * is null only for commands that do not talk to Okta (requireOkta false) when the org's
   * credentials are not available where the command runs, as in a single-org install.
   */
  config: AppConfig;
  /** The line of the org's entry in ORGS_FILE. */
  line: number | null;
  /** Where each of the org's secrets comes from (never the value), for `check`. */
  references: OrgReference[];
}

/** A secret given by reference: an environment variable's name or a file's path. */
export type SecretRef = { env: string } | { file: string };

/** One reference of an org, named by its field (`apiToken`, `notify.webhook.url`, ...). */
export interface OrgReference {
  field: string;
  ref: SecretRef;
}

/**
 * Settings that say which org and how to reach it: with ORGS_FILE they belong in the file, and the
 * env file or environment setting one of them is a mistake (which org would it be?).
 */
export const ORG_SETTINGS = ['OKTA_ORG_URL', 'OKTA_API_TOKEN', 'OKTA_CLIENT_ID', 'OKTA_PRIVATE_KEY', 'OKTA_PRIVATE_KEY_FILE', 'OKTA_KEY_ID', 'EVENT_HOOK_SECRET'] as const satisfies readonly SettingName[];

/** The ORG_SETTINGS that are set, for the sentence refusing them. */
export function refusedWithOrgsFile(r: EnvReader): SettingName[] {
  return ORG_SETTINGS.filter((n) => r.get(n) !== undefined);
}

const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_FILE_BYTES = 1_000_000;
const MAX_ORGS = 1000;
/** A secret read from a file: more than this is not a token or a key, but the wrong file. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

const ORG_KEYS = ['name', 'url', 'apiToken', 'oauth', 'notify', 'exceptionsFile', 'alertOutcomes', 'followWindow', 'eventHook'] as const;
const OAUTH_KEYS = ['clientId', 'privateKey', 'keyId', 'scopes'] as const;
const NOTIFY_KEYS = ['notifiers', 'slack', 'email', 'webhook', 'pagerduty', 'teams'] as const;
const REF_KEYS = ['env', 'file'] as const;

/**
 * The orgs of ORGS_FILE, each a full AppConfig built from `base` (the env's settings); null when
 * ORGS_FILE is unset. Throws ConfigError with one sentence per problem, each naming ORGS_FILE, the
 * line and the org, never a secret's value.
 */
export function loadOrgs(base: AppConfig, env: Env, opts: { requireOkta: boolean } = { requireOkta: true }): OrgConfig[] | null {
  if (new EnvReader(env).get('ORGS_FILE') === undefined) return null;
  const loaded = loadOrgsFile(base, env, [], opts);
  if (loaded.problems.length > 0) throw new ConfigError(loaded.problems);
  return loaded.orgs;
}

/**
 * loadOrgs without throwing, for parseConfig: also the names of the environment variables the file
 * references. `sharedProblems` are sentences already said about the env's settings: an org whose
 * parse only repeats one of them does not say it again.
 */
export function loadOrgsFile(
  base: AppConfig,
  env: Env,
  sharedProblems: readonly string[] = [],
  opts: { requireOkta: boolean } = { requireOkta: true },
): { orgs: OrgConfig[] | null; problems: string[]; referencedEnv: string[] } {
  const file = new EnvReader(env).get('ORGS_FILE');
  if (file === undefined) return { orgs: null, problems: [], referencedEnv: [] };
  const shown = JSON.stringify(file.length > 300 ? `${file.slice(0, 300)}...` : file);
  let text: string;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) return { orgs: null, problems: [`ORGS_FILE ${shown} is not a regular file: give the path of the YAML file listing the orgs.`], referencedEnv: [] };
    if (stat.size > MAX_FILE_BYTES) return { orgs: null, problems: [`ORGS_FILE ${shown} is larger than 1 MB: check the path.`], referencedEnv: [] };
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return { orgs: null, problems: [fileReadProblem('ORGS_FILE', file, err)], referencedEnv: [] };
  }
  const reader = new OrgsReader(`ORGS_FILE ${shown}`, path.dirname(path.resolve(file)), env, base, sharedProblems, opts.requireOkta);
  const orgs = reader.read(text);
  return { orgs: reader.problems.length > 0 ? null : orgs, problems: reader.problems, referencedEnv: [...reader.referencedEnv] };
}

type Field = { node: YamlNode | null; line: number | null };

/** An org's values as the env parsers read them, and what to call each setting in a sentence. */
interface OrgValues {
  env: Env;
  /** Setting -> the field it came from (`apiToken (env OTW_PROD_TOKEN)`) and its line. */
  names: Map<SettingName, { label: string; line: number | null }>;
  secrets: string[];
  references: OrgReference[];
}

class OrgsReader {
  readonly problems: string[] = [];
  readonly referencedEnv = new Set<string>();
  private readonly lc = new LineCounter();

  constructor(
    private readonly where: string,
    private readonly dir: string,
    private readonly env: Env,
    private readonly base: AppConfig,
    private readonly shared: readonly string[],
    /** False for `status` and the like: an org's Okta credentials may be missing where they run. */
    private readonly requireOkta: boolean,
  ) {}

  private lineOf(node: { range?: [number, number, number] | null } | null | undefined): number | null {
    return node?.range ? this.lc.linePos(node.range[0]).line : null;
  }

  private at(line: number | null): string {
    return line === null ? this.where : `${this.where} line ${line}`;
  }

  private problem(line: number | null, sentence: string): void {
    this.problems.push(`${this.at(line)}: ${sentence}`);
  }

  read(source: string): OrgConfig[] {
    const doc = parseDocument(source, { lineCounter: this.lc, prettyErrors: false, uniqueKeys: true, version: '1.2', schema: 'core' });
    if (doc.errors.length > 0) {
      for (const e of doc.errors.slice(0, 5)) {
        const what = e.code === 'DUPLICATE_KEY' ? 'a key appears twice in the same mapping; keep one' : `the file is not valid YAML (${e.message.split('\n')[0]!.slice(0, 120)})`;
        this.problem(this.lc.linePos(e.pos[0]).line, `${what}.`);
      }
      return [];
    }
    const root = doc.contents as YamlNode | null;
    const rootLine = this.lineOf(root) ?? 1;
    if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
      this.problem(null, 'the file is empty: list the orgs under "orgs:", each with a name, url and credentials (see deploy/orgs.example.yaml).');
      return [];
    }
    // Anchors and aliases are refused: one org's entry must not change another's out of sight.
    const alias = findAlias(root);
    if (alias) {
      this.problem(this.lineOf(alias), 'YAML aliases (*name) are not supported in ORGS_FILE; write each org out in full.');
      return [];
    }
    const top = this.fields(root, ['orgs'], 'the file', rootLine);
    if (!top) return [];
    const list = top.get('orgs');
    if (!list && this.problems.length > 0) return [];
    if (!list || !isSeq(list.node) || list.node.items.length === 0) {
      this.problem(list?.line ?? rootLine, 'orgs must be a list of at least one org (each starting with "- ").');
      return [];
    }
    if (list.node.items.length > MAX_ORGS) {
      this.problem(list.line, `orgs lists more than ${MAX_ORGS} orgs; split them over several deployments.`);
      return [];
    }
    const out: OrgConfig[] = [];
    const names = new Map<string, number | null>();
    const urls = new Map<string, { name: string; line: number | null }>();
    list.node.items.forEach((item, i) => {
      const org = this.readOrg(item as YamlNode, i + 1, list.line);
      if (!org) return;
      const seen = names.get(org.name);
      if (seen !== undefined) {
        this.problem(org.line, `org "${org.name}" is listed twice (first at line ${seen ?? '?'}): each org needs its own name.`);
        return;
      }
      names.set(org.name, org.line);
      const url = org.url;
      const dup = urls.get(url);
      // Two entries for one org would poll it twice, and its alerts would race between them.
      if (dup) this.problem(org.line, `org "${org.name}" has the same url as org "${dup.name}" (line ${dup.line ?? '?'}): list each Okta org once.`);
      else urls.set(url, { name: org.name, line: org.line });
      out.push(org);
    });
    // The receiver's shared settings are read with each org's secret; without any org that pushes
    // they would go unread, so say so instead of ignoring them.
    const envReader = new EnvReader(this.env);
    const hookSettings = (['EVENT_HOOK_PORT', 'EVENT_HOOK_HOST', 'EVENT_HOOK_PATH', 'EVENT_HOOK_TLS_CERT_FILE', 'EVENT_HOOK_TLS_KEY_FILE'] as const).filter((s) => envReader.get(s) !== undefined);
    if (this.problems.length === 0 && hookSettings.length > 0 && !out.some((o) => o.config.eventHook)) {
      this.problem(null, `${hookSettings[0]} is set but no org has an eventHook secret: give each org that pushes eventHook: { secret: { env: NAME } }, or unset the EVENT_HOOK_ settings.`);
    }
    return out;
  }

  /**
   * A mapping's fields; unknown keys are refused with the closest allowed one (and the known ones
   * still read, so one run reports every problem). Null when not a mapping.
   */
  private fields(node: YamlNode | null, allowed: readonly string[], label: string, line: number | null): Map<string, Field> | null {
    if (!isMap(node)) {
      this.problem(this.lineOf(node) ?? line, `${label} must be a mapping of keys to values (${allowed.join(', ')}).`);
      return null;
    }
    const out = new Map<string, Field>();
    for (const pair of node.items) {
      const key = keyName(pair);
      const keyLine = this.lineOf(pair.key as YamlNode) ?? line;
      if (key === null || !allowed.includes(key)) {
        this.problem(keyLine, `${label} has an unknown key ${describeKey(key)}${key !== null ? suggestion(key, allowed) : ''}; allowed keys are ${allowed.join(', ')}.`);
        continue;
      }
      out.set(key, { node: (pair.value as YamlNode | null) ?? null, line: keyLine });
    }
    return out;
  }

  private text(f: Field, label: string): string | null {
    const v = isScalar(f.node) && typeof f.node.value === 'string' ? f.node.value.trim() : '';
    if (v === '') {
      this.problem(f.line, `${label} must be non-empty text (quote it if it looks like a number).`);
      return null;
    }
    return v;
  }

  /** A list of texts, or one text with commas (the env setting's syntax). */
  private textList(f: Field, label: string, example: string): string[] | null {
    const items = isSeq(f.node) ? f.node.items : [f.node];
    const out: string[] = [];
    for (const item of items) {
      const v = isScalar(item) && typeof item.value === 'string' ? item.value.trim() : '';
      if (v === '') {
        this.problem(f.line, `${label} must be a list of text, like ${example}.`);
        return null;
      }
      out.push(v);
    }
    if (out.length === 0) {
      this.problem(f.line, `${label} must not be empty: give at least one, like ${example}.`);
      return null;
    }
    return out;
  }

  /** `{ env: NAME }` or `{ file: /path }`. Anything else, a value written inline above all, is refused. */
  private ref(f: Field, label: string): SecretRef | null {
    if (!isMap(f.node)) {
      // Never quoted back: it is most likely the secret itself.
      this.problem(f.line, `${label} must be a reference, { env: NAME } or { file: /path }: secrets are never written in ORGS_FILE; put the value in an environment variable or a file only this user may read.`);
      return null;
    }
    const m = this.fields(f.node, REF_KEYS, label, f.line);
    if (!m) return null;
    if (m.size !== 1) {
      if (m.size > 1 || f.node.items.length === 0) this.problem(f.line, `${label} must give exactly one of env or file.`);
      return null;
    }
    const [[kind, v]] = [...m.entries()] as [[string, Field]];
    const value = this.text(v, `${label}.${kind}`);
    if (value === null) return null;
    if (kind === 'env') {
      if (!ENV_NAME.test(value)) {
        this.problem(v.line, `${label}.env must be the name of an environment variable (letters, digits and _), like OTW_PROD_OKTA_TOKEN.`);
        return null;
      }
      if (isSetting(value)) {
        this.problem(v.line, `${label}.env names ${value}, a setting of this program: reference a variable of the org's own, like OTW_<ORG>_${value}.`);
        return null;
      }
      this.referencedEnv.add(value);
      return { env: value };
    }
    return { file: path.resolve(this.dir, value) };
  }

  /**
   * The referenced secret's value, or null after a sentence that names it (never its value);
   * `quiet`: null without a sentence.
   */
  private resolve(ref: SecretRef, label: string, line: number | null, quiet = false): string | null {
    const problems = this.problems.length;
    const value = this.readRef(ref, label, line);
    if (quiet) this.problems.length = problems;
    return value;
  }

  private readRef(ref: SecretRef, label: string, line: number | null): string | null {
    if ('env' in ref) {
      const v = this.env[ref.env]?.trim();
      if (v === undefined || v === '') {
        this.problem(line, `${label} reads the environment variable ${ref.env}, which is ${v === undefined ? 'not set' : 'empty'}: set it in the daemon's environment (the env file holds only settings).`);
        return null;
      }
      return v;
    }
    let v: string;
    try {
      const stat = fs.statSync(ref.file);
      if (stat.isFile() && stat.size > MAX_SECRET_FILE_BYTES) {
        this.problem(line, `${label}.file ${JSON.stringify(ref.file)} is larger than 64 KB, too large for a secret: check the path.`);
        return null;
      }
      v = fs.readFileSync(ref.file, 'utf8').trim();
    } catch (err) {
      this.problem(line, fileReadProblem(`${label}.file`, ref.file, err));
      return null;
    }
    if (v === '') {
      this.problem(line, `${label}.file ${JSON.stringify(ref.file)} is empty: write the secret into it.`);
      return null;
    }
    return v;
  }

  private readOrg(node: YamlNode, n: number, listLine: number | null): OrgConfig | null {
    const line = this.lineOf(node) ?? listLine;
    const before = this.problems.length;
    // The name labels every sentence about the org, those about its other keys too.
    const peeked = isMap(node) ? node.items.find((p) => keyName(p) === 'name')?.value : undefined;
    const early = isScalar(peeked) && typeof peeked.value === 'string' && NAME.test(peeked.value.trim()) ? `org "${peeked.value.trim()}"` : `org #${n}`;
    const m = this.fields(node, ORG_KEYS, early, line);
    if (!m) return null;
    const nameField = m.get('name');
    const rawName = nameField ? this.text(nameField, `org #${n}: name`) : null;
    if (!nameField) this.problem(line, `org #${n} needs a name (lower-case letters, digits and -, like prod).`);
    let name: string | null = null;
    if (rawName !== null) {
      // `unknown` is the metrics' label for a hook path that names no org: an org of that name
      // would share its series with strangers' requests.
      if (rawName === 'unknown') this.problem(nameField!.line, `org #${n}: the name unknown is reserved (metrics count requests that name no org under it); choose another.`);
      else if (NAME.test(rawName)) name = rawName;
      else this.problem(nameField!.line, `org #${n}: name must be 1 to 32 lower-case letters, digits and - (not first), like prod or acme-eu: it goes into URL paths, metric labels and alerts.`);
    }
    const label = name !== null ? `org "${name}"` : `org #${n}`;

    const v: OrgValues = { env: { ...this.env }, names: new Map(), secrets: [], references: [] };
    // Nothing of the env's own org carries over (it is refused anyway); each org says its own.
    for (const s of ORG_SETTINGS) delete v.env[s];
    const put = (setting: SettingName, value: string, label: string, line: number | null): void => {
      v.env[setting] = value;
      v.names.set(setting, { label, line });
    };
    const secret = (f: Field, field: string, setting: SettingName, quiet = false): boolean => {
      const ref = this.ref(f, `${label}: ${field}`);
      if (!ref) return false;
      v.references.push({ field, ref });
      const value = this.resolve(ref, `${label}: ${field}`, f.line, quiet);
      if (value === null) return false;
      v.secrets.push(value);
      put(setting, value, `${field} (${'env' in ref ? `env ${ref.env}` : `file ${ref.file}`})`, f.line);
      return true;
    };

    const url = m.get('url');
    if (!url) this.problem(line, `${label} needs a url, like https://example.okta.com.`);
    else {
      const u = this.text(url, `${label}: url`);
      if (u !== null) put('OKTA_ORG_URL', u, 'url', url.line);
    }

    const token = m.get('apiToken');
    const oauth = m.get('oauth');
    if (token && oauth) this.problem(token.line, `${label} has both apiToken and oauth: give either an API token or an OAuth service app, not both.`);
    else if (!token && !oauth) this.problem(line, `${label} needs credentials: apiToken: { env: NAME } (or { file: /path }), or oauth: { clientId, privateKey, keyId }.`);
    else if (token) secret(token, 'apiToken', 'OKTA_API_TOKEN', !this.requireOkta);
    else this.readOauth(oauth!, label, v, put);

    const notify = m.get('notify');
    if (notify) this.readNotify(notify, label, v, put, secret);

    const exceptions = m.get('exceptionsFile');
    if (exceptions) {
      const file = this.text(exceptions, `${label}: exceptionsFile`);
      if (file !== null) put('EXCEPTIONS_FILE', path.resolve(this.dir, file), 'exceptionsFile', exceptions.line);
    }
    const outcomes = m.get('alertOutcomes');
    if (outcomes) {
      const list = this.textList(outcomes, `${label}: alertOutcomes`, '[SUCCESS, FAILURE]');
      if (list) put('ALERT_OUTCOMES', list.join(','), 'alertOutcomes', outcomes.line);
    }
    const follow = m.get('followWindow');
    if (follow) {
      // A bare 0 is a number in YAML; FOLLOW_WINDOW=0 means off, so it is taken as written.
      const raw = isScalar(follow.node) && follow.node.value === 0 ? '0' : this.text(follow, `${label}: followWindow`);
      if (raw !== null) put('FOLLOW_WINDOW', raw, 'followWindow', follow.line);
    }
    const hook = m.get('eventHook');
    if (hook) {
      const h = this.fields(hook.node, ['secret'], `${label}: eventHook`, hook.line);
      const s = h?.get('secret');
      if (h && !s) this.problem(hook.line, `${label}: eventHook needs a secret: { env: NAME } or { file: /path }.`);
      else if (s) secret(s, 'eventHook.secret', 'EVENT_HOOK_SECRET');
    }
    if (this.problems.length > before || name === null) return null;
    return this.build(name, line, label, v, m);
  }

  private readOauth(f: Field, label: string, v: OrgValues, put: (s: SettingName, value: string, label: string, line: number | null) => void): void {
    const m = this.fields(f.node, OAUTH_KEYS, `${label}: oauth`, f.line);
    if (!m) return;
    const clientId = m.get('clientId');
    if (!clientId) this.problem(f.line, `${label}: oauth needs a clientId, the client id of the org's API service app.`);
    else {
      const id = this.text(clientId, `${label}: oauth.clientId`);
      if (id !== null) put('OKTA_CLIENT_ID', id, 'oauth.clientId', clientId.line);
    }
    const key = m.get('privateKey');
    if (!key) this.problem(f.line, `${label}: oauth needs a privateKey: { env: NAME } or { file: /path } holding the app's PEM or JWK.`);
    else {
      const ref = this.ref(key, `${label}: oauth.privateKey`);
      if (ref) {
        v.references.push({ field: 'oauth.privateKey', ref });
        if ('file' in ref) {
          // Read by the env parser itself, as OKTA_PRIVATE_KEY_FILE is: the same checks and sentences.
          put('OKTA_PRIVATE_KEY_FILE', ref.file, 'oauth.privateKey.file', key.line);
        } else {
          const value = this.resolve(ref, `${label}: oauth.privateKey`, key.line, !this.requireOkta);
          if (value !== null) put('OKTA_PRIVATE_KEY', value, `oauth.privateKey (env ${ref.env})`, key.line);
        }
      }
    }
    const keyId = m.get('keyId');
    if (keyId) {
      const id = this.text(keyId, `${label}: oauth.keyId`);
      if (id !== null) put('OKTA_KEY_ID', id, 'oauth.keyId', keyId.line);
    } else v.names.set('OKTA_KEY_ID', { label: 'oauth.keyId', line: f.line });
    const scopes = m.get('scopes');
    if (scopes) {
      const list = this.textList(scopes, `${label}: oauth.scopes`, '[okta.logs.read]');
      if (list) put('OKTA_SCOPES', list.join(' '), 'oauth.scopes', scopes.line);
    }
  }

  private readNotify(
    f: Field,
    label: string,
    v: OrgValues,
    put: (s: SettingName, value: string, label: string, line: number | null) => void,
    secret: (f: Field, field: string, setting: SettingName) => boolean,
  ): void {
    const m = this.fields(f.node, NOTIFY_KEYS, `${label}: notify`, f.line);
    if (!m) return;
    const notifiers = m.get('notifiers');
    if (notifiers) {
      const list = this.textList(notifiers, `${label}: notify.notifiers`, '[slack, email]');
      if (list) put('NOTIFIERS', list.join(','), 'notify.notifiers', notifiers.line);
    }
    const slack = m.get('slack');
    if (slack) {
      const s = this.fields(slack.node, ['channel'], `${label}: notify.slack`, slack.line);
      const channel = s?.get('channel');
      if (s && !channel) this.problem(slack.line, `${label}: notify.slack needs a channel (the channel id the bot posts this org's alerts to).`);
      else if (channel) {
        const c = this.text(channel, `${label}: notify.slack.channel`);
        // An incoming webhook is bound to one channel: only the bot can be pointed elsewhere per org.
        if (c !== null && this.base.notify.slack?.transport !== 'bot') {
          this.problem(channel.line, `${label}: notify.slack.channel needs Slack's bot transport (SLACK_BOT_TOKEN): an incoming webhook (SLACK_WEBHOOK_URL) always posts to its own channel.`);
        } else if (c !== null) put('SLACK_CHANNEL', c, 'notify.slack.channel', channel.line);
      }
    }
    const email = m.get('email');
    if (email) {
      const e = this.fields(email.node, ['to'], `${label}: notify.email`, email.line);
      const to = e?.get('to');
      if (e && !to) this.problem(email.line, `${label}: notify.email needs to, the list of this org's recipients.`);
      else if (to) {
        const list = this.textList(to, `${label}: notify.email.to`, '[secops@example.com]');
        if (list) put('EMAIL_TO', list.join(','), 'notify.email.to', to.line);
      }
    }
    const webhook = m.get('webhook');
    if (webhook) {
      const w = this.fields(webhook.node, ['url', 'secret'], `${label}: notify.webhook`, webhook.line);
      if (w) {
        // The org's receiver: the env's secret signs for the env's receiver, not for this one.
        delete v.env.WEBHOOK_SECRET;
        const url = w.get('url');
        if (!url) this.problem(webhook.line, `${label}: notify.webhook needs a url: { env: NAME } or { file: /path }.`);
        else secret(url, 'notify.webhook.url', 'WEBHOOK_URL');
        const s = w.get('secret');
        if (s) secret(s, 'notify.webhook.secret', 'WEBHOOK_SECRET');
      }
    }
    const pd = m.get('pagerduty');
    if (pd) {
      const p = this.fields(pd.node, ['routingKey'], `${label}: notify.pagerduty`, pd.line);
      const key = p?.get('routingKey');
      if (p && !key) this.problem(pd.line, `${label}: notify.pagerduty needs a routingKey: { env: NAME } or { file: /path }.`);
      else if (key) secret(key, 'notify.pagerduty.routingKey', 'PAGERDUTY_ROUTING_KEY');
    }
    const teams = m.get('teams');
    if (teams) {
      const t = this.fields(teams.node, ['url'], `${label}: notify.teams`, teams.line);
      const url = t?.get('url');
      if (t && !url) this.problem(teams.line, `${label}: notify.teams needs a url: { env: NAME } or { file: /path }.`);
      else if (url) secret(url, 'notify.teams.url', 'TEAMS_WEBHOOK_URL');
    }
  }

  /** Runs the env parsers over the org's values; their problems become ORGS_FILE sentences. */
  private build(name: string, line: number | null, label: string, v: OrgValues, m: Map<string, Field>): OrgConfig | null {
    const r = new EnvReader(v.env);
    const okta = this.requireOkta ? parseOkta(r) : this.tryOkta(r);
    const notify = m.has('notify') ? parseNotifyConfig(r) : this.base.notify;
    const detect = m.has('exceptionsFile') || m.has('alertOutcomes') ? parseDetectConfig(r) : this.base.detect;
    const poll = m.has('followWindow') ? { ...this.base.poll, followWindowMs: parseFollowWindow(r) } : this.base.poll;
    let eventHook = m.has('eventHook') ? parseEventHookConfig(r) : null;
    // One receiver for every org: each org has its own path under EVENT_HOOK_PATH.
    if (eventHook) eventHook = { ...eventHook, path: `${eventHook.path.replace(/\/+$/, '')}/${name}` };
    const before = this.problems.length;
    for (const p of r.problems) {
      if (this.shared.includes(p)) continue;
      this.reword(p, label, line, v.names);
    }
    if (this.problems.length > before || (this.requireOkta && !okta)) return null;
    const secrets = [...new Set([...this.base.secrets, ...r.secrets, ...v.secrets])];
    return {
      name,
      url: okta?.orgUrl ?? new URL(v.env.OKTA_ORG_URL!).origin,
      line,
      references: v.references,
      config: { ...this.base, okta, notify, detect, poll, eventHook, eventHookSecret: eventHook?.secret ?? null, orgs: null, secrets },
    };
  }

  /**
   * The org's Okta settings when its credentials are there and good, else null; like tryParseOkta,
   * except that a wrong url is still a problem (it is in the file, not missing where we run).
   */
  private tryOkta(r: EnvReader): ReturnType<typeof parseOkta> {
    const sub = new EnvReader(r.env);
    const okta = parseOkta(sub);
    r.secrets.push(...sub.secrets);
    for (const p of sub.problems) if (/\bOKTA_ORG_URL\b/.test(p)) r.problem(p);
    return sub.problems.length === 0 ? okta : null;
  }

  /** A setting's sentence, about this org: the settings it names become the org's fields, at their line. */
  private reword(sentence: string, label: string, orgLine: number | null, names: OrgValues['names']): void {
    let line: number | null = null;
    let first = Infinity;
    let text = sentence;
    for (const [setting, field] of names) {
      const re = new RegExp(`\\b${setting}\\b`, 'g');
      const i = sentence.search(re);
      if (i < 0) continue;
      if (i < first) {
        first = i;
        line = field.line;
      }
      // A function, so that a path with $ in it is not read as a replacement pattern.
      text = text.replace(re, () => field.label);
    }
    const said = `${this.at(line ?? orgLine)}: ${label}: ${text}`;
    if (!this.problems.includes(said)) this.problems.push(said);
  }
}

/** The first alias node anywhere under n, or null. */
function findAlias(n: unknown): YamlNode | null {
  if (isAlias(n)) return n;
  if (isSeq(n)) {
    for (const item of n.items) {
      const a = findAlias(item);
      if (a) return a;
    }
  }
  if (isMap(n)) {
    for (const pair of n.items) {
      const a = findAlias(pair.key) ?? findAlias(pair.value);
      if (a) return a;
    }
  }
  return null;
}

function keyName(pair: Pair): string | null {
  const k = pair.key;
  return isScalar(k) && typeof k.value === 'string' ? k.value : null;
}

/** A key from the file, shown only when it is a plain identifier (never arbitrary file text). */
function describeKey(key: string | null): string {
  return key !== null && /^[A-Za-z0-9_-]{1,40}$/.test(key) ? `"${key}"` : '(not a plain name)';
}

function suggestion(key: string, allowed: readonly string[]): string {
  if (key.length > 40) return '';
  let best: { name: string; d: number } | null = null;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d <= 2 && (!best || d < best.d)) best = { name: a, d };
  }
  return best ? ` (did you mean ${best.name}?)` : '';
}
