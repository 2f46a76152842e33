import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { createApp, type App } from '../src/app';
import { FakeClock } from '../src/clock';
import { parseConfig, type Env } from '../src/config';
import { Daemon } from '../src/daemon';
import { createLogger } from '../src/logger';
import type { ResponsePolicy } from '../src/slack-app/respond-port';
import { tokenEvent } from './helpers/events';
import { FakeOkta } from './helpers/fake-okta';
import { FakeSlack, type SlackMessage } from './helpers/fake-slack';
import { LineSink, tmpDir } from './helpers/harness';
import { testResponder } from './helpers/test-respond';
import { Receiver } from './helpers/receiver';

const CHANNEL = 'C0SECURITY1';
const ALICE = { id: 'U0ALICE01', name: 'alice' };
const MALLORY = { id: 'U0MALLORY', name: 'mallory' };
const OKTA_TOKEN = 'FAKE-okta-api-token-for-tests';

function slackModules(): string[] {
  return Object.keys(require.cache).filter((k) => /node_modules[\\/]@slack[\\/]/.test(k));
}

interface World {
  clock: FakeClock;
  okta: FakeOkta;
  slack: FakeSlack;
  app: App;
  daemon: Daemon;
  logs: LineSink;
  responder: Awaited<ReturnType<typeof testResponder>>;
  /** The alert message the daemon posted for event 1, as first posted. */
  alertMessage: SlackMessage;
  tokenId: string;
  deletes(): number;
  close(): Promise<void>;
}

/**
 * The daemon with Slack app mode on, against a fake Okta (one token created, and present in its
 * API Tokens list) and a fake Slack; it has posted the alert with its buttons and is connected.
 */
async function world(opts: { policy?: Partial<ResponsePolicy>; userGroups?: Record<string, string[]>; env?: Env; beforeStart?: (slack: FakeSlack) => void; realResponder?: boolean } = {}): Promise<World> {
  const clock = new FakeClock();
  const okta = new FakeOkta({ token: OKTA_TOKEN, now: () => clock.now().getTime() });
  const origin = await okta.start();
  const slack = new FakeSlack({ userGroups: opts.userGroups, pingIntervalMs: 1000 });
  await slack.start();
  const dir = tmpDir();
  const env: Env = {
    OKTA_ORG_URL: origin,
    OKTA_API_TOKEN: OKTA_TOKEN,
    DB_PATH: path.join(dir, 'otw.sqlite'),
    POLL_SCHEDULE: '0 0 1 1 *',
    LOG_LEVEL: 'debug',
    TOKEN_LOOKUP: 'false',
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_CHANNEL: CHANNEL,
    SLACK_API_URL: slack.apiUrl,
    SLACK_APP_TOKEN: slack.appToken,
    ...opts.env,
  };
  const event = tokenEvent(1, new Date(clock.now().getTime() - 60_000).toISOString());
  const tokenId = (event.target as Array<{ id: string }>)[0]!.id;
  okta.persist(event);
  okta.apiTokens.set(tokenId, { id: tokenId, name: 'token-1', userId: '00u1', tokenWindow: 'P30D', created: new Date().toISOString() });
  const logs = new LineSink();
  const config = parseConfig(env, { requireOkta: true });
  const policy: ResponsePolicy = { actions: ['revoke', 'expected', 'acknowledge'], users: [ALICE.id], groups: [], ...opts.policy };
  let responder: Awaited<ReturnType<typeof testResponder>> | null = null;
  const app = await createApp(config, {
    clock,
    logger: createLogger(config.log, { stream: logs }),
    // Without one, createApp wires the program's own response actions (src/respond/).
    responder: opts.realResponder
      ? undefined
      : {
          policy,
          respond: (req) => responder!.respond(req),
        },
  });
  responder = await testResponder({ store: app.store, oktaOrigin: origin, oktaToken: OKTA_TOKEN, policy, now: () => clock.now() });
  opts.beforeStart?.(slack);
  const daemon = new Daemon(app, { slackReconnectMs: 200 });
  await daemon.start();
  await slack.waitForCalls('chat.postMessage', 1);
  await slack.waitForConnections(1);
  return {
    clock,
    okta,
    slack,
    app,
    daemon,
    logs,
    responder,
    // A copy: chat.update changes the fake's message, and a stale client may still show the buttons.
    alertMessage: structuredClone(slack.messages[0]!),
    tokenId,
    deletes: () => okta.requests.filter((r) => r.method === 'DELETE').length,
    async close() {
      await daemon.stop();
      await app.close();
      await slack.stop();
      await okta.stop();
    },
  };
}

function button(w: World, actionId: string): Record<string, unknown> {
  const b = w.slack.responseButtons(w.alertMessage).find((e) => e.action_id === actionId);
  assert.ok(b, `the alert message has the ${actionId} button`);
  return b;
}

function statusText(m: SlackMessage): string {
  return String(((m.blocks ?? []).find((b) => b.block_id === 'otw_status')?.text as { text?: string } | undefined)?.text ?? '');
}

describe('Slack app mode', () => {
  // First in the file: the module cache is per test process.
  test('when SLACK_APP_TOKEN is unset, then the daemon loads none of Slack\'s client modules', async () => {
    const clock = new FakeClock();
    const okta = new FakeOkta({ token: OKTA_TOKEN, now: () => clock.now().getTime() });
    const origin = await okta.start();
    const config = parseConfig({ OKTA_ORG_URL: origin, OKTA_API_TOKEN: OKTA_TOKEN, DB_PATH: path.join(tmpDir(), 'db.sqlite'), POLL_SCHEDULE: '0 0 1 1 *', NOTIFIERS: 'console' }, { requireOkta: true });
    const app = await createApp(config, { clock, logger: createLogger(config.log, { stream: new LineSink() }), stdout: new LineSink() });
    const daemon = new Daemon(app);
    try {
      await daemon.start();
      assert.ok(okta.logRequests().length >= 1, 'the daemon ticked');
      assert.deepEqual(slackModules(), []);
    } finally {
      await daemon.stop();
      await app.close();
      await okta.stop();
    }
  });

  test('when an allowed user clicks Revoke, then the envelope is acked before Okta answers, Okta gets one DELETE, the audit row exists, the message is updated without buttons and the thread says who', async () => {
    const w = await world();
    try {
      assert.ok(slackModules().length > 0, 'app mode loaded Slack\'s clients');
      assert.deepEqual(w.slack.responseButtons(w.alertMessage).map((b) => b.value), Array(3).fill((await w.app.store.listAlerts(1))[0]!.alert.id));
      // Okta takes its time: the ack must not wait for it.
      w.okta.fail(1, { kind: 'hang', ms: 1500 }, (p) => p.startsWith('/api/v1/api-tokens/'));
      const env = w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_revoke'), ALICE));
      await w.slack.waitForAck(env);
      const del = w.okta.requests.filter((r) => r.method === 'DELETE');
      assert.ok(del.every((r) => r.status === 0), 'acknowledged while Okta had not answered yet');

      await w.slack.waitForCalls('chat.update', 1);
      await w.slack.waitForCalls('chat.postMessage', 2);
      assert.equal(w.deletes(), 1);
      assert.equal(w.okta.requests.find((r) => r.method === 'DELETE')!.path, `/api/v1/api-tokens/${w.tokenId}`);
      assert.equal(w.okta.apiTokens.has(w.tokenId), false, 'the token is gone from Okta');
      const rows = await w.responder.rows();
      assert.equal(rows.length, 1);
      assert.deepEqual({ action: rows[0]!.action, result: rows[0]!.result, via: rows[0]!.via, by: rows[0]!.by_id, token: rows[0]!.token_id }, { action: 'revoke', result: 'revoked', via: 'slack', by: ALICE.id, token: w.tokenId });
      const updated = w.slack.messages[0]!;
      assert.match(statusText(updated), /Revoked\* by <@U0ALICE01> at/);
      assert.deepEqual(w.slack.responseButtons(updated), [], 'no response buttons after a revoke');
      const reply = w.slack.messages.find((m) => m.thread_ts === w.alertMessage.ts)!;
      assert.ok(reply, 'a reply in the alert\'s thread');
      assert.match(JSON.stringify(reply.blocks), /<@U0ALICE01>/);
      assert.equal(w.slack.callsOf('chat.update')[0]!.token, w.slack.botToken, 'Web API calls use the bot token');
      assert.equal(w.slack.callsOf('apps.connections.open')[0]!.token, w.slack.appToken, 'the connection is opened with the app token');
      assert.deepEqual(w.slack.strayFrames, []);
      assert.deepEqual(w.slack.envelopes[0]!.ackPayload, {}, 'the ack is {envelope_id} with an empty payload');
    } finally {
      await w.close();
    }
  });

  test('when the program\'s own response actions answer the clicks, then an allowed revoke calls Okta once, is audited, and its follow-up goes to the other notifiers but not again to Slack; a user not in RESPONDERS is refused and audited', async () => {
    const hook = new Receiver();
    const hookUrl = await hook.start();
    const w = await world({
      realResponder: true,
      env: { RESPONSE_ACTIONS: 'revoke,acknowledge', RESPONDERS: ALICE.id, NOTIFIERS: 'slack,webhook', WEBHOOK_URL: `${hookUrl}/hook` },
    });
    try {
      const audit = (): Promise<Array<{ action: string; result: string; by_via: string; by_id: string }>> =>
        w.app.store.sql.all<{ action: string; result: string; by_via: string; by_id: string }>('SELECT action, result, by_via, by_id FROM response_actions ORDER BY id');
      // Expected is not in RESPONSE_ACTIONS: no button for it.
      assert.deepEqual(w.slack.responseButtons(w.alertMessage).map((b) => b.action_id).sort(), ['otw_acknowledge', 'otw_revoke']);
      w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_revoke'), MALLORY));
      await w.slack.waitForCalls('chat.postEphemeral', 1);
      await w.slack.until(async () => (await audit()).length === 1, 'the refused row', 5000);
      assert.deepEqual((await audit())[0], { action: 'revoke', result: 'refused', by_via: 'slack', by_id: MALLORY.id });
      assert.equal(w.deletes(), 0);

      const first = w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_revoke'), ALICE));
      const second = w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_revoke'), ALICE));
      await w.slack.waitForAck(first);
      await w.slack.waitForAck(second);
      await w.slack.until(async () => (await audit()).length === 3 && (await audit()).every((r) => r.result !== 'pending'), 'both clicks recorded', 10_000);
      assert.equal(w.deletes(), 1, 'two clicks, one DELETE');
      assert.deepEqual((await audit()).slice(1).map((r) => r.result).sort(), ['duplicate', 'revoked']);
      await w.slack.waitForCalls('chat.update', 1);
      // The action's follow-up: one per notifier other than Slack (the app answered in Slack itself).
      const deliveries = await w.app.store.sql.all<{ notifier: string }>("SELECT d.notifier FROM deliveries d JOIN followups f ON f.id = d.followup_id WHERE f.kind = 'response'");
      assert.deepEqual(deliveries.map((d) => d.notifier), ['webhook']);
      await w.app.dispatcher.runOnce();
      const sent = hook.requests.map((r) => r.json as { type?: string; followup?: { response?: { action?: string; result?: string; by?: { via?: string; id?: string } } } });
      const response = sent.filter((j) => j?.type === 'okta-token-watch.alert.followup');
      assert.equal(response.length, 1);
      assert.deepEqual(response[0]!.followup!.response!.by!.id, ALICE.id);
      assert.equal(response[0]!.followup!.response!.result, 'revoked');
    } finally {
      await w.close();
      await hook.stop();
    }
  });

  test('when a user not in RESPONDERS clicks Revoke, then they get an ephemeral refusal, the attempt is stored as refused, and Okta is not called', async () => {
    const w = await world();
    try {
      const env = w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_revoke'), MALLORY));
      await w.slack.waitForAck(env);
      const [eph] = await w.slack.waitForCalls('chat.postEphemeral', 1);
      assert.equal(eph!.args.user, MALLORY.id);
      assert.equal(eph!.args.channel, CHANNEL);
      assert.match(String(eph!.args.text), /not allowed/);
      await w.slack.until(async () => (await w.responder.rows()).length === 1, 'the refused row', 5000);
      assert.deepEqual({ result: (await w.responder.rows())[0]!.result, by: (await w.responder.rows())[0]!.by_id }, { result: 'refused', by: MALLORY.id });
      assert.equal(w.deletes(), 0);
      assert.equal(w.slack.callsOf('chat.update').length, 0);
      assert.match(w.logs.text, /refused revoke by a Slack user: the Slack user is not in RESPONDERS/);
    } finally {
      await w.close();
    }
  });

  test('when RESPONDERS names a user group, then its members may act and Slack is asked for the members', async () => {
    const w = await world({ policy: { users: [], groups: ['S0SECOPS1'] }, userGroups: { S0SECOPS1: [ALICE.id] } });
    try {
      w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_acknowledge'), ALICE));
      await w.slack.waitForCalls('chat.update', 1);
      assert.equal(w.slack.callsOf('usergroups.users.list')[0]!.args.usergroup, 'S0SECOPS1');
      assert.deepEqual((await w.responder.rows()).map((r) => r.result), ['recorded']);
      // The acknowledgement keeps the buttons: the token may still need revoking.
      assert.ok(w.slack.responseButtons(w.slack.messages[0]!).some((b) => b.action_id === 'otw_revoke'));
    } finally {
      await w.close();
    }
  });

  test('when Revoke is clicked twice (two users, at once), then Okta gets one DELETE, the channel one update and one reply, and the second clicker is told who revoked it', async () => {
    const w = await world({ policy: { users: [ALICE.id, 'U0BOB0001'] } });
    try {
      w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_revoke'), ALICE));
      w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_revoke'), { id: 'U0BOB0001', name: 'bob' }));
      const [eph] = await w.slack.waitForCalls('chat.postEphemeral', 1);
      assert.equal(eph!.args.user, 'U0BOB0001');
      assert.match(String(eph!.args.text), /already revoked by alice/);
      assert.equal(w.deletes(), 1);
      assert.equal(w.slack.callsOf('chat.update').length, 1);
      assert.equal(w.slack.messages.filter((m) => m.thread_ts).length, 1);
      assert.deepEqual((await w.responder.rows()).map((r) => r.result), ['revoked']);
    } finally {
      await w.close();
    }
  });

  test('when the token is already gone (404), then the alert says so and loses its buttons; when Okta answers 403, then it says not permitted and keeps them', async () => {
    const w = await world();
    try {
      w.okta.apiTokens.delete(w.tokenId);
      w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_revoke'), ALICE));
      await w.slack.waitForCalls('chat.update', 1);
      assert.match(statusText(w.slack.messages[0]!), /Already gone\*/);
      assert.match(statusText(w.slack.messages[0]!), /already gone \(revoked or expired before\)/);
      assert.deepEqual(w.slack.responseButtons(w.slack.messages[0]!), []);
      assert.deepEqual((await w.responder.rows()).map((r) => r.result), ['already-gone']);
    } finally {
      await w.close();
    }
    const v = await world();
    try {
      v.okta.fail(1, { kind: 'status', status: 403, errorCode: 'E0000006', errorSummary: 'You do not have permission to perform the requested action' }, (p) => p.startsWith('/api/v1/api-tokens/'));
      v.slack.sendInteractive(v.slack.blockActions(v.alertMessage, button(v, 'otw_revoke'), ALICE));
      await v.slack.waitForCalls('chat.update', 1);
      assert.match(statusText(v.slack.messages[0]!), /Revoke not permitted\* by <@U0ALICE01>/);
      assert.match(statusText(v.slack.messages[0]!), /okta\.apiTokens\.manage/);
      assert.ok(v.slack.responseButtons(v.slack.messages[0]!).some((b) => b.action_id === 'otw_revoke'), 'Revoke stays, to try again once the permission is granted');
      assert.equal(v.okta.apiTokens.has(v.tokenId), true, 'nothing was revoked');
      assert.deepEqual((await v.responder.rows()).map((r) => r.result), ['forbidden']);
    } finally {
      await v.close();
    }
  });

  test('when the socket drops as a click is sent, or right after, then the client reconnects, the click arrives again and is acted on once', async () => {
    const w = await world();
    try {
      // The connection breaks just as Slack would send the click: it goes out on the next one.
      const lost = w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_revoke'), ALICE), { dropFirst: true });
      assert.equal(lost.sends, 0);
      await w.slack.waitForAck(lost, 20_000);
      assert.equal(w.slack.connections, 2, 'a second connection');
      await w.slack.until(async () => (await w.responder.rows())[0]?.result === 'revoked', 'the revoke', 5000);
      assert.equal(w.deletes(), 1);

      // Delivered and acted on, but the socket breaks before the ack arrives: Slack sends it again.
      // (Acknowledge, which nothing below the app dedupes, shows the app itself acts once.)
      const twice = w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_acknowledge'), ALICE), { loseAck: true });
      await w.slack.waitForAck(twice, 20_000);
      assert.deepEqual({ sends: twice.sends, lostAcks: twice.lostAcks }, { sends: 2, lostAcks: 1 });
      await w.slack.until(() => w.slack.messages.filter((m) => m.thread_ts).length >= 2, 'the second thread reply', 5000);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual((await w.responder.rows()).map((r) => `${r.action}:${r.result}`), ['revoke:revoked', 'acknowledge:recorded']);
      assert.equal(w.slack.messages.filter((m) => m.thread_ts).length, 2, 'one thread reply each');

      // Slack's routine "refresh_requested": a new connection, and clicks still work.
      w.slack.requestRefresh();
      await w.slack.waitForConnections(w.slack.connections + 1, 20_000);
      assert.match(w.logs.text, /reconnecting to Slack/);
    } finally {
      await w.close();
    }
  });

  test('when Slack refuses to open a connection (a revoked app token, a server error), then the daemon keeps running and retries until it connects', async () => {
    const w = await world({
      beforeStart: (slack) => slack.answer('apps.connections.open', { ok: false, error: 'invalid_auth' }, { ok: false, error: 'internal_error' }),
    });
    try {
      assert.equal(w.slack.callsOf('apps.connections.open').length, 3);
      assert.match(w.logs.text, /invalid_auth.*could not connect to Slack/);
      // Slack refuses the next reconnect too: still no crash, and the connection comes back.
      w.slack.answer('apps.connections.open', { ok: false, error: 'invalid_auth' });
      w.slack.dropSocket();
      await w.slack.waitForConnections(2);
      assert.equal(w.slack.callsOf('apps.connections.open').length, 5);
      w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_acknowledge'), ALICE));
      await w.slack.waitForCalls('chat.update', 1);
    } finally {
      await w.close();
    }
  });

  test('when a payload comes from another channel, names an alert not in this database, or carries an action id or modal that is not ours, then nothing acts and each is still acked', async () => {
    const w = await world();
    try {
      const revoke = button(w, 'otw_revoke');
      const forged = [
        w.slack.blockActions({ ...w.alertMessage, channel: 'C0ELSEWHERE' }, revoke, ALICE),
        w.slack.blockActions(w.alertMessage, { ...revoke, value: 'otw-00000000-0000-1000-a000-000000000000' }, ALICE),
        w.slack.blockActions(w.alertMessage, { ...revoke, action_id: 'revoke_everything' }, ALICE),
        w.slack.blockActions(w.alertMessage, { ...revoke, value: `${String(revoke.value)} <@U0ALICE01> revoke` }, ALICE),
        w.slack.blockActions(w.alertMessage, revoke, { id: 'not-a-user-id', name: ALICE.name }),
        { type: 'view_submission', user: { id: ALICE.id }, view: { callback_id: 'someone_elses_modal', private_metadata: '{}' } },
        { type: 'block_actions', user: { id: ALICE.id }, actions: 'otw_revoke' },
        'not an object',
      ];
      const envs = forged.map((p) => w.slack.sendInteractive(p as Record<string, unknown>));
      for (const e of envs) await w.slack.waitForAck(e);
      // A real click afterwards proves the forged ones had their turn.
      w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_acknowledge'), ALICE));
      await w.slack.waitForCalls('chat.update', 1);
      assert.equal(w.deletes(), 0);
      assert.deepEqual((await w.responder.rows()).map((r) => r.action), ['acknowledge']);
      assert.equal(w.slack.callsOf('chat.postEphemeral').length, 0);
      assert.match(w.logs.text, /a click from another channel than SLACK_CHANNEL/);
      assert.match(w.logs.text, /an alert that is not in this database/);
      assert.match(w.logs.text, /not one of our action ids/);
    } finally {
      await w.close();
    }
  });

  test('when an allowed user clicks Expected and submits a reason, then a modal opens with the click\'s trigger, and the reason is stored, shown in the thread with the exceptions entry, and escaped', async () => {
    const w = await world();
    try {
      w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_expected'), ALICE));
      const [open] = await w.slack.waitForCalls('views.open', 1);
      assert.equal((open!.args.view as { callback_id: string }).callback_id, 'otw_expected_reason');
      assert.equal((await w.responder.rows()).length, 0, 'nothing is recorded before the reason');
      const reason = 'Terraform rotation <!channel> <https://evil.example|click> ```';
      const env = w.slack.sendInteractive(w.slack.viewSubmission(ALICE, reason));
      await w.slack.waitForAck(env);
      await w.slack.waitForCalls('chat.update', 1);
      await w.slack.until(() => w.slack.messages.some((m) => m.thread_ts), 'the thread reply', 5000);
      const rows = await w.responder.rows();
      assert.deepEqual({ action: rows[0]!.action, result: rows[0]!.result, reason: rows[0]!.reason }, { action: 'expected', result: 'recorded', reason });
      const reply = JSON.stringify(w.slack.messages.find((m) => m.thread_ts)!.blocks);
      assert.match(reply, /exceptions file/);
      assert.doesNotMatch(reply, /<!channel>|<https:\/\/evil/);
      assert.match(reply, /&lt;!channel&gt;/);
    } finally {
      await w.close();
    }
  });

  test('when respond() itself fails (the database, a bug), then the clicker is told nothing was done and the message is left as it was', async () => {
    const w = await world();
    try {
      await w.app.store.sql.run('DROP TABLE test_response_actions');
      w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_revoke'), ALICE));
      const [eph] = await w.slack.waitForCalls('chat.postEphemeral', 1);
      assert.equal(eph!.args.user, ALICE.id);
      assert.match(String(eph!.args.text), /nothing is reported as done/);
      assert.equal(w.slack.callsOf('chat.update').length, 0);
      assert.match(w.logs.text, /revoke could not be carried out/);
    } finally {
      await w.close();
    }
  });

  test('when a click is acknowledged, then it was stored first; and a click an earlier process acknowledged but never acted on is acted on at the next start', async () => {
    const w = await world({ realResponder: true, env: { RESPONSE_ACTIONS: 'revoke,acknowledge', RESPONDERS: ALICE.id } });
    try {
      const inbox = (): Promise<Array<{ id: string; handled: string | null }>> =>
        w.app.store.sql.all<{ id: string; handled: string | null }>('SELECT envelope_id AS id, handled_at AS handled FROM slack_inbox ORDER BY received_at');
      // Okta hangs: the click is acknowledged long before it is acted on, and it is in the inbox by then.
      w.okta.fail(1, { kind: 'hang', ms: 1500 }, (p) => p.startsWith('/api/v1/api-tokens/'));
      const env = w.slack.sendInteractive(w.slack.blockActions(w.alertMessage, button(w, 'otw_acknowledge'), ALICE));
      await w.slack.waitForAck(env);
      assert.deepEqual((await inbox()).map((r) => r.id), [env.envelope_id], 'stored before the ack');
      await w.slack.until(async () => (await inbox())[0]!.handled !== null, 'marked handled after its action', 10_000);

      // An earlier process stored and acknowledged a Revoke click, then died before acting on it:
      // Slack will not send it again. The next start finds it in the inbox.
      await w.daemon.stop();
      await w.app.store.sql.run('INSERT INTO slack_inbox (envelope_id, payload, received_at) VALUES (?, ?, ?)', [
        'env-left-by-a-dead-process',
        JSON.stringify(w.slack.blockActions(w.alertMessage, button(w, 'otw_revoke'), ALICE)),
        // Stored ten minutes ago by a version before claims (no claimed_by): older than two heartbeats.
        // (by the database's clock, which decides: on SQLite the host's).
        new Date(Date.now() - 10 * 60_000).toISOString(),
      ]);
      const again = new Daemon(w.app, { slackReconnectMs: 200 });
      await again.start();
      try {
        await w.slack.until(() => w.deletes() === 1, 'the left-over click revoked the token', 10_000);
        await w.slack.until(async () => (await inbox()).every((r) => r.handled !== null), 'every inbox row handled', 10_000);
        const revokes = await w.app.store.sql.all<{ result: string }>("SELECT result FROM response_actions WHERE action = 'revoke'");
        assert.deepEqual(revokes.map((r) => r.result), ['revoked']);
      } finally {
        await again.stop();
      }
    } finally {
      await w.close();
    }
  });

  test('when replicas share the inbox, then a click another live replica acknowledged is left to it, and once that replica is gone this one acts on it within a heartbeat, once', async () => {
    // LEASE_TTL 10s (its least): a heartbeat, and an inbox sweep, every 3.3 s.
    const w = await world({ realResponder: true, env: { RESPONSE_ACTIONS: 'revoke,acknowledge', RESPONDERS: ALICE.id, LEASE_TTL: '10s' } });
    try {
      await w.daemon.stop();
      const handled = async (id: string): Promise<boolean> => (await w.app.store.sql.get<{ h: string | null }>('SELECT handled_at AS h FROM slack_inbox WHERE envelope_id = ?', [id]))?.h != null;
      const at = (agoMs: number): string => new Date(Date.now() - agoMs).toISOString();
      // Another replica (on another host) is live and is acting on an Acknowledge click it received.
      await w.app.store.sql.run('INSERT INTO replicas (holder, host, pid, started_at, seen_at) VALUES (?, ?, ?, ?, ?)', ['other-host:42:0a0b0c0d', 'other-host', 42, at(0), at(0)]);
      await w.app.store.sql.run('INSERT INTO slack_inbox (envelope_id, payload, received_at, claimed_by) VALUES (?, ?, ?, ?)', [
        'env-of-a-live-replica',
        JSON.stringify(w.slack.blockActions(w.alertMessage, button(w, 'otw_acknowledge'), ALICE)),
        at(0),
        'other-host:42:0a0b0c0d',
      ]);
      const again = new Daemon(w.app, { slackReconnectMs: 200 });
      await again.start();
      try {
        // Two sweeps while the other replica is live (its heartbeat kept fresh).
        for (let i = 0; i < 5; i++) {
          await w.app.store.sql.run('UPDATE replicas SET seen_at = ? WHERE holder = ?', [at(0), 'other-host:42:0a0b0c0d']);
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
        assert.equal(await handled('env-of-a-live-replica'), false, 'the live replica\'s click is its own to finish');
        assert.equal(w.slack.callsOf('chat.update').length, 0);
        // That replica dies: it is no longer seen.
        await w.app.store.sql.run('UPDATE replicas SET seen_at = ? WHERE holder = ?', [at(10 * 60_000), 'other-host:42:0a0b0c0d']);
        await w.slack.until(async () => handled('env-of-a-live-replica'), 'the dead replica\'s click acted on by this one', 10_000);
        // Further sweeps take nothing again.
        await new Promise((resolve) => setTimeout(resolve, 4500));
        const acks = await w.app.store.sql.all<{ result: string }>("SELECT result FROM response_actions WHERE action = 'acknowledge'");
        assert.equal(acks.length, 1, `one acknowledgement recorded, not one per sweep: ${JSON.stringify(acks)}`);
      } finally {
        await again.stop();
      }
    } finally {
      await w.close();
    }
  });

  test('when a click finishes being stored after the Slack app began to stop, then it is not acted on here (nobody would wait for it); it stays in the inbox for the next run', async () => {
    const w = await world({ realResponder: true, env: { RESPONSE_ACTIONS: 'revoke,acknowledge', RESPONDERS: ALICE.id } });
    try {
      const slackApp = (w.daemon as unknown as { slackApp: { stop(): Promise<void> } }).slackApp;
      await slackApp.stop();
      // What the socket does once a click's insert, begun before the stop, returns: hand it on.
      await w.app.store.sql.run('INSERT INTO slack_inbox (envelope_id, payload, received_at, claimed_by) VALUES (?, ?, ?, ?)', ['env-late', JSON.stringify(w.slack.blockActions(w.alertMessage, button(w, 'otw_acknowledge'), ALICE)), w.app.clock.now().toISOString(), 'late']);
      (slackApp as unknown as { onInteractive(id: string, payload: unknown): void }).onInteractive('env-late', w.slack.blockActions(w.alertMessage, button(w, 'otw_acknowledge'), ALICE));
      await new Promise((resolve) => setTimeout(resolve, 500));
      const acks = await w.app.store.sql.all("SELECT id FROM response_actions WHERE action = 'acknowledge'");
      assert.equal(acks.length, 0, 'acted on after stop(): another replica would act on the same click once this one is gone');
      const row = await w.app.store.sql.get<{ h: string | null }>('SELECT handled_at AS h FROM slack_inbox WHERE envelope_id = ?', ['env-late']);
      assert.equal(row?.h ?? null, null, 'left unhandled for the next run');
    } finally {
      await w.close();
    }
  });

  test('when the lease rounds fail (the database refuses the leases), then this replica still counts as live for the inbox: its heartbeat runs from the start', async () => {
    const w = await world({ env: { LEASE_TTL: '10s' } });
    try {
      await w.daemon.stop();
      // The database refuses every lease (a real trigger): each lease round of the next daemon fails.
      await w.app.store.sql.run("CREATE TRIGGER refuse_leases BEFORE INSERT ON leases BEGIN SELECT RAISE(ABORT, 'leases refused'); END");
      const again = new Daemon(w.app, { slackReconnectMs: 200 });
      await again.start();
      try {
        const holder = (again as unknown as { leases: { holder: string } }).leases.holder;
        // Longer than LEASE_TTL: without a heartbeat its replica row would be older than that.
        await new Promise((resolve) => setTimeout(resolve, 11_500));
        const row = await w.app.store.sql.get<{ seenAt: string }>('SELECT seen_at AS "seenAt" FROM replicas WHERE holder = ?', [holder]);
        assert.ok(row, 'registered');
        const age = Date.now() - Date.parse(row.seenAt);
        assert.ok(age < 5_000, `seen ${age} ms ago: another replica would take over the clicks this one is acting on`);
      } finally {
        await again.stop();
      }
    } finally {
      await w.close();
    }
  });

  test('when the daemon stops, then the Socket Mode connection is closed', async () => {
    const w = await world();
    await w.daemon.stop();
    try {
      await w.slack.until(() => !w.slack.connected, 'the socket to close', 5000);
    } finally {
      await w.close();
    }
  });
});

after(() => undefined);
