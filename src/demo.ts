import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createApp, tickDepsFor } from './app';
import { parseConfig, type Env } from './config';
import type { Alert } from './detect/alert';
import { createLogger } from './logger';
import { formatEmail } from './notify/email';
import { historyLines } from './notify/facts';
import { plainText } from './notify/sanitize';
import { formatSlack } from './notify/slack';
import { runTick, type TickResult } from './ingest/poll';
import { demoBatch1, demoBatch2, demoExceptionsFile, type DemoEvent } from './simulator/demo-events';
import { FakeOkta } from './simulator/okta-simulator';

/** What the demo did, for its printout and its test. */
export interface DemoResult {
  ticks: TickResult[];
  alerts: Alert[];
  suppressed: Array<{ uuid: string; reason: string }>;
  files: string[];
  /** Notifiers that really sent (configured by the user), with what happened. */
  deliveries: Array<{ notifier: string; sent: number; pending: number; failed: number }>;
}

/** Setting names a user's .env may contribute to the demo: notifiers only, never Okta or the DB. */
const NOTIFIER_SETTING = /^(NOTIFIERS|SLACK_|SMTP_|EMAIL_|WEBHOOK_|NOTIFY_)/;

const devNull = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });

/**
 * Zero-configuration tour: a simulated Okta org on 127.0.0.1, the real pipeline (reader, dedupe,
 * detection, exceptions, outbox) over a temporary database, and the messages it would send written
 * to files. Notifiers configured in the user's settings really receive the demo alerts.
 */
export async function runDemo(opts: { env: Env; outDir: string; print: (line: string) => void }): Promise<DemoResult> {
  const { print } = opts;
  const sim = new FakeOkta({ token: 'demo-simulator-token-' + Math.random().toString(36).slice(2) });
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
  };
  const config = parseConfig(env, { requireOkta: true });
  const app = createApp(config, { stdout: devNull(), logger: createLogger(config.log) });
  const result: DemoResult = { ticks: [], alerts: [], suppressed: [], files: [], deliveries: [] };
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

  try {
    print(`okta-token-watch demo: a simulated Okta org at ${origin}, a temporary database in ${work}`);
    print('');
    persist(demoBatch1(Date.now()));
    await tick('tick 1 (first start: reads the last LOOKBACK)');
    persist(demoBatch2(Date.now()));
    await tick('tick 2 (resumes from the stored cursor)');
    await tick('tick 3 (nothing new: one request)');
    print('');

    result.alerts = app.store.listAlerts(100).map((a) => a.alert).reverse();
    const rows = app.store.db.prepare('SELECT uuid, suppressed_by AS reason FROM events WHERE suppressed_by IS NOT NULL ORDER BY first_seen_at').all() as Array<{ uuid: string; reason: string }>;
    result.suppressed = rows;

    print(`${result.alerts.length} alert(s):`);
    for (const a of result.alerts) {
      print('');
      print(`  [${a.rule.severity.toUpperCase()}] ${a.outcome.result}: API token ${plainText(a.token?.name ?? '(no token target in the event)', 80)} (${plainText(a.token?.id, 30)})`);
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
    print('');
    print(`Slack Block Kit messages: ${slackFile} (paste one into https://app.slack.com/block-kit-builder to preview)`);
    print(`Emails (HTML): ${path.join(opts.outDir, 'email-1.html')} .. email-${result.alerts.length}.html`);

    const real = app.notifiers.filter((n) => n.name !== 'console');
    if (real.length > 0) {
      print('');
      print(`Sending the demo alerts through your configured notifier(s): ${real.map((n) => n.name).join(', ')}`);
      await app.dispatcher.runOnce();
      for (const d of app.store.status(app.schemaVersion).deliveries) {
        if (d.notifier === 'console') continue;
        result.deliveries.push(d);
        print(`  ${d.notifier}: ${d.sent} sent, ${d.pending} waiting to retry, ${d.failed} failed`);
      }
      for (const f of app.store.failedDeliveries(5)) print(`  ${f.notifier} error: ${plainText(f.lastError, 300)}`);
    } else {
      print('');
      print('No Slack, email or webhook settings found in your environment or .env: nothing was sent.');
      print('Add SLACK_WEBHOOK_URL (or SMTP_*/EMAIL_*, WEBHOOK_URL) to .env and run the demo again to see these alerts in your own channel.');
    }
    print('');
    print('Next: copy .env.example to .env, set OKTA_ORG_URL and credentials, then run "npx okta-token-watch check".');
    return result;
  } finally {
    await app.close();
    await sim.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
