/**
 * Soak scenario "clicks during daemon kills" (issue 13; see soak/README.md): real daemon processes
 * in Slack app mode (Socket Mode against the loopback fake Slack, the program's own response
 * actions) get Revoke, Acknowledge and Expected clicks, repeated, for the same and different
 * alerts, from a responder and from someone who is not one, while the soak SIGKILLs them at random
 * moments: on a timer, while a DELETE hangs in Okta, the instant Okta revokes (before its 204 is
 * written), and the instant an ack reaches Slack (before the click is handled). Then it drains and
 * checks, per token, that Okta revoked it at most once and that every revoke and every acked click
 * is in the audit table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { tokenEvent, uuidFor } from '../test/helpers/events';
import { FakeOkta } from '../test/helpers/fake-okta';
import { FakeSlack, type SentEnvelope, type SlackMessage } from '../test/helpers/fake-slack';
import { prng } from '../test/helpers/random';
import { sleep, until } from './wait';

const ROOT = path.resolve(__dirname, '..');
const CHANNEL = 'C0SOAKCLICKS';
const ALICE = { id: 'U0SOAKALICE', name: 'alice' };
const MALLORY = { id: 'U0SOAKMALLO', name: 'mallory' };
/** The daemon's default: a pending revoke older than this is taken as left by a stopped process. */
const STALE_MS = 5 * 60_000;

type KillHow = 'timer' | 'during-hang' | 'on-revoke' | 'on-ack';

/** What the scenario found, for the JSON report. */
export interface ClicksReport {
  tokens: number;
  processes: number;
  kills: Record<KillHow, number>;
  /** Kills that found their moment (the rest fell back to the timer). */
  killsAtTheirMoment: number;
  clicks: { sent: number; acked: number; unacked: number; resent: number; byKind: Record<string, number> };
  hangs: { scripted: number; deletesKilledWhileHanging: number };
  okta: { deletes: Record<string, number>; revokedTokens: number; tokensDeletedTwiceWith204: number; untouchedMalloryOnlyTokens: number };
  audit: Record<string, number>;
  /** Pending revokes left by killed processes, aged past 5 minutes and retried by a final click. */
  pendingAgedAndRetried: number;
  seconds: number;
  problems: string[];
}

interface Click {
  kind: 'revoke' | 'acknowledge' | 'expected' | 'revoke-refused' | 'acknowledge-refused';
  alertId: string;
  user: string;
  env: SentEnvelope;
}

/** Runs the scenario with its own fake Okta, fake Slack, database and daemon processes. */
export async function clicksScenario(o: { short: boolean; seed: number; log: fs.WriteStream; say: (s: string) => void }): Promise<ClicksReport> {
  const started = Date.now();
  const rand = prng(o.seed * 7 + 131);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const problems: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-soak-clicks-'));
  const dbPath = path.join(dir, 'otw.sqlite');
  const emptyEnv = path.join(dir, 'empty.env');
  fs.writeFileSync(emptyEnv, '');
  const fake = new FakeOkta({ rateLimit: 6000 });
  await fake.start();
  const slack = new FakeSlack({ pingIntervalMs: 1000 });
  await slack.start();

  // Tokens, each created (an alert) and present in Okta's API Tokens list. The last one is clicked
  // only by someone not in RESPONDERS: it must never see a DELETE.
  const killsWanted = o.short ? 4 : 16;
  // One fresh token per kill (its first Revoke is the DELETE a kill aims at), one clicked only by a
  // non-responder, and one spare.
  const tokenCount = killsWanted + 2;
  const tokens: Array<{ id: string; alertId: string }> = [];
  for (let i = 1; i <= tokenCount; i++) {
    const n = 700_000 + i;
    const id = `00T${String(n).padStart(17, '0')}`;
    const event = tokenEvent(n, new Date(Date.now() - 60_000 + i * 100).toISOString(), {
      target: [{ id, type: 'Token', alternateId: 'unknown', displayName: `soak-click-token-${i}` }],
    });
    fake.persist(event);
    fake.addApiTokenFromEvent(event);
    tokens.push({ id, alertId: `otw-${uuidFor(n)}` });
  }
  const malloryOnly = new Set([tokens[tokens.length - 1]!.alertId]);

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    OKTA_ORG_URL: fake.origin,
    OKTA_API_TOKEN: fake.token,
    DB_PATH: dbPath,
    POLL_SCHEDULE: '*/2 * * * * *',
    LOOKBACK: '30m',
    OKTA_REQUEST_TIMEOUT: '10s',
    TOKEN_LOOKUP: 'false',
    DELIVERY_INTERVAL: '1s',
    DELIVERY_MAX_ATTEMPTS: '1000',
    MAX_ALERTS_PER_RUN: '100000',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    NOTIFIERS: 'slack',
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_APP_TOKEN: slack.appToken,
    SLACK_CHANNEL: CHANNEL,
    SLACK_API_URL: slack.apiUrl,
    RESPONSE_ACTIONS: 'revoke,expected,acknowledge',
    RESPONDERS: ALICE.id,
  };

  // --- the daemon processes
  let child: ChildProcess | null = null;
  let exited: Promise<number | null> = Promise.resolve(null);
  let processes = 0;
  let killed = false;
  const startDaemon = (): void => {
    processes++;
    const label = processes;
    killed = false;
    const c = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'cli.ts'), 'run', '--env-file', emptyEnv], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let buf = '';
    c.stderr!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        o.log.write(`[clicks ${label}] ${buf.slice(0, i)}\n`);
        buf = buf.slice(i + 1);
      }
    });
    child = c;
    exited = new Promise((resolve) =>
      c.on('exit', (code) => {
        if (child === c) child = null;
        resolve(code);
      }),
    );
  };
  const killNow = (why: string): void => {
    if (!child || killed) return;
    killed = true;
    child.kill('SIGKILL');
    o.log.write(`[clicks] SIGKILL gen ${processes} (${why})\n`);
  };
  // What a process stopped by SIGTERM may still be doing: a repeat Revoke waits (up to 90 s) for
  // a pending revoke by another process, even one that was killed.
  const stopWhy = (): string => {
    const d = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      const n = (d.prepare(`SELECT COUNT(*) AS n FROM response_actions WHERE result = 'pending'`).get() as { n: number }).n;
      return n ? `${n} revoke(s) left pending by killed processes; a repeat click waits up to 90 s for such a revoke` : 'no revoke pending';
    } finally {
      d.close();
    }
  };
  const stopGracefully = async (): Promise<void> => {
    if (!child) return;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    // 20 s, as the main scenario allows.
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 20_000)))]);
    clearTimeout(timer);
    if (code === 'timeout') {
      killNow('SIGTERM did not stop it');
      await exited;
      problems.push(`clicks: a daemon did not exit within 20 s of SIGTERM (${stopWhy()})`);
    } else if (code !== 0) problems.push(`clicks: a daemon exited ${code} after SIGTERM, not 0`);
  };
  const connectedAnew = async (before: number): Promise<boolean> => until(() => slack.connections > before && slack.connected, 30_000, 20);

  // Kill hooks: the instant Okta records a revoke (before the 204 is written), the instant an ack
  // reaches Slack (the click is not handled yet: the app acknowledges first).
  let killOnRevoke: (() => void) | null = null;
  let killOnAck: (() => void) | null = null;
  const persist = fake.persist.bind(fake);
  fake.persist = (...events: Array<Record<string, unknown>>): void => {
    persist(...events);
    if (events.some((e) => e.eventType === 'system.api_token.revoke')) killOnRevoke?.();
  };
  const fakeInternals = slack as unknown as { onFrame: (text: string) => void };
  const onFrame = fakeInternals.onFrame.bind(slack);
  fakeInternals.onFrame = (text: string): void => {
    onFrame(text);
    killOnAck?.();
  };

  // --- the alerts, with their buttons
  startDaemon();
  const messages = new Map<string, SlackMessage>();
  const posted = await until(() => {
    for (const m of slack.messages) {
      if (m.thread_ts) continue;
      const v = slack.responseButtons(m)[0]?.value;
      if (typeof v === 'string' && !messages.has(v)) messages.set(v, structuredClone(m));
    }
    return tokens.every((t) => messages.has(t.alertId)) && slack.connected;
  }, 60_000);
  if (!posted) problems.push(`clicks: only ${messages.size} of ${tokenCount} alerts were posted with buttons within 60 s`);

  const clicks: Click[] = [];
  const byKind: Record<string, number> = {};
  const click = (kind: Click['kind'], alertId: string): void => {
    const m = messages.get(alertId);
    if (!m) return;
    const user = kind.endsWith('-refused') ? MALLORY : ALICE;
    let payload: Record<string, unknown>;
    if (kind === 'expected') {
      // The modal's submission, as Slack sends it after the analyst typed a reason.
      payload = {
        type: 'view_submission',
        team: { id: 'T0FAKE', domain: 'fake' },
        user: { id: user.id, username: user.name, name: user.name, team_id: 'T0FAKE' },
        api_app_id: 'A0FAKEAPP',
        trigger_id: slack.newTriggerId(),
        view: {
          id: 'V0SOAK',
          type: 'modal',
          callback_id: 'otw_expected_reason',
          private_metadata: JSON.stringify({ alertId, channel: m.channel, ts: m.ts }),
          state: { values: { otw_reason: { otw_reason_input: { type: 'plain_text_input', value: 'soak: a planned integration' } } } },
        },
      };
    } else {
      const actionId = kind.startsWith('revoke') ? 'otw_revoke' : 'otw_acknowledge';
      const b = slack.responseButtons(m).find((e) => e.action_id === actionId);
      if (!b) return;
      payload = slack.blockActions(m, b, user);
    }
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    clicks.push({ kind, alertId, user: user.id, env: slack.sendInteractive(payload) });
  };
  const responderAlerts = tokens.filter((t) => !malloryOnly.has(t.alertId)).map((t) => t.alertId);
  // Revoke clicks go to the burst's fresh token or to tokens already clicked (repeats, for the same
  // and for different alerts); Acknowledge and Expected to any alert; refused clicks to any alert.
  const clickedRevoke: string[] = [];
  const randomClick = (target: string | null): void => {
    const r = rand();
    if (r < 0.55) {
      const a = target && (rand() < 0.5 || clickedRevoke.length === 0) ? target : clickedRevoke.length ? pick(clickedRevoke) : null;
      if (a) click('revoke', a);
    } else if (r < 0.65) click('acknowledge', pick(responderAlerts));
    else if (r < 0.75) click('expected', pick(responderAlerts));
    else if (r < 0.9) click('revoke-refused', pick(tokens).alertId);
    else click('acknowledge-refused', pick(tokens).alertId);
  };

  // --- clicks and kills
  const kills: Record<KillHow, number> = { timer: 0, 'during-hang': 0, 'on-revoke': 0, 'on-ack': 0 };
  let killsAtTheirMoment = 0;
  let hangsScripted = 0;
  let deletesKilledWhileHanging = 0;
  const isDelete = (p: string): boolean => p.startsWith('/api/v1/api-tokens/');
  // A DELETE whose process was killed keeps status 0 for ever: look only at this burst's requests.
  let burstFrom = 0;
  const inFlightDelete = (): boolean => fake.requests.slice(burstFrom).some((q) => q.method === 'DELETE' && q.status === 0);
  for (let k = 0; k < killsWanted; k++) {
    const how: KillHow = (['timer', 'during-hang', 'on-revoke', 'on-ack'] as const)[k % 4]!;
    let atMoment = false;
    burstFrom = fake.requests.length;
    if (how === 'during-hang') {
      fake.fail(1, { kind: 'hang', ms: 3000 + Math.round(rand() * 3000) }, isDelete);
      hangsScripted++;
    }
    if (how === 'on-revoke') killOnRevoke = () => ((atMoment = true), (killOnRevoke = null), killNow('Okta just revoked; its 204 not yet written'));
    if (how === 'on-ack') killOnAck = () => ((atMoment = true), (killOnAck = null), killNow('an ack just reached Slack'));
    // A burst: the first click revokes a token nobody revoked yet (so there is a DELETE to hang or
    // to kill on), then a mix, with repeats.
    const target = responderAlerts.find((a) => !clickedRevoke.includes(a)) ?? null;
    if (target) {
      click('revoke', target);
      clickedRevoke.push(target);
    }
    const deadline = Date.now() + 500 + Math.round(rand() * (o.short ? 1500 : 2500));
    while (Date.now() < deadline && !killed) {
      if (how === 'during-hang' && inFlightDelete()) {
        await sleep(100 + Math.round(rand() * 1500));
        if (inFlightDelete()) {
          atMoment = true;
          deletesKilledWhileHanging++;
          killNow('a DELETE hangs in Okta');
        }
        break;
      }
      if (rand() < 0.35) randomClick(target);
      await sleep(40 + Math.round(rand() * 200));
    }
    killOnRevoke = null;
    killOnAck = null;
    if (!killed) killNow(`${how}: timer`);
    kills[how]++;
    if (atMoment) killsAtTheirMoment++;
    await exited;
    // Clicks while no process runs: Slack holds them and sends them on the next connection.
    if (rand() < 0.5) randomClick(null);
    const before = slack.connections;
    startDaemon();
    if (!(await connectedAnew(before))) problems.push('clicks: a restarted daemon did not connect to Slack within 30 s');
  }

  // --- drain: no kills; every click Slack holds is delivered and handled.
  for (let i = 0; i < 3; i++) randomClick(null);
  const acked = await until(() => clicks.every((c) => c.env.ackedAfterMs !== null), 60_000);
  if (!acked) problems.push(`clicks: ${clicks.filter((c) => c.env.ackedAfterMs === null).length} click(s) never acknowledged after the kills stopped`);
  // Repeats of a revoke another process left pending wait up to 90 s for it: let them finish.
  await sleep(1500);
  await stopGracefully();

  type Row = { id: number; alertId: string | null; tokenId: string | null; action: string; byId: string | null; result: string; error: string | null };
  const readRows = (): Row[] => {
    const d = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      d.pragma('busy_timeout = 5000');
      return d
        .prepare(
          `SELECT r.id, a.alert_id AS alertId, r.token_id AS tokenId, r.action, r.by_id AS byId, r.result, r.error
             FROM response_actions r LEFT JOIN alerts a ON a.id = r.alert_id ORDER BY r.id`,
        )
        .all() as Row[];
    } finally {
      d.close();
    }
  };
  // A revoke left pending by a killed process is tried again only by a later request once it is 5
  // minutes old. The daemon reads the wall clock (no clock can be injected into a process), so the
  // soak ages those rows by 5 minutes while no process runs (what waiting would do), then a
  // responder clicks Revoke again on each.
  const db = new Database(dbPath, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const pendingRows = db.prepare(`SELECT id, token_id AS tokenId, requested_at AS at FROM response_actions WHERE result = 'pending'`).all() as Array<{ id: number; tokenId: string; at: string }>;
  const age = db.prepare('UPDATE response_actions SET requested_at = ? WHERE id = ?');
  for (const r of pendingRows) age.run(new Date(Date.parse(r.at) - STALE_MS - 1000).toISOString(), r.id);
  db.close();
  const rowsBeforeFinal = readRows().length;
  const before = slack.connections;
  startDaemon();
  if (!(await connectedAnew(before))) problems.push('clicks: the final daemon did not connect to Slack within 30 s');
  const retried = new Set(pendingRows.map((r) => tokens.find((t) => t.id === r.tokenId)?.alertId).filter((a): a is string => !!a));
  // ... and every token a responder tried to revoke gets one more Revoke: it must answer "already".
  for (const c of clicks) if (c.kind === 'revoke') retried.add(c.alertId);
  const finalClicks: Click[] = [];
  for (const a of retried) {
    click('revoke', a);
    finalClicks.push(clicks[clicks.length - 1]!);
  }
  const settled = await until(() => clicks.every((c) => c.env.ackedAfterMs !== null) && readRows().filter((r) => r.result === 'pending').length === 0 && readRows().length >= rowsBeforeFinal + finalClicks.length, 60_000, 250);
  if (!settled) problems.push('clicks: the final daemon did not settle (acks, no pending rows) within 60 s');
  await stopGracefully();

  // --- verdicts
  const rows = readRows();
  const audit: Record<string, number> = {};
  for (const r of rows) audit[`${r.action} ${r.result}`] = (audit[`${r.action} ${r.result}`] ?? 0) + 1;
  const deletes: Record<string, number> = {};
  let revokedTokens = 0;
  let twice = 0;
  for (const t of tokens) {
    const answers = fake.requests.filter((q) => q.method === 'DELETE' && q.path === `/api/v1/api-tokens/${t.id}`);
    for (const q of answers) deletes[String(q.status || 'no answer')] = (deletes[String(q.status || 'no answer')] ?? 0) + 1;
    const ok = answers.filter((q) => q.status === 204).length;
    const gone = answers.filter((q) => q.status === 404).length;
    const mine = rows.filter((r) => r.tokenId === t.id && r.action === 'revoke');
    const revokedInOkta = !fake.apiTokens.has(t.id);
    if (revokedInOkta) revokedTokens++;
    if (ok > 1) {
      twice++;
      problems.push(`clicks: token ${t.id} was revoked in Okta ${ok} times (DELETE answered 204 ${ok} times)`);
    }
    if (revokedInOkta && !mine.some((r) => r.result === 'revoked' || r.result === 'already-gone')) problems.push(`clicks: token ${t.id} is revoked in Okta but no audit row says revoked or already-gone`);
    if (!revokedInOkta && mine.some((r) => r.result === 'revoked' || r.result === 'already-gone')) problems.push(`clicks: token ${t.id} is recorded as revoked but Okta still has it`);
    const recordedRevoked = mine.filter((r) => r.result === 'revoked').length;
    const recordedGone = mine.filter((r) => r.result === 'already-gone').length;
    if (recordedRevoked > ok) problems.push(`clicks: token ${t.id} has ${recordedRevoked} row(s) revoked for ${ok} DELETE(s) answered 204`);
    if (recordedGone > gone) problems.push(`clicks: token ${t.id} has ${recordedGone} row(s) already-gone for ${gone} DELETE(s) answered 404`);
    if (malloryOnly.has(t.alertId) && answers.length > 0) problems.push(`clicks: token ${t.id}, clicked only by a non-responder, got ${answers.length} DELETE(s)`);
  }
  const pending = rows.filter((r) => r.result === 'pending');
  if (pending.length) problems.push(`clicks: ${pending.length} audit row(s) still pending after the drain (first #${pending[0]!.id})`);
  for (const r of rows) if (r.byId === MALLORY.id && r.result !== 'refused') problems.push(`clicks: a click by a non-responder is stored as ${r.result}, not refused (#${r.id})`);
  // Every acked click has its own row: per (alert, action, user), at least as many rows as acked
  // envelopes, and never more rows than envelopes sent.
  const key = (alertId: string | null, action: string, user: string | null): string => `${alertId}|${action}|${user}`;
  const ackedBy = new Map<string, number>();
  const sentBy = new Map<string, number>();
  for (const c of clicks) {
    const k = key(c.alertId, c.kind.replace('-refused', ''), c.user);
    sentBy.set(k, (sentBy.get(k) ?? 0) + 1);
    if (c.env.ackedAfterMs !== null) ackedBy.set(k, (ackedBy.get(k) ?? 0) + 1);
  }
  const rowsBy = new Map<string, number>();
  for (const r of rows) rowsBy.set(key(r.alertId, r.action, r.byId), (rowsBy.get(key(r.alertId, r.action, r.byId)) ?? 0) + 1);
  let missing = 0;
  const missingKinds: Record<string, number> = {};
  for (const [k, n] of ackedBy) {
    const short = (rowsBy.get(k) ?? 0) < n ? n - (rowsBy.get(k) ?? 0) : 0;
    missing += short;
    if (short) missingKinds[k.split('|').slice(1).join(' by ')] = (missingKinds[k.split('|').slice(1).join(' by ')] ?? 0) + short;
  }
  if (missing) problems.push(`clicks: ${missing} acknowledged click(s) have no audit row (${JSON.stringify(missingKinds)}): Slack had the ack, then the process was killed before it stored the click`);
  // A click whose process was killed after storing it in the inbox, before marking it handled, is
  // acted on again at the next start (at least once, never lost): its attempt may then be recorded
  // twice (a revoke as a duplicate of itself, a refusal or an acknowledgement again). Only what
  // changed Okta must never outnumber the clicks.
  const decisiveBy = new Map<string, number>();
  for (const r of rows) if (r.result === 'revoked' || r.result === 'already-gone') decisiveBy.set(key(r.alertId, r.action, r.byId), (decisiveBy.get(key(r.alertId, r.action, r.byId)) ?? 0) + 1);
  for (const [k, n] of decisiveBy) if (n > (sentBy.get(k) ?? 0)) problems.push(`clicks: ${n} audit rows for ${k}, but only ${sentBy.get(k) ?? 0} click(s) were sent`);
  // The inbox: every acknowledged envelope was stored before its ack and is handled by the end.
  const inboxDb = new Database(dbPath, { readonly: true, fileMustExist: true });
  const inbox = inboxDb.prepare('SELECT envelope_id AS id, handled_at AS handled FROM slack_inbox').all() as Array<{ id: string; handled: string | null }>;
  inboxDb.close();
  const inboxIds = new Map(inbox.map((r) => [r.id, r.handled]));
  for (const c of clicks) {
    if (c.env.ackedAfterMs === null) continue;
    if (!inboxIds.has(c.env.envelope_id)) problems.push(`clicks: envelope ${c.env.envelope_id} was acknowledged but is not in the inbox`);
    else if (inboxIds.get(c.env.envelope_id) === null) problems.push(`clicks: envelope ${c.env.envelope_id} is still unhandled in the inbox after the drain`);
  }
  const unacked = clicks.filter((c) => c.env.ackedAfterMs === null).length;
  if (unacked) problems.push(`clicks: ${unacked} click(s) never acknowledged`);

  await slack.stop();
  await fake.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  const report: ClicksReport = {
    tokens: tokenCount,
    processes,
    kills,
    killsAtTheirMoment,
    clicks: { sent: clicks.length, acked: clicks.length - unacked, unacked, resent: clicks.filter((c) => c.env.sends > 1).length, byKind },
    hangs: { scripted: hangsScripted, deletesKilledWhileHanging },
    okta: { deletes, revokedTokens, tokensDeletedTwiceWith204: twice, untouchedMalloryOnlyTokens: [...malloryOnly].filter((a) => fake.apiTokens.has(tokens.find((t) => t.alertId === a)!.id)).length },
    audit,
    pendingAgedAndRetried: pendingRows.length,
    seconds: Math.round((Date.now() - started) / 1000),
    problems,
  };
  o.say(
    `clicks during kills: ${report.clicks.sent} clicks (${JSON.stringify(byKind)}, ${report.clicks.resent} sent again after a kill) over ${processes} processes, ` +
      `${Object.values(kills).reduce((a, b) => a + b, 0)} SIGKILLs ${JSON.stringify(kills)} (${killsAtTheirMoment} at their moment, ${deletesKilledWhileHanging} while a DELETE hung); ` +
      `Okta DELETE answers ${JSON.stringify(deletes)}, ${revokedTokens}/${tokenCount} tokens revoked, ${twice} revoked twice; ` +
      `${pendingRows.length} pending revoke(s) aged and retried; audit ${JSON.stringify(audit)}; ${report.seconds}s`,
  );
  return report;
}

// Alone: `node --import tsx soak/clicks.ts [--short] [--seed N]` (npm run soak runs it with the rest).
if (require.main === module) {
  const args = process.argv.slice(2);
  const seedAt = args.indexOf('--seed');
  const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : Math.floor(Math.random() * 1e9);
  const log = fs.createWriteStream(path.join(os.tmpdir(), `otw-soak-clicks-${seed}.log`));
  clicksScenario({ short: args.includes('--short'), seed, log, say: (s) => void process.stdout.write(s + '\n') }).then(
    (r) => {
      process.stdout.write(JSON.stringify({ seed, ...r }, null, 2) + '\n');
      log.end();
      setTimeout(() => process.exit(r.problems.length ? 1 : 0), 500).unref();
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(2);
    },
  );
}
