import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqliteDb } from '../src/store/sqlite';
import { openDatabase } from '../src/store/db';
import { FakeOktaOrgs } from '../src/simulator/okta-orgs';
import { tokenEvent } from './helpers/events';
import { startPgCluster } from './helpers/pg-cluster';
import { runCli, tmpDir } from './helpers/harness';

/*
 * The one-shot commands with ORGS_FILE (issue 14): two orgs, each on its own fake Okta, driven
 * through the real CLI. Each org's token comes from its own variable, so one org's credentials can
 * be refused while the other's work.
 */

const TOKEN = 'FAKE-okta-api-token-for-tests-cli-orgs';
const WRONG = 'FAKE-okta-api-token-for-tests-not-accepted';

interface Setup {
  fakes: FakeOktaOrgs;
  dir: string;
  env: Record<string, string>;
}

async function setup(names = ['alpha', 'beta']): Promise<Setup> {
  const fakes = new FakeOktaOrgs(names);
  await fakes.start();
  fakes.addToken(TOKEN, 'cli');
  const dir = tmpDir();
  const file = path.join(dir, 'orgs.yaml');
  fs.writeFileSync(file, `orgs:\n${names.map((n) => `  - name: ${n}\n    url: ${fakes.org(n).origin}\n    apiToken: { env: OTW_TOKEN_${n.toUpperCase()} }\n`).join('')}`);
  const env: Record<string, string> = {
    ORGS_FILE: file,
    DB_PATH: path.join(dir, 'otw.sqlite'),
    NOTIFIERS: 'console',
    RESPONSE_ACTIONS: 'revoke,expected,acknowledge',
    OKTA_MAX_RETRIES: '0',
    ...Object.fromEntries(names.map((n) => [`OTW_TOKEN_${n.toUpperCase()}`, TOKEN])),
  };
  return { fakes, dir, env };
}

/** The `otw-...` alert ids in a status --alerts --json. */
async function alertsOf(env: Record<string, string>): Promise<Array<{ id: string; org: { name: string } | null; token: { id: string } | null }>> {
  const r = await runCli(['status', '--json', '--alerts'], env);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { alerts: Array<{ id: string; org: { name: string } | null; token: { id: string } | null }> }).alerts;
}

describe('one-shot commands with ORGS_FILE', () => {
  let s: Setup;
  before(async () => {
    s = await setup();
    const published = new Date(Date.now() - 2000).toISOString();
    s.fakes.org('alpha').persist(tokenEvent(1, published));
    s.fakes.org('beta').persist(tokenEvent(2, published));
  });
  after(async () => {
    await s.fakes.stop();
  });

  test('when poll runs, then each org gets its own tick and status shows a row per org, the leases block and the replicas', async () => {
    const r = await runCli(['poll'], s.env);
    assert.equal(r.code, 0, r.stderr);
    for (const org of ['alpha', 'beta']) assert.ok(s.fakes.org(org).logRequests().length >= 1, `${org} was read`);
    const alerts = await alertsOf(s.env);
    assert.deepEqual(alerts.map((a) => a.org?.name).sort(), ['alpha', 'beta']);

    const st = await runCli(['status'], s.env);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /^orgs:$/m);
    assert.match(st.stdout, /^ {2}alpha +cursor saved .* ago\); last tick ok at /m);
    assert.match(st.stdout, /^ {2}beta +cursor saved .* ago\); last tick ok at /m);
    // The one-shot poll handed its leases back when it ended.
    assert.match(st.stdout, /^leases \(which replica polls which org\):\n {2}alpha +not held/m);
    assert.match(st.stdout, /^replicas seen \(0\):/m);

    const js = JSON.parse((await runCli(['status', '--json'], s.env)).stdout) as { orgs: Array<{ org: string; lastTick: { result: string } }>; leases: unknown[]; replicas: unknown[] };
    assert.deepEqual(js.orgs.map((o) => [o.org, o.lastTick.result]), [['alpha', 'ok'], ['beta', 'ok']]);
    // No top-level cursor or last tick that would read as "never" to a script: they are per org.
    for (const key of ['cursor', 'lastTick', 'lastSuccessfulTick', 'follow', 'oktaClockOffsetMs']) assert.ok(!(key in js), `${key} at the top of status --json with ORGS_FILE`);
    assert.deepEqual(js.leases, []);
    assert.deepEqual(js.replicas, []);
  });

  test('when the orgs share the outbox, then status names the org of every delivery count, failed delivery, exception and alert, and shows each org\'s follow and clock', async () => {
    const t = await setup(['alpha', 'beta']);
    try {
      const published = new Date(Date.now() - 2000).toISOString();
      t.fakes.org('alpha').persist(tokenEvent(11, published));
      t.fakes.org('beta').persist(tokenEvent(12, published));
      // Only beta has an exceptions file of its own.
      const exceptionsFile = path.join(t.dir, 'beta-exceptions.yaml');
      fs.writeFileSync(exceptionsFile, 'exceptions:\n  - reason: beta pipeline rotates its token\n    actor: svc-beta@example.com\n');
      const orgsFile = t.env.ORGS_FILE!;
      fs.writeFileSync(orgsFile, fs.readFileSync(orgsFile, 'utf8').replace(/(  - name: beta\n(?:    .*\n)*)/, `$1    exceptionsFile: ${exceptionsFile}\n`));
      const r = await runCli(['poll'], t.env);
      assert.equal(r.code, 0, r.stderr);
      // beta's console delivery failed for good (as if its destination refused it every time).
      const db = new SqliteDb(openDatabase(t.env.DB_PATH!), t.env.DB_PATH!);
      await db.run(`UPDATE deliveries SET status = 'failed', last_error = 'refused by the destination' WHERE alert_id IN (SELECT id FROM alerts WHERE org = 'beta')`);
      await db.close();

      const st = await runCli(['status', '--alerts'], t.env);
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, /^deliveries:\n {2}alpha +console +0 pending, 1 sent, 0 failed\n {2}beta +console +0 pending, 0 sent, 1 failed$/m);
      assert.match(st.stdout, /^ {2}#\d+ beta console otw-\S+ after \d+ attempt\(s\): refused by the destination$/m);
      assert.match(st.stdout, /^ {2}beta: exception #1 \(line 2\): beta pipeline rotates its token; actor svc-beta@example.com$/m);
      assert.doesNotMatch(st.stdout, /^ {2}alpha: exception/m);
      assert.match(st.stdout, /^ {2}\[alpha\] \S+ SUCCESS /m);
      assert.match(st.stdout, /^ {2}\[beta\] \S+ SUCCESS /m);
      for (const org of ['alpha', 'beta']) {
        assert.match(st.stdout, new RegExp(`^ {2}${org} +cursor saved .*\\n {2} +follow: \\d+ token\\(s\\) watched; .*\\n {2} +clock: `, 'm'));
      }

      const js = JSON.parse((await runCli(['status', '--json'], t.env)).stdout) as {
        orgs: Array<{ org: string; follow: { watched: number }; exceptions: unknown[] }>;
        deliveriesByOrg: Array<{ org: string; notifier: string; failed: number; sent: number }>;
        failedDeliveries: Array<{ org: string; notifier: string }>;
        exceptions: Array<{ org: string }>;
      };
      assert.deepEqual(js.deliveriesByOrg.map((d) => [d.org, d.notifier, d.sent, d.failed]), [['alpha', 'console', 1, 0], ['beta', 'console', 0, 1]]);
      assert.deepEqual(js.failedDeliveries.map((f) => [f.org, f.notifier]), [['beta', 'console']]);
      assert.deepEqual(js.exceptions.map((e) => e.org), ['beta']);
      assert.deepEqual(js.orgs.map((o) => [o.org, o.exceptions.length, typeof o.follow.watched]), [['alpha', 0, 'number'], ['beta', 1, 'number']]);

      // A failed delivery of a notifier that is no longer enabled (webhook): put back, nothing
      // would ever send it, so it stays failed and is named.
      const db2 = new SqliteDb(openDatabase(t.env.DB_PATH!), t.env.DB_PATH!);
      await db2.run(`INSERT INTO deliveries (alert_id, notifier, status, attempts, created_at, next_attempt_at) SELECT id, 'webhook', 'failed', 3, ?, ? FROM alerts WHERE org = 'beta'`, [new Date().toISOString(), new Date().toISOString()]);
      await db2.close();
      // retry-failed --org puts back that org's failed deliveries only.
      const none = await runCli(['retry-failed', '--org', 'alpha'], t.env);
      assert.equal(none.code, 0, none.stderr);
      assert.match(none.stdout, /^0 failed deliveries of org alpha put back to pending/);
      const one = await runCli(['retry-failed', '--org', 'beta'], t.env);
      assert.match(one.stdout, /^1 failed delivery of org beta put back to pending/);
      assert.match(one.stdout, /^1 failed delivery of webhook of org beta stays failed: webhook is not enabled for that org \(NOTIFIERS or its notify block in ORGS_FILE\); enable it, then run retry-failed again\.$/m);
      // Without --org too: every org's rows, each only for a notifier that org sends with.
      const all = await runCli(['retry-failed'], t.env);
      assert.match(all.stdout, /^0 failed deliveries put back to pending/);
      assert.match(all.stdout, /^1 failed delivery of webhook of org beta stays failed/m);
      const st2 = await runCli(['status'], t.env);
      assert.match(st2.stdout, /^ {2}beta +webhook +0 pending, 0 sent, 1 failed$/m, 'the disabled notifier\'s row is not pending forever');
      const unknown = await runCli(['retry-failed', '--org', 'gamma'], t.env);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /ORGS_FILE has no org named "gamma"/);
      // test-notify --org: through that org's notifiers, its sample naming the org's Okta.
      const tn = await runCli(['test-notify', '--org', 'beta'], t.env);
      assert.equal(tn.code, 0, tn.stderr);
      assert.match(tn.stdout, /^\{"org":"beta","type":"okta-token-watch.alert","test":true,/m, 'the sample names the org, as beta\'s alerts do');
      assert.match(tn.stdout, /^ok +console /m);
      // Testing an org's routing needs no Okta credentials, and the sample still names the org.
      const { OTW_TOKEN_BETA: _unset, ...noSecret } = t.env;
      const tn2 = await runCli(['test-notify', '--org', 'beta'], noSecret);
      assert.equal(tn2.code, 0, tn2.stderr);
      assert.match(tn2.stdout, /^\{"org":"beta","type":"okta-token-watch.alert","test":true,/m);
    } finally {
      await t.fakes.stop();
    }
  });

  test('when another live replica holds an org\'s lease, then poll skips that org saying who holds it, polls the other, and status shows the lease', async () => {
    const db = new SqliteDb(openDatabase(s.env.DB_PATH!), s.env.DB_PATH!);
    const now = Date.now();
    const holder = 'other-host:4242:0badcafe';
    await db.run('INSERT INTO replicas (holder, host, pid, started_at, seen_at) VALUES (?, ?, ?, ?, ?)', [holder, 'other-host', 4242, new Date(now - 60_000).toISOString(), new Date(now + 3_600_000).toISOString()]);
    await db.run('INSERT INTO leases (org, holder, acquired_at, renewed_at, expires_at) VALUES (?, ?, ?, ?, ?)', ['beta', holder, new Date(now - 60_000).toISOString(), new Date(now).toISOString(), new Date(now + 3_600_000).toISOString()]);
    await db.close();
    const before = { alpha: s.fakes.org('alpha').logRequests().length, beta: s.fakes.org('beta').logRequests().length };
    const r = await runCli(['poll'], s.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /org beta: skipped: replica other-host:4242:0badcafe holds its lease until .* and polls it/);
    assert.ok(s.fakes.org('alpha').logRequests().length > before.alpha, 'alpha was polled');
    assert.equal(s.fakes.org('beta').logRequests().length, before.beta, 'beta was not read beside its holder');
    const st = await runCli(['status'], s.env);
    assert.match(st.stdout, /^ {2}beta +other-host:4242:0badcafe since .*, expires /m);
    assert.match(st.stdout, /^replicas seen \(1\):\n {2}other-host:4242:0badcafe +started /m);
    assert.doesNotMatch(st.stdout, /not renewing/, 'a replica seen just now is not flagged');
    // The holder goes silent (killed): status says so while its lease still runs.
    const db1 = new SqliteDb(openDatabase(s.env.DB_PATH!), s.env.DB_PATH!);
    await db1.run('UPDATE replicas SET seen_at = ?', [new Date(now - 5 * 60_000).toISOString()]);
    await db1.close();
    const st2 = await runCli(['status'], s.env);
    assert.match(st2.stdout, /^ {2}other-host:4242:0badcafe +started .*, last seen .* \(not renewing: stopped or stalled\?/m);
    const db2 = new SqliteDb(openDatabase(s.env.DB_PATH!), s.env.DB_PATH!);
    await db2.run('DELETE FROM leases');
    await db2.run('DELETE FROM replicas');
    await db2.close();
  });

  test('when one org\'s credentials are refused, then poll still ticks the other and exits 1 naming the org that failed', async () => {
    const before = s.fakes.org('alpha').logRequests().length;
    const r = await runCli(['poll'], { ...s.env, OTW_TOKEN_BETA: WRONG });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /org beta: tick failed: /);
    assert.match(r.stderr, /poll failed for org\(s\) beta\n/);
    assert.doesNotMatch(r.stderr + r.stdout, new RegExp(WRONG));
    assert.ok(s.fakes.org('alpha').logRequests().length > before, 'alpha was polled');
  });

  test('when a one-org command has no --org or an unknown one, then one sentence says so and how to see the names, exit 2', async () => {
    for (const args of [['tokens'], ['backfill', '--since', '1d'], ['event-hook', 'status'], ['revoke', '00T00000000000000002', '--yes']]) {
      const r = await runCli(args, s.env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /acts on one org and ORGS_FILE lists 2: add --org NAME \(orgs: alpha, beta; "okta-token-watch check" shows each org\)/);
    }
    const unknown = await runCli(['tokens', '--org', 'gamma'], s.env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /ORGS_FILE has no org named "gamma" \(orgs: alpha, beta; "okta-token-watch check" shows each org\)/);
    const misplaced = await runCli(['status', '--org', 'alpha'], s.env);
    assert.equal(misplaced.code, 2);
    assert.match(misplaced.stderr, /--org is an option of backfill, tokens, event-hook, revoke, ack, retry-failed, test-notify, not of status/);
  });

  test('when tokens and backfill name an org, then they talk to that org\'s Okta only', async () => {
    s.fakes.org('alpha').addApiToken({ id: '00Talphaonly000000001', name: 'alpha-only' });
    s.fakes.org('beta').addApiToken({ id: '00Tbetaonly0000000001', name: 'beta-only' });
    const r = await runCli(['tokens', '--org', 'beta'], s.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"beta-only"/);
    assert.doesNotMatch(r.stdout, /alpha-only/);
    const before = s.fakes.org('alpha').logRequests().length;
    const b = await runCli(['backfill', '--org', 'beta', '--since', '1d', '--dry-run'], s.env);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /token-2".* already stored/);
    assert.doesNotMatch(b.stdout, /token-1"/);
    assert.equal(s.fakes.org('alpha').logRequests().length, before, 'alpha was not read');
    const hooks = (org: string): number => s.fakes.org(org).requests.filter((q) => q.path.startsWith('/api/v1/eventHooks')).length;
    const h = await runCli(['event-hook', 'status', '--org', 'beta'], s.env);
    assert.equal(h.code, 1, h.stderr);
    assert.match(h.stdout, /no event hook of ours in Okta/);
    assert.ok(hooks('beta') >= 1, 'beta\'s hooks were listed');
    assert.equal(hooks('alpha'), 0, 'alpha was not asked');
  });

  test('when revoke and ack get an alert id, then the alert\'s own org acts, with no --org, through that org\'s Okta', async () => {
    const alerts = await alertsOf(s.env);
    const beta = alerts.find((a) => a.org?.name === 'beta')!;
    // Both fakes know the token: a revoke sent to the wrong org would succeed there and show.
    for (const org of ['alpha', 'beta']) s.fakes.org(org).addApiToken({ id: beta.token!.id, name: 'token-2' });
    const r = await runCli(['revoke', beta.id, '--yes'], s.env);
    assert.equal(r.code, 0, r.stderr);
    const deletes = (org: string): number => s.fakes.org(org).requests.filter((q) => q.method === 'DELETE').length;
    assert.equal(deletes('beta'), 1);
    assert.equal(deletes('alpha'), 0);
    const alpha = alerts.find((a) => a.org?.name === 'alpha')!;
    const ack = await runCli(['ack', alpha.id, '--reason', 'seen'], s.env);
    assert.equal(ack.code, 0, ack.stderr);
    const wrong = await runCli(['ack', alpha.id, '--org', 'beta'], s.env);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /belongs to org alpha, not to --org beta/);
  });

  test('when an org\'s secret variable is put in the env file, then start-up stops naming it as an org\'s secret and where it belongs, never its value', async () => {
    const envFile = path.join(s.dir, 'with-secret.env');
    fs.writeFileSync(envFile, `ORGS_FILE=${s.env.ORGS_FILE}\nNOTIFIERS=console\nOTW_TOKEN_ALPHA=${TOKEN}\n`);
    const { OTW_TOKEN_ALPHA: _a, ORGS_FILE: _f, ...rest } = s.env;
    const r = await runCli(['check', '--env-file', envFile], rest);
    assert.equal(r.code, 78, r.stdout + r.stderr);
    assert.match(r.stderr, /OTW_TOKEN_ALPHA \(\S+ line 3\) is an org's secret that ORGS_FILE reads \(\{ env: OTW_TOKEN_ALPHA \}\), not a setting: .*process environment/);
    assert.ok(!r.stderr.includes(TOKEN), 'never the value');
  });

  test('when check runs, then each org gets its own System Log request and notifier lines, named by the org', async () => {
    const r = await runCli(['check'], { ...s.env, OTW_TOKEN_BETA: WRONG });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /^ok {4}alpha: okta +System Log readable/m);
    assert.match(r.stdout, /^FAIL {2}beta: okta +Okta rejected OKTA_API_TOKEN \(401/m);
    assert.match(r.stdout, /^ok {4}alpha: notifier console/m);
    assert.match(r.stdout, /^ok {4}beta: notifier console/m);
    assert.doesNotMatch(r.stdout, new RegExp(`${WRONG}|${TOKEN}`));
    // --send: a sample through each org's own notifiers, naming the org.
    const sent = await runCli(['check', '--send'], s.env);
    assert.equal(sent.code, 0, sent.stdout);
    for (const org of ['alpha', 'beta']) {
      assert.match(sent.stdout, new RegExp(`^${org}: ok +console +sample alert delivered`, 'm'));
      assert.match(sent.stdout, new RegExp(`^\\{"org":"${org}","type":"okta-token-watch.alert","test":true,`, 'm'));
    }
  });
});

describe('one-shot commands on PostgreSQL (DATABASE_URL)', () => {
  test('when DATABASE_URL is set, then poll, status (text and --json), tokens and ack work without any SQLite file', async () => {
    const pg = await startPgCluster();
    const s = await setup();
    try {
      const url = await pg.createDatabase();
      const env = { ...s.env, DATABASE_URL: url };
      delete (env as Record<string, string | undefined>).DB_PATH;
      s.fakes.org('beta').persist(tokenEvent(7, new Date(Date.now() - 2000).toISOString()));
      const p = await runCli(['poll'], env);
      assert.equal(p.code, 0, p.stderr);
      const st = await runCli(['status'], env);
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, /^database +postgresql:\/\/127\.0\.0\.1:\d+\/\S+ \(schema \d+\)$/m);
      assert.doesNotMatch(st.stdout, /FAKE/);
      assert.match(st.stdout, /^ {2}beta +cursor saved/m);
      // Counters of every org, not of an org named "default" that ORGS_FILE does not have.
      assert.match(st.stdout, /^events seen +1 \(1 first by poll, 0 first by push\)$/m);
      const alerts = await alertsOf(env);
      assert.equal(alerts.length, 1);
      assert.equal(alerts[0]!.org?.name, 'beta');
      const ack = await runCli(['ack', alerts[0]!.id], env);
      assert.equal(ack.code, 0, ack.stderr);
      s.fakes.org('beta').addApiToken({ id: alerts[0]!.token!.id, name: 'token-7' });
      const t = await runCli(['tokens', '--org', 'beta'], env);
      assert.equal(t.code, 0, t.stderr);
      assert.match(t.stdout, new RegExp(`alerted +yes, ${alerts[0]!.id}`));
      assert.deepEqual(fs.readdirSync(s.dir).filter((f) => f.endsWith('.sqlite')), [], 'no SQLite file was made');
    } finally {
      await s.fakes.stop();
      await pg.stop();
    }
  });
});
