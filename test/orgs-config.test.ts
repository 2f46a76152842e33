import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadEnv, parseConfig, type AppConfig, type Env } from '../src/config';
import { ConfigError } from '../src/errors';
import { loadOrgs } from '../src/orgs/config';
import { orgCheckLines } from '../src/orgs/check';
import { FakeOkta } from './helpers/fake-okta';
import { ROOT, runCli, tmpDir } from './helpers/harness';

const PROD_TOKEN = 'FAKE-okta-api-token-for-tests-prod';
const PREVIEW_TOKEN = 'FAKE-okta-api-token-for-tests-preview';
const HOOK_SECRET = 'FAKE-event-hook-secret-for-tests-0123456789';
const WEBHOOK_URL = 'https://receiver.example.com/FAKE-webhook-path-for-tests';
const WEBHOOK_SECRET = 'FAKE-webhook-secret-for-tests';
const PD_KEY = 'FAKEpagerdutyroutingkey012345678';
const BOT = 'xoxb-FAKE-bot-token-for-tests';

/** Writes the orgs file (and any other files) into a fresh directory; returns its path. */
function orgsFile(yaml: string, files: Record<string, string> = {}): string {
  const dir = tmpDir();
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 });
  const file = path.join(dir, 'orgs.yaml');
  fs.writeFileSync(file, yaml);
  return file;
}

function load(yaml: string, env: Env = {}, files: Record<string, string> = {}): AppConfig {
  return parseConfig({ ORGS_FILE: orgsFile(yaml, files), OTW_PROD_TOKEN: PROD_TOKEN, OTW_PREVIEW_TOKEN: PREVIEW_TOKEN, ...env }, { requireOkta: true });
}

/** The problems parseConfig reports for the file; fails when it accepts it. */
function problems(yaml: string, env: Env = {}, files: Record<string, string> = {}): string[] {
  try {
    load(yaml, env, files);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('the file was accepted');
}

/** Exactly one problem, matching `re`, naming ORGS_FILE and `line`, and never any secret. */
function oneProblem(yaml: string, line: number, re: RegExp, env: Env = {}, files: Record<string, string> = {}): string {
  const p = problems(yaml, env, files);
  assert.equal(p.length, 1, p.join('\n'));
  assert.match(p[0]!, new RegExp(`^ORGS_FILE ".*orgs\\.yaml" line ${line}: `), p[0]);
  assert.match(p[0]!, re);
  for (const s of [PROD_TOKEN, PREVIEW_TOKEN, HOOK_SECRET, WEBHOOK_URL, WEBHOOK_SECRET, PD_KEY, BOT]) assert.ok(!p[0]!.includes(s), 'no secret in the sentence');
  return p[0]!;
}

const TWO_ORGS = `orgs:
  - name: prod
    url: https://prod.okta.com
    apiToken: { env: OTW_PROD_TOKEN }
  - name: preview
    url: https://preview.oktapreview.com
    apiToken: { file: preview-token }
`;

describe('ORGS_FILE: the orgs and their configs', () => {
  test('when ORGS_FILE is unset, then there are no orgs and the env file is the one org, as before', () => {
    const config = parseConfig({ OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: PROD_TOKEN }, { requireOkta: true });
    assert.equal(config.orgs, null);
    assert.equal(config.okta?.orgUrl, 'https://example.okta.com');
    assert.equal(loadOrgs(config, {}), null);
  });

  test('when the file lists two orgs, then each has a full config: its URL and credentials, the env file\'s shared settings, and every secret for the redactor', () => {
    const config = load(TWO_ORGS, { POLL_SCHEDULE: '*/2 * * * *', DB_PATH: '/tmp/otw-orgs.sqlite', NOTIFIERS: 'console' }, { 'preview-token': `${PREVIEW_TOKEN}\n` });
    assert.equal(config.okta, null, 'no org of the env file');
    assert.deepEqual(config.orgs?.map((o) => [o.name, o.line, o.config.okta?.orgUrl]), [
      ['prod', 2, 'https://prod.okta.com'],
      ['preview', 5, 'https://preview.oktapreview.com'],
    ]);
    const [prod, preview] = config.orgs!;
    assert.deepEqual(prod!.config.okta?.auth, { mode: 'ssws', token: PROD_TOKEN });
    assert.deepEqual(preview!.config.okta?.auth, { mode: 'ssws', token: PREVIEW_TOKEN }, 'the file\'s content, trimmed');
    for (const o of config.orgs!) {
      assert.equal(o.config.poll.schedule, '*/2 * * * *');
      assert.equal(o.config.store.dbPath, '/tmp/otw-orgs.sqlite');
      assert.deepEqual(o.config.notify.enabled, ['console']);
      assert.equal(o.config.orgs, null);
      assert.equal(o.config.eventHook, null);
    }
    assert.ok(prod!.config.secrets.includes(PROD_TOKEN) && !prod!.config.secrets.includes(PREVIEW_TOKEN), 'an org\'s config carries its own secrets');
    assert.ok(config.secrets.includes(PROD_TOKEN) && config.secrets.includes(PREVIEW_TOKEN), 'the shared config carries every org\'s');
    assert.deepEqual(prod!.references, [{ field: 'apiToken', ref: { env: 'OTW_PROD_TOKEN' } }]);
  });

  test('when an org uses an OAuth service app with its key in a file, then it gets the env parser\'s checks and the JWK\'s kid', () => {
    const jwk = { ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'FAKE-kid' };
    const config = load(
      `orgs:
  - name: acme-eu
    url: https://acme-eu.okta-emea.com
    oauth:
      clientId: 0oaFAKEclientid
      privateKey: { file: ./acme.json }
      scopes: [okta.logs.read, okta.apiTokens.read]
`,
      {},
      { 'acme.json': JSON.stringify(jwk) },
    );
    const auth = config.orgs![0]!.config.okta!.auth;
    assert.equal(auth.mode, 'oauth');
    if (auth.mode !== 'oauth') return;
    assert.equal(auth.clientId, '0oaFAKEclientid');
    assert.equal(auth.keyId, 'FAKE-kid');
    assert.deepEqual(auth.scopes, ['okta.logs.read', 'okta.apiTokens.read']);
    assert.ok(config.secrets.includes(JSON.stringify(jwk)), 'the key reaches the redactor');
  });

  test('when an org has its own routing, exceptions, outcomes, follow window and event hook, then its config has them and the others keep the env\'s', () => {
    const exceptions = 'exceptions:\n  - reason: CI creates tokens\n    actor: ci@example.com\n';
    const config = load(
      `orgs:
  - name: prod
    url: https://prod.okta.com
    apiToken: { env: OTW_PROD_TOKEN }
    notify:
      notifiers: [slack, email, webhook, pagerduty]
      slack: { channel: C0PROD00001 }
      email: { to: [prod-sec@example.com, oncall@example.com] }
      webhook:
        url: { env: OTW_PROD_WEBHOOK }
        secret: { file: webhook-secret }
      pagerduty: { routingKey: { env: OTW_PROD_PD } }
    exceptionsFile: prod-exceptions.yaml
    alertOutcomes: [success]
    followWindow: 2h
    eventHook: { secret: { env: OTW_PROD_HOOK } }
  - name: preview
    url: https://preview.oktapreview.com
    apiToken: { env: OTW_PREVIEW_TOKEN }
    followWindow: 0
`,
      {
        SLACK_BOT_TOKEN: BOT,
        SLACK_CHANNEL: 'C0SHARED001',
        SMTP_HOST: '127.0.0.1',
        EMAIL_FROM: 'otw@example.com',
        EMAIL_TO: 'secops@example.com',
        OTW_PROD_WEBHOOK: WEBHOOK_URL,
        OTW_PROD_PD: PD_KEY,
        OTW_PROD_HOOK: HOOK_SECRET,
        EVENT_HOOK_PORT: '0',
      },
      { 'webhook-secret': WEBHOOK_SECRET, 'prod-exceptions.yaml': exceptions },
    );
    const [prod, preview] = config.orgs!;
    const n = prod!.config.notify;
    assert.deepEqual(n.enabled, ['slack', 'email', 'webhook', 'pagerduty']);
    assert.equal(n.slack?.transport === 'bot' && n.slack.channel, 'C0PROD00001');
    assert.deepEqual(n.email?.to, ['prod-sec@example.com', 'oncall@example.com']);
    assert.equal(n.email?.smtp.host, '127.0.0.1', 'the mail server is shared');
    assert.deepEqual(n.webhook, { url: WEBHOOK_URL, secret: WEBHOOK_SECRET });
    assert.equal(n.pagerduty?.routingKey, PD_KEY);
    assert.equal(prod!.config.detect.exceptions.exceptions[0]?.actor, 'ci@example.com');
    assert.deepEqual(prod!.config.detect.alertOutcomes, ['SUCCESS']);
    assert.equal(prod!.config.poll.followWindowMs, 2 * 3_600_000);
    assert.equal(prod!.config.eventHook?.path, '/okta/event-hook/prod');
    assert.equal(prod!.config.eventHookSecret, HOOK_SECRET);
    for (const s of [WEBHOOK_URL, WEBHOOK_SECRET, PD_KEY, HOOK_SECRET]) assert.ok(config.secrets.includes(s), 'every resolved secret reaches the redactor');

    const p = preview!.config;
    assert.deepEqual(p.notify.enabled, ['slack', 'email'], 'the env\'s routing');
    assert.equal(p.notify.slack?.transport === 'bot' && p.notify.slack.channel, 'C0SHARED001');
    assert.deepEqual(p.notify.email?.to, ['secops@example.com']);
    assert.equal(p.detect.exceptions.exceptions.length, 0);
    assert.equal(p.detect.alertOutcomes, null);
    assert.equal(p.poll.followWindowMs, 0, 'a bare 0 turns following off, as FOLLOW_WINDOW=0 does');
    assert.equal(p.eventHook, null, 'an org without a secret has no push path');
  });

  test('when the file names environment variables with this program\'s prefixes, then they are not reported as mistyped settings', () => {
    const config = load(TWO_ORGS.replace(/OTW_PROD_TOKEN/, 'OKTA_PROD_TOKEN').replace('{ file: preview-token }', '{ env: OTW_PREVIEW_TOKEN }'), { OKTA_PROD_TOKEN: PROD_TOKEN, OKTA_STRAY_NAME: 'x' });
    assert.equal(config.warnings.length, 1, config.warnings.join('\n'));
    assert.match(config.warnings[0]!, /^OKTA_STRAY_NAME /);
  });

  test('when a command that does not talk to Okta runs where an org\'s credentials are not set, then the orgs load with that org\'s okta null, and the file is still checked', () => {
    const file = orgsFile(TWO_ORGS, { 'preview-token': PREVIEW_TOKEN });
    const config = parseConfig({ ORGS_FILE: file }, { requireOkta: false });
    assert.deepEqual(config.orgs?.map((o) => [o.name, o.url, o.config.okta?.orgUrl ?? null]), [
      ['prod', 'https://prod.okta.com', null],
      ['preview', 'https://preview.oktapreview.com', 'https://preview.oktapreview.com'],
    ]);
    assert.throws(() => parseConfig({ ORGS_FILE: file }, { requireOkta: true }), /line 4: org "prod": apiToken reads the environment variable OTW_PROD_TOKEN, which is not set/);
    const badUrl = orgsFile(TWO_ORGS.replace('https://prod.okta.com', 'https://prod.okta.com/app'), { 'preview-token': PREVIEW_TOKEN });
    assert.throws(() => parseConfig({ ORGS_FILE: badUrl }, { requireOkta: false }), /line 3: org "prod": url must be the bare org URL with no path/);
    const inline = orgsFile(TWO_ORGS.replace('{ env: OTW_PROD_TOKEN }', PROD_TOKEN), { 'preview-token': PREVIEW_TOKEN });
    assert.throws(() => parseConfig({ ORGS_FILE: inline }, { requireOkta: false }), /line 4: org "prod": apiToken must be a reference/);
  });

  test('when check lists the orgs, then each has a line with its URL and credential reference, FAIL when a reference stops resolving, and no value', () => {
    const config = load(TWO_ORGS, {}, { 'preview-token': PREVIEW_TOKEN });
    const ok = orgCheckLines(config.orgs!, { OTW_PROD_TOKEN: PROD_TOKEN });
    assert.deepEqual(ok.map((l) => [l.name, l.ok]), [['org prod', true], ['org preview', true]]);
    assert.match(ok[0]!.detail, /^https:\/\/prod\.okta\.com, API token from apiToken \(env OTW_PROD_TOKEN\)/);
    assert.match(ok[1]!.detail, /API token from apiToken \(file .*preview-token\)/);
    fs.writeFileSync((config.orgs![1]!.references[0]!.ref as { file: string }).file, '');
    const failed = orgCheckLines(config.orgs!, {});
    assert.deepEqual(failed.map((l) => [l.name, l.ok]), [['org prod', false], ['org preview', false]]);
    assert.match(failed[0]!.detail, /apiToken \(env OTW_PROD_TOKEN\) is not set/);
    assert.match(failed[1]!.detail, /preview-token\) is empty/);
    for (const l of [...ok, ...failed]) assert.ok(!l.detail.includes(PROD_TOKEN) && !l.detail.includes(PREVIEW_TOKEN));
  });
});

describe('ORGS_FILE: the example', () => {
  test('when deploy/orgs.example.yaml is used with its variables set, then it loads as its comments say', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'orgs.yaml');
    fs.copyFileSync(path.join(ROOT, 'deploy', 'orgs.example.yaml'), file);
    fs.writeFileSync(path.join(dir, 'exceptions-acme-eu.yaml'), 'exceptions:\n  - reason: Terraform\n    actor: svc-terraform@example.com\n');
    const pem = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const config = parseConfig(
      {
        ORGS_FILE: file,
        SLACK_BOT_TOKEN: BOT,
        SLACK_CHANNEL: 'C0SHARED001',
        SMTP_HOST: 'smtp.example.com',
        EMAIL_FROM: 'otw@example.com',
        EMAIL_TO: 'secops@example.com',
        EVENT_HOOK_PORT: '8466',
        OTW_PROD_OKTA_TOKEN: PROD_TOKEN,
        OTW_PROD_PAGERDUTY_KEY: PD_KEY,
        OTW_PROD_EVENT_HOOK_SECRET: HOOK_SECRET,
        OTW_ACME_EU_PRIVATE_KEY: pem,
        OTW_ACME_EU_WEBHOOK_URL: WEBHOOK_URL,
        OTW_ACME_EU_WEBHOOK_SECRET: WEBHOOK_SECRET,
        OTW_PREVIEW_OKTA_TOKEN: PREVIEW_TOKEN,
      },
      { requireOkta: true },
    );
    assert.deepEqual(config.orgs?.map((o) => [o.name, o.config.okta?.auth.mode, o.config.notify.enabled.join(','), o.config.eventHook?.path ?? null]), [
      ['prod', 'ssws', 'slack,email,pagerduty', '/okta/event-hook/prod'],
      ['acme-eu', 'oauth', 'slack,email,webhook', null],
      ['preview', 'ssws', 'slack,email', null],
    ]);
    assert.equal(config.orgs![1]!.config.detect.exceptions.exceptions.length, 1);
  });
});

describe('ORGS_FILE: validation', () => {
  const ORG = (extra: string): string => `orgs:\n  - name: prod\n    url: https://prod.okta.com\n    apiToken: { env: OTW_PROD_TOKEN }\n${extra}`;

  test('when a key is mistyped, then the sentence names the line, the org and the closest key', () => {
    oneProblem(ORG('    utl: https://x.okta.com\n'), 5, /org "prod" has an unknown key "utl" \(did you mean url\?\); allowed keys are name, url, apiToken/);
    oneProblem(ORG('    notify:\n      slak: { channel: C0PROD00001 }\n'), 6, /org "prod": notify has an unknown key "slak" \(did you mean slack\?\)/);
    oneProblem(`org:\n  - name: prod\n`, 1, /the file has an unknown key "org" \(did you mean orgs\?\)/);
  });

  test('when a secret is written inline, then it is refused naming the line and the field, never the value', () => {
    oneProblem(`orgs:\n  - name: prod\n    url: https://prod.okta.com\n    apiToken: ${PROD_TOKEN}\n`, 4, /org "prod": apiToken must be a reference, \{ env: NAME \} or \{ file: \/path \}/);
    oneProblem(ORG(`    notify:\n      webhook:\n        url: ${WEBHOOK_URL}\n`), 7, /notify\.webhook\.url must be a reference/);
    oneProblem(ORG(`    eventHook: { secret: ${HOOK_SECRET} }\n`), 5, /eventHook\.secret must be a reference/, { EVENT_HOOK_PORT: '0' });
  });

  test('when a referenced variable or file is missing, empty or a directory, then the sentence names the org, the line and the reference, never a value', () => {
    oneProblem(ORG(''), 4, /org "prod": apiToken reads the environment variable OTW_PROD_TOKEN, which is not set/, { OTW_PROD_TOKEN: undefined });
    oneProblem(ORG(''), 4, /which is empty/, { OTW_PROD_TOKEN: '  ' });
    const file = (f: string): string => `orgs:\n  - name: prod\n    url: https://prod.okta.com\n    apiToken: { file: ${f} }\n`;
    oneProblem(file('missing-token'), 4, /org "prod": apiToken\.file ".*missing-token" does not exist: check the path\./);
    oneProblem(file('empty-token'), 4, /apiToken\.file ".*empty-token" is empty/, {}, { 'empty-token': '\n' });
    oneProblem(file('/tmp'), 4, /apiToken\.file "\/tmp" is a directory/);
    oneProblem(ORG('').replace('OTW_PROD_TOKEN', 'OKTA_API_TOKEN'), 4, /apiToken\.env names OKTA_API_TOKEN, a setting of this program/);
  });

  test('when an org\'s values break the env settings\' rules, then the env parser\'s sentence speaks of the org\'s field, at its line', () => {
    oneProblem(ORG('').replace('https://prod.okta.com', 'http://prod.okta.com'), 3, /org "prod": url must be an https:\/\/ URL/);
    oneProblem(ORG('').replace('https://prod.okta.com', 'https://prod-admin.okta.com'), 3, /url points at the Admin Console host/);
    oneProblem(ORG(''), 4, /apiToken \(env OTW_PROD_TOKEN\) must be the bare token, without the "SSWS " prefix/, { OTW_PROD_TOKEN: `SSWS ${PROD_TOKEN}` });
    oneProblem(ORG('    alertOutcomes: [SUCCESS, "not one"]\n'), 5, /org "prod": alertOutcomes must be a comma list of Okta outcomes/);
    oneProblem(ORG('    followWindow: 100d\n'), 5, /org "prod": followWindow must be at most 90d/);
    oneProblem(ORG('    followWindow: soon\n'), 5, /org "prod": followWindow is not a duration/);
    oneProblem(ORG('    notify:\n      notifiers: [pagerduty]\n'), 6, /org "prod": notify\.notifiers includes pagerduty but PAGERDUTY_ROUTING_KEY is not set/);
    oneProblem(ORG('    notify:\n      email: { to: [not-an-address] }\n'), 6, /notify\.email\.to is not a comma-separated list of email addresses/, { SMTP_HOST: '127.0.0.1', EMAIL_FROM: 'otw@example.com', EMAIL_TO: 'a@example.com' });
    oneProblem(ORG('    notify:\n      slack: { channel: C0PROD00001 }\n'), 6, /notify\.slack\.channel needs Slack's bot transport/, { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/TFAKE/BFAKE/FAKE-webhook-path-for-tests' });
    oneProblem(ORG('    notify:\n      webhook:\n        url: { env: OTW_PROD_WEBHOOK }\n        secret: { env: OTW_PROD_WHS }\n'), 8, /notify\.webhook\.secret \(env OTW_PROD_WHS\) is too short/, { OTW_PROD_WEBHOOK: WEBHOOK_URL, OTW_PROD_WHS: 'short' });
    oneProblem(ORG('    eventHook: { secret: { env: OTW_PROD_HOOK } }\n'), 5, /eventHook\.secret \(env OTW_PROD_HOOK\) is shorter than 32 characters/, { OTW_PROD_HOOK: 'short', EVENT_HOOK_PORT: '0' });
    oneProblem(ORG('    eventHook: { secret: { env: OTW_PROD_HOOK } }\n'), 5, /eventHook\.secret \(env OTW_PROD_HOOK\) is set but EVENT_HOOK_PORT is not/, { OTW_PROD_HOOK: HOOK_SECRET });
  });

  test('when an org\'s exceptionsFile is wrong, then the sentence names the org, its line in ORGS_FILE and the line in the exceptions file', () => {
    const bad = 'exceptions:\n  - reason: CI\n    actor: ci@example.com\n    tokename: ci-*\n';
    oneProblem(ORG('    exceptionsFile: ex.yaml\n'), 5, /org "prod": exceptionsFile line 4: exception #1 has an unknown key "tokename" \(did you mean tokenName\?\)/, {}, { 'ex.yaml': bad });
    oneProblem(ORG('    exceptionsFile: nope.yaml\n'), 5, /org "prod": exceptionsFile ".*nope\.yaml" does not exist/);
  });

  test('when an OAuth org lacks a key id for a PEM key, or has both credentials, then the sentence says which field', () => {
    const pem = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const oauth = `orgs:\n  - name: prod\n    url: https://prod.okta.com\n    oauth:\n      clientId: 0oaFAKE\n      privateKey: { file: key.pem }\n`;
    oneProblem(oauth, 4, /org "prod": oauth\.keyId is not set/, {}, { 'key.pem': pem });
    const notKey = problems(`${oauth}      keyId: FAKE-kid\n`, {}, { 'key.pem': 'not a key' });
    assert.equal(notKey.length, 1, notKey.join('\n'));
    assert.match(notKey[0]!, /line 6: org "prod": oauth\.privateKey\.file holds neither a PEM private key nor a JWK/);
    const ok = load(`${oauth}      keyId: FAKE-kid\n`, {}, { 'key.pem': pem });
    const auth = ok.orgs![0]!.config.okta!.auth;
    assert.equal(auth.mode === 'oauth' && auth.keyId, 'FAKE-kid');
    assert.ok(ok.secrets.includes(pem.trim()), 'the key reaches the redactor');
    oneProblem(`${ORG('')}    oauth:\n      clientId: 0oaFAKE\n`, 4, /org "prod" has both apiToken and oauth/);
  });

  test('when names are invalid or repeated, or two entries are one org, then each is refused at its line', () => {
    oneProblem(`orgs:\n  - name: Prod_1\n    url: https://prod.okta.com\n    apiToken: { env: OTW_PROD_TOKEN }\n`, 2, /org #1: name must be 1 to 32 lower-case letters/);
    oneProblem(`orgs:\n  - name: unknown\n    url: https://prod.okta.com\n    apiToken: { env: OTW_PROD_TOKEN }\n`, 2, /org #1: the name unknown is reserved/);
    oneProblem(`${ORG('')}  - name: prod\n    url: https://other.okta.com\n    apiToken: { env: OTW_PROD_TOKEN }\n`, 5, /org "prod" is listed twice \(first at line 2\)/);
    oneProblem(`${ORG('')}  - name: prod2\n    url: https://PROD.okta.com/\n    apiToken: { env: OTW_PROD_TOKEN }\n`, 5, /org "prod2" has the same url as org "prod" \(line 2\)/);
    oneProblem(`orgs:\n  - url: https://prod.okta.com\n    apiToken: { env: OTW_PROD_TOKEN }\n`, 2, /org #1 needs a name/);
    oneProblem(`orgs:\n  - name: prod\n    url: https://prod.okta.com\n`, 2, /org "prod" needs credentials/);
  });

  test('when the file is not valid YAML, uses aliases, repeats a key or lists nothing, then the sentence names the line', () => {
    oneProblem(`orgs:\n  - name: prod\n    url: [https://prod.okta.com\n`, 4, /the file is not valid YAML/);
    oneProblem(`orgs:\n  - &a\n    name: prod\n  - *a\n`, 4, /YAML aliases/);
    oneProblem(`${ORG('')}    name: again\n`, 5, /a key appears twice/);
    oneProblem(`orgs: []\n`, 1, /orgs must be a list of at least one org/);
  });

  test('when ORGS_FILE is set, then the env\'s own org settings are refused by name, never by value', () => {
    const p = problems(TWO_ORGS, { OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: PROD_TOKEN, EVENT_HOOK_SECRET: HOOK_SECRET }, { 'preview-token': PREVIEW_TOKEN });
    assert.deepEqual(p, ['OKTA_ORG_URL, OKTA_API_TOKEN, EVENT_HOOK_SECRET are set together with ORGS_FILE: each org\'s URL, credentials and event hook secret are given in that file; remove them from the env file and the environment.']);
  });

  test('when EVENT_HOOK_PORT is set but no org has a secret, then start-up says so', () => {
    const p = problems(TWO_ORGS, { EVENT_HOOK_PORT: '0' }, { 'preview-token': PREVIEW_TOKEN });
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^ORGS_FILE ".*": EVENT_HOOK_PORT is set but no org has an eventHook secret/);
  });
});

describe('ORGS_FILE: the CLI', () => {
  test('when ORGS_FILE has a mistake, then check and run exit 78 with one sentence naming the file and the line', async () => {
    const file = orgsFile(`orgs:\n  - name: prod\n    url: https://prod.okta.com\n    apiToken: { env: OTW_PROD_TOKEN }\n    notfy: { notifiers: [console] }\n`);
    for (const command of ['check', 'run']) {
      const r = await runCli([command], { ORGS_FILE: file, OTW_PROD_TOKEN: PROD_TOKEN });
      assert.equal(r.code, 78, r.stderr);
      assert.equal(r.stderr, `okta-token-watch: configuration error: ORGS_FILE ${JSON.stringify(file)} line 5: org "prod" has an unknown key "notfy" (did you mean notify?); allowed keys are name, url, apiToken, oauth, notify, exceptionsFile, alertOutcomes, followWindow, eventHook.\n`);
    }
  });

  test('when ORGS_FILE is good, then check lists every org with its URL and credential reference, and prints no secret', async () => {
    // check reads each org's System Log: two fake orgs on loopback, each knowing only its own token.
    const prod = new FakeOkta({ token: PROD_TOKEN });
    const preview = new FakeOkta({ token: PREVIEW_TOKEN });
    const urls = { prod: await prod.start(), preview: await preview.start() };
    try {
      const yaml = TWO_ORGS.replace('https://prod.okta.com', urls.prod).replace('https://preview.oktapreview.com', urls.preview);
      const file = orgsFile(yaml, { 'preview-token': PREVIEW_TOKEN });
      const r = await runCli(['check'], { ORGS_FILE: file, OTW_PROD_TOKEN: PROD_TOKEN, DB_PATH: path.join(tmpDir(), 'otw.sqlite'), NOTIFIERS: 'console' });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^ok {4}settings +2 org\(s\) from ORGS_FILE/m);
      assert.match(r.stdout, new RegExp(`^ok {4}org prod +${urls.prod.replace(/[.]/g, '\\.')}, API token from apiToken \\(env OTW_PROD_TOKEN\\), notifiers console; 1 reference\\(s\\) resolve$`, 'm'));
      assert.match(r.stdout, /^ok {4}org preview +http:\/\/127\.0\.0\.1:\d+, API token from apiToken \(file .*preview-token\)/m);
      assert.match(r.stdout, /^ok {4}prod: okta/m);
      assert.match(r.stdout, /^ok {4}preview: okta/m);
      assert.ok(!r.stdout.includes(PROD_TOKEN) && !r.stdout.includes(PREVIEW_TOKEN));
    } finally {
      await prod.stop();
      await preview.stop();
    }
  });

  test('when a referenced file exists but may not be read, then the CLI exits 78 naming the org, the line and the path, never the value', async () => {
    const dir = tmpDir();
    const token = path.join(dir, 'prod-token');
    fs.writeFileSync(token, PROD_TOKEN, { mode: 0o000 });
    const file = orgsFile(`orgs:\n  - name: prod\n    url: https://prod.okta.com\n    apiToken: { file: ${token} }\n`);
    // As root, without the capabilities that let root read any file.
    const asOther = process.getuid?.() === 0 ? { wrap: (argv: string[]): string[] => ['setpriv', '--bounding-set', '-dac_override,-dac_read_search,-fowner', '--', ...argv] } : {};
    const r = await runCli(['check'], { ORGS_FILE: file }, asOther);
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /ORGS_FILE ".*orgs\.yaml" line 4: org "prod": apiToken\.file ".*prod-token" exists but this user may not read it/);
    assert.ok(!r.stderr.includes(PROD_TOKEN));
  });
});

describe('an org secret put in the env file', () => {
  for (const [style, line] of [
    ['a flow map', '    apiToken: { env: OTW_SECRET_X }'],
    ['quoted key and value', '    apiToken: { "env": "OTW_SECRET_X" }'],
    ['a block key with a comment', '    apiToken:\n      env: OTW_SECRET_X  # from the vault'],
    ['a block key on the last line', '    apiToken:\n      env: OTW_SECRET_X'],
  ] as const) {
    test(`when the orgs file reads it (${style}), then the env file's line is named as an org's secret, never its value`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-orgsecret-'));
      const orgsFile = path.join(dir, 'orgs.yaml');
      fs.writeFileSync(orgsFile, `orgs:\n  - name: prod\n    url: https://prod.okta.com\n${line}`);
      const envFile = path.join(dir, '.env');
      fs.writeFileSync(envFile, `ORGS_FILE=${orgsFile}\nOTW_SECRET_X=FAKE-okta-api-token-for-tests\n`);
      assert.throws(
        () => loadEnv(envFile, {}),
        (err: unknown) => err instanceof ConfigError && /^OTW_SECRET_X \(\S+ line 2\) is an org's secret that ORGS_FILE reads/.test(err.problems[0]!) && !err.message.includes('FAKE-okta'),
      );
    });
  }
});
