import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { handovers, overlappingReads } from '../soak/scale-checks';
import { createApp, tickDepsFor } from '../src/app';
import { parseConfig } from '../src/config';
import { runTick } from '../src/ingest/poll';
import { createLogger } from '../src/logger';
import { FakeOktaOrgs } from '../src/simulator/okta-orgs';
import { tokenEvent } from './helpers/events';
import { startPgCluster } from './helpers/pg-cluster';
import { LineSink, runCli, tmpDir, until } from './helpers/harness';
import { FakeSlackApi, Receiver } from './helpers/receiver';
import { SmtpReceiver } from './helpers/smtp';

const BOT = 'xoxb-FAKE-bot-token-for-daemon-orgs-tests';

/** One `okta-token-watch run` process: its output so far, and its end. */
interface RunningDaemon {
  child: ChildProcess;
  /** The JSON log lines it wrote so far (stderr and stdout). */
  lines(): Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function startDaemon(env: Record<string, string>): Promise<RunningDaemon> {
  return new Promise((resolve) => {
    let out = '';
    let child: ChildProcess | null = null;
    const exited = runCli(['run'], env, {
      timeoutMs: 120_000,
      onSpawn: (c) => {
        child = c;
        c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
        c.stderr!.on('data', (b: Buffer) => (out += b.toString()));
      },
    });
    resolve({
      child: child!,
      exited,
      lines: () =>
        out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .flatMap((l) => {
            try {
              return [JSON.parse(l) as Record<string, unknown>];
            } catch {
              return [];
            }
          }),
    });
  });
}

async function stopDaemon(d: RunningDaemon): Promise<void> {
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
  const r = await d.exited;
  assert.ok(r.signal === 'SIGKILL' || r.code === 0, `the daemon stops cleanly: ${r.stderr.slice(-2000)}`);
}

/** ORGS_FILE for these orgs, each with its own token variable and optional per-org notify block. */
function orgsFile(dir: string, fakes: FakeOktaOrgs, notify: (org: string) => string = () => ''): string {
  const file = path.join(dir, 'orgs.yaml');
  const body = fakes.names.map((name) => `  - name: ${name}\n    url: ${fakes.org(name).origin}\n    apiToken: { env: OTW_TOKEN_${name.toUpperCase().replace(/-/g, '_')} }\n${notify(name)}`).join('');
  fs.writeFileSync(file, `orgs:\n${body}`);
  return file;
}

/** The env of a daemon that uses `token` (labelled in the fakes as this process) for every org. */
function tokenEnv(fakes: FakeOktaOrgs, token: string): Record<string, string> {
  return Object.fromEntries(fakes.names.map((n) => [`OTW_TOKEN_${n.toUpperCase().replace(/-/g, '_')}`, token]));
}


/**
 * Two `run` processes on one database (`storeEnv`: DB_PATH or DATABASE_URL) and four orgs, each
 * process with its own labelled token so the fakes' request log says who read which org when.
 */
async function twoReplicas(storeEnv: (dir: string) => Record<string, string>): Promise<void> {
  const names = ['org-a', 'org-b', 'org-c', 'org-d'];
  const fakes = new FakeOktaOrgs(names);
  await fakes.start();
  const dir = tmpDir();
  const ttlMs = 10_000;
  const intervalMs = 2_000;
  const tokens = { r1: 'FAKE-okta-api-token-for-tests-replica-1', r2: 'FAKE-okta-api-token-for-tests-replica-2' };
  fakes.addToken(tokens.r1, 'r1');
  fakes.addToken(tokens.r2, 'r2');
  const file = orgsFile(dir, fakes);
  const env = (who: 'r1' | 'r2'): Record<string, string> => ({
    ORGS_FILE: file,
    ...tokenEnv(fakes, tokens[who]),
    ...storeEnv(dir),
    POLL_SCHEDULE: '*/2 * * * * *',
    LEASE_TTL: '10s',
  });
  const reads = (who: string): string[] => [...new Set(fakes.requestLog().filter((r) => r.systemLog && r.who === who).map((r) => r.org))];
  const r1 = await startDaemon(env('r1'));
  let r2: RunningDaemon | null = null;
  try {
    await until(() => reads('r1').length === names.length, 60_000);
    r2 = await startDaemon(env('r2'));
    // The second replica gets its fair share (half) within a few slots.
    await until(() => reads('r2').length >= 2, 60_000);
    const split = Date.now();
    await until(() => Date.now() - split > 3 * intervalMs, 30_000);
    const owned = new Set(fakes.requestLog().filter((r) => r.systemLog && r.who === 'r1' && r.at > split).map((r) => r.org));
    assert.ok(owned.size >= 1 && owned.size < names.length, `r1 kept part of the orgs: ${[...owned].join(',')}`);

    r1.child.kill('SIGKILL');
    const killedAt = Date.now();
    await r1.exited;
    await until(() => [...owned].every((org) => fakes.requestLog().some((r) => r.systemLog && r.who === 'r2' && r.org === org && r.at > killedAt)), ttlMs + 6 * intervalMs);
    const log = fakes.requestLog();
    assert.deepEqual(overlappingReads(log, intervalMs), [], 'never two replicas reading one org in one slot');
    const h = handovers(log, [{ who: 'r1', at: killedAt }], { ttlMs, intervalMs, toleranceMs: 2_000, measurableUntil: Date.now() + ttlMs + 3 * intervalMs });
    assert.ok(h.handovers.length >= 1);
    for (const x of h.handovers) assert.ok(x.ok, `org ${x.org} taken over in ${x.ms} ms (bound ${ttlMs + intervalMs} ms + tolerance)`);
  } finally {
    if (r1.child.exitCode === null && r1.child.signalCode === null) r1.child.kill('SIGKILL');
    if (r2) await stopDaemon(r2);
    await fakes.stop();
  }
}

describe('one daemon, many orgs', () => {
  test('when two orgs each create a token, then each org\'s alert goes to its own Slack channel and email recipients and names its org', async () => {
    const fakes = new FakeOktaOrgs(['alpha', 'beta']);
    await fakes.start();
    const rcv = new Receiver();
    await rcv.start();
    const slack = new FakeSlackApi(rcv);
    const smtp = new SmtpReceiver();
    await smtp.start();
    const dir = tmpDir();
    try {
      const token = 'FAKE-okta-api-token-for-tests-routing';
      fakes.addToken(token, 'd1');
      const now = Date.now();
      fakes.org('alpha').persist(tokenEvent(1, new Date(now - 2000).toISOString()));
      fakes.org('beta').persist(tokenEvent(2, new Date(now - 2000).toISOString()));
      const file = orgsFile(dir, fakes, (org) => `    notify:\n      slack: { channel: C0${org.toUpperCase()}0001 }\n      email: { to: [${org}-sec@example.com] }\n`);
      const d = await startDaemon({
        ORGS_FILE: file,
        ...tokenEnv(fakes, token),
        DB_PATH: path.join(dir, 'otw.sqlite'),
        POLL_SCHEDULE: '0 0 1 1 *',
        NOTIFIERS: 'slack,email',
        SLACK_BOT_TOKEN: BOT,
        SLACK_CHANNEL: 'C0SHARED001',
        SLACK_API_URL: rcv.url('/api'),
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtp.port),
        EMAIL_FROM: 'otw@example.com',
        EMAIL_TO: 'secops@example.com',
      });
      try {
        await until(() => slack.messages.length >= 2 && smtp.messages.length >= 2, 60_000);
      } finally {
        await stopDaemon(d);
      }
      const posts = slack.messages.map((m) => m.versions[0]!);
      const byChannel = new Map(posts.map((p) => [p.channel, JSON.stringify(p)]));
      assert.deepEqual([...byChannel.keys()].sort(), ['C0ALPHA0001', 'C0BETA0001']);
      assert.match(byChannel.get('C0ALPHA0001')!, /token-1\b/);
      assert.match(byChannel.get('C0ALPHA0001')!, /alpha/);
      assert.doesNotMatch(byChannel.get('C0ALPHA0001')!, /token-2\b|beta/);
      assert.match(byChannel.get('C0BETA0001')!, /token-2\b/);
      assert.match(byChannel.get('C0BETA0001')!, /beta/);
      assert.doesNotMatch(byChannel.get('C0BETA0001')!, /token-1\b|alpha/);
      const mails = new Map(smtp.messages.map((m) => [m.to.join(','), m]));
      assert.deepEqual([...mails.keys()].sort(), ['alpha-sec@example.com', 'beta-sec@example.com']);
      assert.match(mails.get('alpha-sec@example.com')!.header('subject') ?? '', /^\[alpha\]/);
      assert.match(mails.get('alpha-sec@example.com')!.raw, /token-1\b/);
      assert.match(mails.get('beta-sec@example.com')!.header('subject') ?? '', /^\[beta\]/);
      assert.match(mails.get('beta-sec@example.com')!.raw, /token-2\b/);
    } finally {
      await smtp.stop();
      await rcv.stop();
      await fakes.stop();
    }
  });

  test('when one org\'s Okta hangs, then the other org is still polled every slot', async () => {
    const fakes = new FakeOktaOrgs(['stuck', 'fine']);
    await fakes.start();
    const dir = tmpDir();
    try {
      const token = 'FAKE-okta-api-token-for-tests-hang';
      fakes.addToken(token, 'd1');
      fakes.org('stuck').hang();
      // A request timeout far longer than a slot: the stuck org's request is given up at its tick's
      // deadline (the next slot), not when the timeout ends.
      const d = await startDaemon({ ORGS_FILE: orgsFile(dir, fakes), ...tokenEnv(fakes, token), DB_PATH: path.join(dir, 'otw.sqlite'), POLL_SCHEDULE: '* * * * * *', OKTA_REQUEST_TIMEOUT: '60s', OKTA_MAX_RETRIES: '0' });
      let during: number;
      let recoveredAt = Infinity;
      try {
        // The first read of each org: the daemon is up and the stuck org holds a request.
        await until(() => fakes.org('stuck').logRequests().length >= 1 && fakes.org('fine').logRequests().length >= 1, 60_000);
        const from = fakes.org('fine').logRequests().length;
        await until(() => fakes.org('fine').logRequests().length >= from + 4, 30_000);
        during = fakes.org('fine').logRequests().length - from;
        // The stuck org's tick was aborted at its deadline rather than holding its place.
        await until(() => d.lines().some((l) => l.message === 'the org\'s tick did not finish by its deadline: it was aborted and its place given to the next org' && l.org === 'stuck'), 30_000);
        // The second request: the first one's tick passed its deadline.
        await until(() => fakes.org('stuck').logRequests().length >= 2, 30_000);
      } finally {
        // A stop lets the request in hand run (to its answer or OKTA_REQUEST_TIMEOUT): the org
        // recovers first, so the test does not wait a minute for it.
        recoveredAt = Date.now();
        fakes.org('stuck').unhang();
        await stopDaemon(d);
      }
      assert.ok(during >= 4);
      assert.ok(fakes.org('stuck').requests.filter((r) => r.at < recoveredAt).every((r) => r.answeredAt === null), 'the stuck org never answered while it hung');
      // Every request the daemon gave up on (all but the one in hand at the stop) it gave up at the
      // tick's deadline, a slot after it was sent, not when OKTA_REQUEST_TIMEOUT (60 s) ran out.
      const givenUp = fakes.org('stuck').requests.filter((r) => r.path === '/api/v1/logs' && r.clientClosedAt != null);
      assert.ok(givenUp.length >= 1, 'the first request was given up before the stop');
      for (const r of givenUp) assert.ok(r.clientClosedAt! - r.at < 10_000, `given up after ${r.clientClosedAt! - r.at} ms`);
      const fineTicks = d.lines().filter((l) => l.message === 'tick finished' && l.org === 'fine');
      assert.ok(fineTicks.length >= 4, `the fine org finished its ticks: ${fineTicks.length}`);
    } finally {
      fakes.org('stuck').unhang();
      await fakes.stop();
    }
  });

  test('when two replicas share a SQLite file, then each org is read by one of them per slot, and after SIGKILL of one the other takes its orgs within LEASE_TTL plus one interval', async () => {
    await twoReplicas((dir) => ({ DB_PATH: path.join(dir, 'otw.sqlite') }));
  });

  test('when two replicas share PostgreSQL, then each org is read by one of them per slot, and after SIGKILL of one the other takes its orgs when its leases expire (LEASE_TTL plus one interval)', async () => {
    const cluster = await startPgCluster();
    try {
      const url = await cluster.createDatabase();
      await twoReplicas(() => ({ DATABASE_URL: url }));
    } finally {
      await cluster.stop();
    }
  });
});

describe('responding to an alert of one org', () => {
  test('when an analyst clicks Revoke on one org\'s alert, then that org\'s Okta revokes the token and the other org\'s is not asked', async () => {
    const fakes = new FakeOktaOrgs(['alpha', 'beta']);
    await fakes.start();
    const rcv = new Receiver();
    await rcv.start();
    new FakeSlackApi(rcv);
    const dir = tmpDir();
    const token = 'FAKE-okta-api-token-for-tests-respond';
    fakes.addToken(token, 'd1');
    const now = Date.now();
    const events = { alpha: tokenEvent(1, new Date(now - 60_000).toISOString()), beta: tokenEvent(2, new Date(now - 60_000).toISOString()) };
    const tokenIdOf = (e: Record<string, unknown>): string => (e.target as Array<{ id: string }>)[0]!.id;
    for (const org of ['alpha', 'beta'] as const) {
      fakes.org(org).persist(events[org]);
      // Both tokens exist in both fakes: a revoke sent to the wrong org would succeed there.
      for (const e of Object.values(events)) fakes.org(org).apiTokens.set(tokenIdOf(e), { id: tokenIdOf(e), name: 'token', userId: '00u1', tokenWindow: 'P30D', created: new Date(now).toISOString() });
    }
    const config = parseConfig(
      {
        ORGS_FILE: orgsFile(dir, fakes),
        ...tokenEnv(fakes, token),
        DB_PATH: path.join(dir, 'otw.sqlite'),
        TOKEN_LOOKUP: 'false',
        NOTIFIERS: 'slack',
        SLACK_BOT_TOKEN: BOT,
        SLACK_CHANNEL: 'C0SHARED001',
        SLACK_API_URL: rcv.url('/api'),
        SLACK_APP_TOKEN: 'xapp-FAKE-app-token-for-daemon-orgs-tests',
        RESPONSE_ACTIONS: 'revoke',
        RESPONDERS: 'U0ALICE0001',
      },
      { requireOkta: true },
    );
    const app = await createApp(config, { logger: createLogger(config.log, { stream: new LineSink() }) });
    try {
      for (const org of app.orgs) assert.equal((await runTick(tickDepsFor(app, undefined, org))).ok, true);
      const alerts = await app.store.sql.all<{ id: string; payload: string }>('SELECT alert_id AS id, payload FROM alerts ORDER BY id');
      const betaAlert = alerts.find((a) => (JSON.parse(a.payload) as { org?: { name: string } }).org?.name === 'beta');
      assert.ok(betaAlert, 'beta\'s alert names its org');
      const out = await app.responder!.respond({ alertId: betaAlert.id, action: 'revoke', by: { via: 'slack', id: 'U0ALICE0001', name: 'alice' }, reason: null });
      assert.equal(out.result, 'revoked', out.message);
      const deletes = (org: string): string[] => fakes.org(org).requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
      assert.deepEqual(deletes('beta'), [`/api/v1/api-tokens/${tokenIdOf(events.beta)}`]);
      assert.deepEqual(deletes('alpha'), []);
    } finally {
      await app.close();
      await rcv.stop();
      await fakes.stop();
    }
  });
});
