import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { createApp, followDepsFor, tickDepsFor } from './app';
import { parseConfig, type Env } from './config';
import type { Alert } from './detect/alert';
import { createLogger } from './logger';
import { formatEmail } from './notify/email';
import { historyLines } from './notify/facts';
import { plainText } from './notify/sanitize';
import { formatSlack } from './notify/slack';
import { HOOK_ELIGIBLE_EVENT_TYPES } from './detect/rules';
import { ingestPushBatch, startEventHookReceiver, type EventHookReceiver } from './ingest/event-hook';
import { runTick, type TickResult } from './ingest/poll';
import { runFollowTick, type FollowResult } from './ingest/follow';
import type { FollowUp } from './follow/followup';
import { followUpHeadline, watchStatusLine } from './notify/followup-facts';
import { demoAfterHookOff, demoBatch1, demoBatch2, demoExceptionsFile, demoPushed, demoTokenStory, type DemoEvent } from './simulator/demo-events';
import { FakeOkta } from './simulator/okta-simulator';

/** What the demo did, for its printout and its test. */
export interface DemoResult {
  ticks: TickResult[];
  alerts: Alert[];
  suppressed: Array<{ uuid: string; reason: string }>;
  files: string[];
  /** Notifiers that really sent (configured by the user), with what happened. */
  deliveries: Array<{ notifier: string; sent: number; pending: number; failed: number }>;
  /** Alerts raised by a hook delivery: ms from the event being made to its alert committed, and how many ticks had run. */
  pushed: Array<{ uuid: string; elapsedMs: number; ticksBefore: number }>;
  /** The simulator's event hook that pushed to the demo's receiver. */
  hookId: string | null;
  /** The followed token's alert and its thread of follow-ups (first use, revoke, digest). */
  followed: { alertId: string; followUps: FollowUp[]; followTicks: FollowResult[] } | null;
}

/** Setting names a user's .env may contribute to the demo: notifiers only, never Okta or the DB. */
const NOTIFIER_SETTING = /^(NOTIFIERS|SLACK_|SMTP_|EMAIL_|WEBHOOK_|NOTIFY_)/;

const devNull = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });

/** One line saying what an alert is about: the token, or for the self-watch rule the hook. */
function headline(a: Alert): string {
  const sev = `[${a.rule.severity.toUpperCase()}]`;
  if (a.eventHook) {
    return `${sev} ${plainText(a.rule.name, 80)}: event hook "${plainText(a.eventHook.name ?? '(no name)', 80)}" (${plainText(a.eventHook.id, 40)}) ${a.eventHook.change}${a.eventHook.ours ? ' (ours)' : ''}`;
  }
  return `${sev} ${a.outcome.result}: API token ${plainText(a.token?.name ?? '(no token target in the event)', 80)} (${plainText(a.token?.id, 30)})`;
}

/**
 * Zero-configuration tour: a simulated Okta org on 127.0.0.1, the real pipeline (reader, dedupe,
 * detection, exceptions, outbox) over a temporary database, and the messages it would send written
 * to files. Notifiers configured in the user's settings really receive the demo alerts.
 *
 * The second half shows push: the simulated org pushes token events to the real receiver on
 * 127.0.0.1 (plain HTTP: the demo makes no certificate), the poller then confirms them without a
 * second alert, and after the hook is switched off the poller raises the self-watch alert.
 */
export async function runDemo(opts: { env: Env; outDir: string; print: (line: string) => void }): Promise<DemoResult> {
  const { print } = opts;
  const sim = new FakeOkta({ token: 'demo-simulator-token-' + Math.random().toString(36).slice(2), allowHttpHooks: true });
  const origin = await sim.start();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'okta-token-watch-demo-'));
  const exceptionsFile = demoExceptionsFile();

  const userNotifiers: Env = {};
  for (const [k, v] of Object.entries(opts.env)) if (NOTIFIER_SETTING.test(k) && v !== undefined) userNotifiers[k] = v;
  const env: Env = {
    ...userNotifiers,
    OKTA_ORG_URL: origin,
    OKTA_API_TOKEN: sim.token,
    DB_PATH: path.join(work, 'demo.sqlite'),
    EXCEPTIONS_FILE: exceptionsFile,
    LOG_LEVEL: 'error',
    LOG_FORMAT: 'pretty',
    // The receiver on a free port of 127.0.0.1, with a secret made for this run.
    EVENT_HOOK_PORT: '0',
    EVENT_HOOK_SECRET: crypto.randomBytes(24).toString('hex'),
  };
  const config = parseConfig(env, { requireOkta: true });
  const app = await createApp(config, { stdout: devNull(), logger: createLogger(config.log) });
  const result: DemoResult = { ticks: [], alerts: [], suppressed: [], files: [], deliveries: [], pushed: [], hookId: null, followed: null };
  const notes = new Map<string, string>();
  const persist = (batch: DemoEvent[]): void => {
    for (const d of batch) {
      notes.set(String(d.event.uuid), d.note);
      const token = (d.event.target as Array<{ id?: string }> | undefined)?.[0];
      if (d.tokenState && token?.id) sim.apiTokens.set(token.id, d.tokenState);
      sim.persist(d.event);
    }
  };
  const tick = async (label: string): Promise<TickResult> => {
    const r = await runTick(tickDepsFor(app));
    result.ticks.push(r);
    print(`  ${label}: ${r.ok ? 'ok' : `FAILED (${r.error})`}, ${r.requests} request(s) to Okta, ${r.events} event(s), ${r.newAlerts} new alert(s), ${r.suppressed} suppressed`);
    return r;
  };
  // Alerts not shown yet, oldest first: what a push or a tick just raised.
  const shown = new Set<string>();
  const fresh = async (): Promise<Alert[]> => {
    const out = (await app.store.listAlerts(100)).map((a) => a.alert).reverse().filter((a) => !shown.has(a.id));
    for (const a of out) shown.add(a.id);
    return out;
  };
  // The simulator's management API, called as `event-hook register` (and an attacker) would.
  const hookApi = async (method: string, apiPath: string, body?: unknown): Promise<{ id: string; status: string; verificationStatus: string }> => {
    const res = await fetch(origin + apiPath, {
      method,
      headers: { authorization: `SSWS ${sim.token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json()) as { id: string; status: string; verificationStatus: string; errorSummary?: string };
    if (!res.ok) throw new Error(`the simulator refused ${method} ${apiPath}: ${json.errorSummary ?? res.status}`);
    return json;
  };
  let receiver: EventHookReceiver | null = null;

  try {
    print(`okta-token-watch demo: a simulated Okta org at ${origin}, a temporary database in ${work}`);
    print('');
    persist(demoBatch1(Date.now()));
    await tick('tick 1 (first start: reads the last LOOKBACK)');
    persist(demoBatch2(Date.now()));
    await tick('tick 2 (resumes from the stored cursor)');
    await fresh();
    print('');

    // Push: the real receiver, fed by the simulator the way Okta delivers an event hook.
    const hookConfig = app.config.eventHook!;
    const pushDeps = { store: app.store, detector: app.detector, notifiers: app.notifiers.map((n) => n.name), poll: app.config.poll, clock: app.clock, logger: app.logger };
    let madeAt = 0;
    receiver = await startEventHookReceiver({
      config: hookConfig,
      ingest: (events) => ingestPushBatch(pushDeps, events),
      onAlerts: () => {
        const elapsedMs = performance.now() - madeAt;
        const ticksBefore = result.ticks.length;
        void fresh().then(
          (alerts) => {
            for (const a of alerts) {
              result.pushed.push({ uuid: a.event.uuid, elapsedMs, ticksBefore });
              print(`  push: alert ${elapsedMs.toFixed(0)} ms after the token was made, without waiting for a tick: ${headline(a)}`);
            }
          },
          (err: unknown) => print(`  push: the alerts could not be read back: ${plainText(err instanceof Error ? err.message : String(err), 300)}`),
        );
      },
      metrics: app.metrics,
      logger: app.logger,
      clock: app.clock,
    });
    const hookUrl = `http://127.0.0.1:${receiver.port}${hookConfig.path}`;
    print(`Push: the receiver listens on ${hookUrl}; the org's event hook is registered as "event-hook register" does it:`);
    const created = await hookApi('POST', '/api/v1/eventHooks', {
      name: 'okta-token-watch',
      events: { type: 'EVENT_TYPE', items: HOOK_ELIGIBLE_EVENT_TYPES },
      channel: { type: 'HTTP', version: '1.0.0', config: { uri: hookUrl, headers: [], authScheme: { type: 'HEADER', key: 'Authorization', value: hookConfig.secret } } },
    });
    await app.store.setRegisteredEventHook({ hookId: created.id, uri: hookUrl }, app.clock.now());
    result.hookId = created.id;
    // Okta's verification GET reaches the real receiver, which answers the challenge.
    const verified = await hookApi('POST', `/api/v1/eventHooks/${created.id}/lifecycle/verify`);
    print(`  event hook ${created.id}: ${verified.status}, ${verified.verificationStatus} (the simulator sent the verification challenge and the receiver answered it)`);
    sim.pushToHooks();
    madeAt = performance.now();
    persist(demoPushed(Date.now()));
    await sim.hooksIdle();
    const confirm = await tick('tick 3 (the poller reads the same event later)');
    print(`  poll: ${confirm.newAlerts} new alert(s), ${confirm.events - confirm.newEvents} already seen via push`);
    print('');

    print('An attacker holding a token switches the hook off through the same API, then makes another token:');
    const off = await hookApi('POST', `/api/v1/eventHooks/${created.id}/lifecycle/deactivate`);
    const deliveriesBefore = sim.hookDeliveries.length;
    persist(demoAfterHookOff(Date.now()));
    await sim.hooksIdle();
    print(`  event hook ${created.id}: ${off.status}; push: ${sim.hookDeliveries.length === deliveriesBefore ? 'nothing arrives (Okta pushes only to an ACTIVE hook)' : 'still delivering'}`);
    await tick('tick 4 (polling is the backstop)');
    for (const a of await fresh()) print(`  poll: ${headline(a)}`);
    print('');

    // Follow: a token made, used 12 minutes later from another country to create a user and grant
    // an admin role, then revoked. Each step reaches the alert's thread as a follow-up.
    print('Follow: every new token is watched for FOLLOW_WINDOW; what it does arrives as follow-ups to its alert:');
    const story = demoTokenStory(Date.now() - 40 * 60_000);
    const followTicks: FollowResult[] = [];
    const followTick = async (label: string): Promise<void> => {
      const r = await runFollowTick(followDepsFor(app));
      followTicks.push(r);
      print(`  ${label}: ${r.outcome}, ${r.requests} request(s) to Okta for ${r.watched} watched token(s), ${r.newEvents} new event(s)`);
    };
    const storyAlertId = `otw-${String(story.created.uuid)}`;
    const shownFollowUps = new Set<string>();
    const newFollowUps = async (): Promise<void> => {
      for (const f of await app.store.followUpsOf(storyAlertId)) {
        if (shownFollowUps.has(f.id)) continue;
        shownFollowUps.add(f.id);
        print(`  follow-up: ${plainText(followUpHeadline(f), 160)}`);
      }
    };
    sim.persist(story.created);
    sim.addApiTokenFromEvent(story.created);
    notes.set(String(story.created.uuid), 'a token made for a "partner sync", open to any network');
    await tick('tick 5 (the token is made: alert, and its watch starts)');
    for (const a of await fresh()) print(`  poll: ${headline(a)}`);
    await followTick('follow tick (one request covers every watched token)');
    for (const e of [story.firstUse, story.privilegeGrant, story.profileUpdate]) sim.persist(e);
    await followTick('follow tick (the token is used from Bucharest: a user made, an admin role granted)');
    await newFollowUps();
    sim.persist(story.revoke);
    await tick('tick 6 (the token is revoked)');
    await followTick('follow tick (reads up to the revoke; the watch closes with its digest)');
    await newFollowUps();
    const thread = await app.store.followUpsOf(storyAlertId);
    const last = thread[thread.length - 1];
    if (last) print(`  the alert's status line now: ${plainText(watchStatusLine(last.watch, (x) => plainText(x, 80)), 300)}`);
    result.followed = { alertId: storyAlertId, followUps: thread, followTicks };
    print('');

    result.alerts = (await app.store.listAlerts(100)).map((a) => a.alert).reverse();
    const rows = await app.store.sql.all<{ uuid: string; reason: string }>('SELECT uuid, suppressed_by AS reason FROM events WHERE suppressed_by IS NOT NULL ORDER BY first_seen_at');
    result.suppressed = rows;

    print(`${result.alerts.length} alert(s):`);
    for (const a of result.alerts) {
      print('');
      print(`  ${headline(a)}`);
      print(`    by      ${plainText(a.actor.displayName, 60)} <${plainText(a.actor.login ?? a.actor.id, 80)}> (${plainText(a.actor.type, 20)})`);
      print(`    from    ${plainText(a.client.ip, 45)}, ${[a.client.city, a.client.country].filter(Boolean).map((x) => plainText(x, 40)).join(', ') || 'location unknown'}${a.client.isProxy ? ', via a proxy' : ''}`);
      print(`    when    ${a.event.published}`);
      // The same history sentences the Slack message and the email carry, so the three agree.
      historyLines(a, (x) => plainText(x, 80)).forEach((line, i) => print(`    ${i === 0 ? 'history' : '       '} ${line}`));
      const note = notes.get(a.event.uuid);
      if (note) print(`    (demo: ${note})`);
    }
    print('');
    for (const s of result.suppressed) print(`suppressed, not notified: ${s.uuid}: ${plainText(s.reason, 200)}  (demo: ${notes.get(s.uuid) ?? ''})`);

    fs.mkdirSync(opts.outDir, { recursive: true });
    const slackFile = path.join(opts.outDir, 'slack-messages.json');
    fs.writeFileSync(slackFile, JSON.stringify(result.alerts.map((a) => formatSlack({ kind: 'alert', alert: a })), null, 2) + '\n');
    result.files.push(slackFile);
    result.alerts.forEach((a, i) => {
      const mail = formatEmail({ kind: 'alert', alert: a });
      const file = path.join(opts.outDir, `email-${i + 1}.html`);
      fs.writeFileSync(file, `<!-- Subject: ${mail.subject.replace(/--/g, '- -')} -->\n${mail.html}`);
      result.files.push(file);
    });
    const followedAlert = result.followed ? await app.store.getAlert(result.followed.alertId) : null;
    if (result.followed && followedAlert) {
      // The thread as Slack shows it with a bot token (each reply under the alert), and the emails
      // as replies to the alert's email.
      const threadFile = path.join(opts.outDir, 'slack-thread.json');
      const parent = { channel: 'C0DEMO', ts: '1700000000.000100' };
      fs.writeFileSync(
        threadFile,
        JSON.stringify([formatSlack({ kind: 'alert', alert: followedAlert }), ...result.followed.followUps.map((f) => formatSlack({ kind: 'followup', followup: f, alert: followedAlert, parent }))], null, 2) + '\n',
      );
      result.files.push(threadFile);
      result.followed.followUps.forEach((f, i) => {
        const mail = formatEmail({ kind: 'followup', followup: f, alert: followedAlert, parent: null });
        const file = path.join(opts.outDir, `email-followup-${i + 1}.html`);
        fs.writeFileSync(file, `<!-- Subject: ${mail.subject.replace(/--/g, '- -')} -->\n${mail.html}`);
        result.files.push(file);
      });
    }
    print('');
    print(`Slack Block Kit messages: ${slackFile} (paste one into https://app.slack.com/block-kit-builder to preview)`);
    if (result.followed) print(`The followed token's alert and its follow-ups as a Slack thread: ${path.join(opts.outDir, 'slack-thread.json')}; as email replies: email-followup-*.html`);
    print(`Emails (HTML): ${path.join(opts.outDir, 'email-1.html')} .. email-${result.alerts.length}.html`);

    const real = app.notifiers.filter((n) => n.name !== 'console');
    if (real.length > 0) {
      print('');
      print(`Sending the demo alerts through your configured notifier(s): ${real.map((n) => n.name).join(', ')}`);
      await app.dispatcher.runOnce();
      for (const d of (await app.store.status(app.schemaVersion)).deliveries) {
        if (d.notifier === 'console') continue;
        result.deliveries.push(d);
        print(`  ${d.notifier}: ${d.sent} sent, ${d.pending} waiting to retry, ${d.failed} failed`);
      }
      for (const f of await app.store.failedDeliveries(5)) print(`  ${f.notifier} error: ${plainText(f.lastError, 300)}`);
    } else {
      print('');
      print('No Slack, email or webhook settings found in your environment or .env: nothing was sent.');
      print('Add SLACK_WEBHOOK_URL (or SMTP_*/EMAIL_*, WEBHOOK_URL) to .env and run the demo again to see these alerts in your own channel.');
    }
    print('');
    print('Next: copy .env.example to .env, set OKTA_ORG_URL and credentials, then run "npx okta-token-watch check".');
    return result;
  } finally {
    await receiver?.close();
    await app.close();
    await sim.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
