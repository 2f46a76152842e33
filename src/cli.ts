#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createApp, followDepsFor, tickDepsFor, type App } from './app';
import { loadEnv, parseConfig, type AppConfig, type Env } from './config';
import { Daemon, waitLogged } from './daemon';
import { formatDuration } from './duration';
import { eventColumns } from './detect/event-columns';
import { ConfigError, EXIT_CONFIG, EXIT_DELIVERY_FAILED, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors';
import { redact } from './logger';
import { jsonEscape, plainText, terminalText } from './notify/sanitize';
import { summarizeExcess } from './ingest/ingest';
import { runFollowTick } from './ingest/follow';
import { followStatus } from './store/follow-cursors';
import { clockSkewIsLarge, runTick } from './ingest/poll';
import { parseBackfillRange, runBackfill } from './ingest/backfill';
import { createCheckApp, runCheck } from './check';
import { commandHelp } from './cli-help';
import { terminalOutput, type TerminalOutput } from './terminal-output';
import { formatWatchLine, watchStatusOf } from './follow/watch-status';
import { actionLines, alertActions } from './respond/status';
import { selectOrg } from './orgs/select';
import type { OrgRuntime } from './orgs/runtime';
import { pollOrgs } from './orgs/poll-command';
import { acrossOrgs, listAlertsAllOrgs, orgStatus } from './orgs/status';
import { Leases, type LeaseRow, type ReplicaRow } from './scale/leases';
import type { Alert } from './detect/alert';
import { outboxByOrgAndNotifier, type Store } from './store/store';

/** The commands that act on one org and so take `--org NAME` (required when ORGS_FILE lists several). */
const ORG_COMMANDS = new Set(['backfill', 'tokens', 'event-hook', 'revoke', 'ack', 'retry-failed', 'test-notify']);

const USAGE = `Usage: okta-token-watch <command> [options]

Commands:
  run                      the daemon: a tick at start, then on POLL_SCHEDULE
  poll                     exactly one tick, deliver, exit (0 ok, 1 tick failed or
                           interrupted, 3 tick ok but a delivery failed for good)
  status [--json] [--alerts [--limit N]]
                           cursor, last tick, counters, deliveries per notifier;
                           --alerts lists the newest N alerts (default 200)
  retry-failed [--notifier NAME] [--org NAME]
                           put failed deliveries back to pending
  demo                     zero-configuration tour against a built-in Okta simulator
  test-notify [--notifier NAME] [--org NAME]
                           send a sample alert, marked as a test, through the notifiers
  check [--send]           validate settings, Okta access, the database and notifiers
  backfill --since 7d|ISO [--until ISO] [--dry-run] [--org NAME]
                           scan a past range through the same dedupe (live cursor untouched)
  event-hook register --url https://PUBLIC/okta/event-hook | status | remove  [--org NAME]
                           manage the org's Okta event hook that pushes events to the daemon
  tokens [--json] [--org NAME]
                           the org's active API tokens: owner, expiry, network restriction
                           (unrestricted ones flagged), whether this program alerted on each
  revoke <alert-id|token-id> [--yes] [--org NAME]
                           revoke the alert's token in Okta (asks first unless --yes)
  ack <alert-id|token-id> [--reason TEXT] [--expected] [--org NAME]
                           acknowledge an alert, or mark it expected (prints the
                           exceptions-file entry for its source)

Options:
  --env-file PATH          settings file (default: .env in the working directory)
  --org NAME               with ORGS_FILE: the org of backfill, tokens, event-hook, and
                           revoke/ack by token id (required when it lists several orgs);
                           optional for retry-failed and test-notify (one org's deliveries
                           or routing)
  -h, --help               this text; after a command, that command's options

Exit codes: 0 ok (revoke: revoked or already gone), 1 failure (revoke: refused,
forbidden or failed), 2 usage error, 3 a delivery failed for good (poll),
78 configuration error.`;

/** The streams a command runs with. */
export interface Streams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** For `revoke`'s confirmation question; process.stdin when absent. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** What commands write through: every line is made terminal-safe on its way out. */
interface Io {
  stdout: TerminalOutput;
  stderr: TerminalOutput;
  env: NodeJS.ProcessEnv;
}

/** Parses the command line and runs one command; resolves to the exit code. */
export async function main(argv: string[], streams: Streams = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const io: Io = { stdout: terminalOutput(streams.stdout), stderr: terminalOutput(streams.stderr), env: streams.env };
  // The command a usage error belongs to, for its own help (set once the arguments parse).
  let command: string | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'env-file': { type: 'string' },
        json: { type: 'boolean' },
        alerts: { type: 'boolean' },
        limit: { type: 'string' },
        notifier: { type: 'string' },
        send: { type: 'boolean' },
        since: { type: 'string' },
        until: { type: 'string' },
        'dry-run': { type: 'boolean' },
        url: { type: 'string' },
        yes: { type: 'boolean' },
        reason: { type: 'string' },
        expected: { type: 'boolean' },
        org: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    command = positionals[0];
    if (values.help || command === 'help') {
      const about = command === 'help' ? positionals[1] : command;
      io.stdout.write((about ? (commandHelp(about) ?? USAGE) : USAGE) + '\n');
      return EXIT_OK;
    }
    if (!command) throw new UsageError('no command given');
    // `event-hook` takes a sub-command, `revoke` and `ack` what they act on.
    const maxPositionals = command === 'event-hook' || command === 'revoke' || command === 'ack' ? 2 : 1;
    if (positionals.length > maxPositionals) throw new UsageError(`unexpected argument "${positionals[maxPositionals]}"`);
    // Only the commands that act on one org take it; elsewhere it would be silently ignored.
    if (values.org !== undefined && !ORG_COMMANDS.has(command)) throw new UsageError(`--org is an option of ${[...ORG_COMMANDS].join(', ')}, not of ${command}`);
    const env = loadEnv(values['env-file'], io.env);
    switch (command) {
      case 'run':
        return await cmdRun(parseConfig(env, { requireOkta: true }));
      case 'poll':
        return await cmdPoll(parseConfig(env, { requireOkta: true }), io);
      case 'status':
        return await cmdStatus(parseConfig(env, { requireOkta: false }), io, { json: values.json ?? false, alerts: values.alerts ?? false, limit: alertLimit(values.limit) });
      case 'retry-failed': {
        const config = parseConfig(env, { requireOkta: false });
        // Every org's failed deliveries unless --org names one.
        return await cmdRetryFailed(config, io, values.notifier, values.org === undefined ? undefined : selectOrg(config, values.org, 'retry-failed'));
      }
      case 'demo': {
        const { runDemo } = await import('./demo');
        const outDir = path.resolve('demo-output');
        const r = await runDemo({ env, outDir, print: (l) => io.stdout.write(l + '\n') });
        return r.ticks.every((t) => t.ok) && r.deliveries.every((d) => d.failed === 0) ? EXIT_OK : EXIT_FAILURE;
      }
      case 'test-notify': {
        const config = parseConfig(env, { requireOkta: false });
        return await cmdTestNotify(config, io, values.notifier, values.org === undefined ? undefined : selectOrg(config, values.org, 'test-notify'));
      }
      case 'check':
        return await cmdCheck(parseConfig(env, { requireOkta: true }), io, values.send ?? false);
      case 'backfill': {
        if (!values.since) throw new UsageError('backfill needs --since (a duration like 7d, or an ISO time)');
        const range = parseBackfillRange(values.since, values.until, new Date());
        if ('error' in range) throw new UsageError(range.error);
        const config = parseConfig(env, { requireOkta: true });
        return await cmdBackfill(config, io, { ...range, dryRun: values['dry-run'] ?? false }, selectOrg(config, values.org, 'backfill'));
      }
      case 'event-hook':
        return await cmdEventHook(env, io, positionals[1], values.url, values.org);
      case 'tokens': {
        const { runTokensCommand } = await import('./tokens-command');
        const config = parseConfig(env, { requireOkta: true });
        return await runTokensCommand(config, io, { json: values.json ?? false, org: selectOrg(config, values.org, 'tokens') });
      }
      case 'revoke': {
        const { cmdRevoke } = await import('./respond/cli');
        return await cmdRevoke(parseConfig(env, { requireOkta: true }), { ...io, stdin: streams.stdin ?? process.stdin }, positionals[1], values.yes ?? false, values.org);
      }
      case 'ack': {
        const { cmdAck } = await import('./respond/cli');
        return await cmdAck(parseConfig(env, { requireOkta: false }), { ...io, stdin: streams.stdin ?? process.stdin }, positionals[1], { reason: values.reason, expected: values.expected ?? false, org: values.org });
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) io.stderr.write(`okta-token-watch: configuration error: ${p}\n`);
      return EXIT_CONFIG;
    }
    if (err instanceof UsageError || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
      // A mistake in a known command's options gets that command's help, not the list of commands;
      // when the arguments did not parse, the command is the first word that names one.
      const about = command ?? argv.find((a) => commandHelp(a) !== null);
      io.stderr.write(`okta-token-watch: ${(err as Error).message}\n\n${(about !== undefined ? commandHelp(about) : null) ?? USAGE}\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`okta-token-watch: ${redact(err instanceof Error ? err.message : String(err))}\n`);
    return EXIT_FAILURE;
  }
}

/** Start-up repairs shared by `run` and `poll`. */
async function recover(app: App): Promise<void> {
  const abandoned = await app.store.closeAbandonedTicks(app.clock.now());
  if (abandoned > 0) app.logger.warn('the previous process stopped during a tick; its committed pages are kept', { ticks: abandoned });
  await summarizeExcess({ ...app, notifiers: app.notifiers.map((n) => n.name) }, null);
}

function warnIfDefaulted(app: App): void {
  for (const w of app.config.warnings) app.logger.warn(w, {});
  if (app.config.notify.defaulted) {
    app.logger.warn('no notifier is configured: alerts go to stdout only (set SLACK_WEBHOOK_URL, SMTP_* or WEBHOOK_URL)', {});
  }
}

async function cmdRun(config: AppConfig): Promise<number> {
  const app = await createApp(config);
  process.on('unhandledRejection', (err) => {
    // A bug, not an Okta or notifier failure (those are handled): exit so the supervisor restarts
    // the daemon; committed pages and pending deliveries survive in the database.
    app.logger.error('unexpected error; exiting so the supervisor restarts the daemon', { error: redact(err instanceof Error ? (err.stack ?? err.message) : String(err)) });
    process.exit(EXIT_FAILURE);
  });
  warnIfDefaulted(app);
  const daemon = new Daemon(app);
  let stopping = false;
  const done = new Promise<number>((resolve) => {
    const onSignal = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      app.logger.info('stopping: finishing the page in hand', { signal: sig });
      void daemon.stop().then(async () => {
        await waitLogged(app.logger, 'the database and notifiers to close', app.close());
        resolve(EXIT_OK);
      });
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
  await daemon.start();
  return done;
}

async function cmdPoll(config: AppConfig, io: Io): Promise<number> {
  const app = await createApp(config);
  warnIfDefaulted(app);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    if (config.orgs) {
      const outcomes = await pollOrgs(app, abort.signal, (l) => io.stderr.write(`okta-token-watch: ${l}\n`));
      const delivery = abort.signal.aborted ? null : await app.dispatcher.runOnce();
      const failed = outcomes.filter((o) => o.status === 'failed').map((o) => o.org);
      // An org a signal stopped before its turn was not polled: not a complete poll either.
      const notReached = app.orgs.length - outcomes.length;
      if (failed.length > 0 || notReached > 0) {
        io.stderr.write(`okta-token-watch: poll failed for ${failed.length ? `org(s) ${failed.join(', ')}` : ''}${failed.length && notReached ? ' and ' : ''}${notReached ? `${notReached} org(s) not reached before the stop` : ''}\n`);
        return EXIT_FAILURE;
      }
      return delivery && delivery.failed > 0 ? EXIT_DELIVERY_FAILED : EXIT_OK;
    }
    await recover(app);
    const result = await runTick(tickDepsFor(app, abort.signal));
    // Watched tokens are followed after the poll, never before it; it never changes the exit code
    // (its failures are logged, and its cursors make the next run resume).
    if (result.ok && !abort.signal.aborted) await runFollowTick(followDepsFor(app, abort.signal, result.newAlerts));
    // Stopping: what the tick committed stays pending for the next run instead of delaying the exit.
    const delivery = abort.signal.aborted ? null : await app.dispatcher.runOnce();
    // An interrupted tick is not ok: a wrapper script must not take it for a complete poll.
    if (!result.ok) return EXIT_FAILURE;
    return delivery && delivery.failed > 0 ? EXIT_DELIVERY_FAILED : EXIT_OK;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await app.close();
  }
}

/** The status line of the follow query of watched tokens (issue 12). */
function followLine(f: Awaited<ReturnType<typeof followStatus>>, now: number): string {
  const watched = f.watched === null ? 'no watches in this database yet' : `${f.watched} token(s) watched`;
  const t = f.lastTick;
  const last = t
    ? `last follow tick ${t.result} at ${ago(t.finishedAt ?? t.startedAt, now)}: ${t.pages} page(s), ${t.requests} request(s), ${t.events} event(s), ${t.newAlerts} new alert(s)${t.error ? `; error: ${plainText(t.error, 300)}` : ''}`
    : 'no follow tick yet';
  return `${watched}; ${last}`;
}

function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return 'never';
  return `${iso} (${formatDuration(Math.max(0, now - Date.parse(iso)))} ago)`;
}

/** `--limit N` for `status --alerts`: a positive whole number, 200 when absent. */
function alertLimit(v: string | undefined): number {
  if (v === undefined) return 200;
  if (!/^[1-9][0-9]{0,8}$/.test(v)) throw new UsageError('--limit takes a positive whole number of alerts');
  return Number(v);
}

/** The status line about Okta's clock against ours; a WARNING when over half of LOOKBACK apart. */
function clockStatus(offsetMs: number | null, lookbackMs: number): string {
  if (offsetMs === null) return 'not measured yet (the first tick that catches up measures Okta\'s clock)';
  const seconds = Math.round(Math.abs(offsetMs) / 1000);
  const where = seconds === 0 ? 'the local clock agrees with Okta\'s (to the second)' : `the local clock is ${seconds} s ${offsetMs < 0 ? 'ahead of' : 'behind'} Okta's`;
  return clockSkewIsLarge(offsetMs, lookbackMs)
    ? `WARNING: ${where}, more than half of LOOKBACK: the poller uses Okta's clock, but fix the local one (NTP)`
    : `${where} at the last tick that caught up`;
}

async function cmdStatus(config: AppConfig, io: Io, opts: { json: boolean; alerts: boolean; limit: number }): Promise<number> {
  // A PostgreSQL database (DATABASE_URL) has no file to look for: opening it says whether it is there.
  if (!config.store.databaseUrl && !fs.existsSync(config.store.dbPath)) {
    io.stderr.write(`okta-token-watch: no database at ${config.store.dbPath} yet: run "okta-token-watch poll" or start the daemon first.\n`);
    return EXIT_FAILURE;
  }
  const app = await createApp(config, { readOnlyStore: true });
  try {
    const database = config.store.databaseUrl ? app.store.db.label : config.store.dbPath;
    const s = await app.store.status(app.schemaVersion);
    // With ORGS_FILE: a row per org, and who polls which (the leases) among the replicas seen.
    const many = config.orgs ? await orgStatus(app) : null;
    // Without ORGS_FILE: the lease on the one org and the replicas, when more than one process
    // shares this database (an HA pair of one org): who polls, who stands by.
    const single = many ? null : { leases: await Leases.list(app.store.sql), replicas: await Leases.replicas(app.store.sql) };
    // With ORGS_FILE the alerts of every org, each read through its own org's store view.
    const alerts: Array<{ alert: Alert; summarized: boolean; org?: string }> = !opts.alerts ? [] : many ? await listAlertsAllOrgs(app, opts.limit) : await app.store.listAlerts(opts.limit);
    const storeOf = (org: string | undefined): Store => app.orgs.find((o) => o.name === org)?.store ?? app.store;
    const watches = new Map<string, Awaited<ReturnType<typeof watchStatusOf>> extends Map<string, infer W> ? W : never>();
    for (const org of new Set(alerts.map((a) => a.org))) {
      for (const [id, w] of await watchStatusOf(storeOf(org), alerts.filter((a) => a.org === org).map((a) => a.alert.id))) watches.set(id, w);
    }
    // With ORGS_FILE each org's own exceptions, on its row (JSON) and under its name (text).
    const exceptions = many ? many.orgs.flatMap((o) => o.exceptions.map((e) => ({ org: o.org, ...e }))) : app.detector.exceptionsStatus(app.clock.now());
    const summed = many ? await acrossOrgs(app) : null;
    const suppressedBy = summed?.suppressedBy ?? (await app.store.suppressedByReason());
    const push = {
      enabled: config.eventHook !== null || (config.orgs ?? []).some((o) => o.config.eventHook !== null),
      lastReceivedAt: summed ? summed.lastPushReceivedAt : await app.store.lastPushReceivedAt(),
      eventsBySource: { poll: 0, push: 0, ...(summed?.eventsBySource ?? (await app.store.eventsBySource())) },
    };
    // With ORGS_FILE these are per org, on each org's row.
    const follow = many ? undefined : await followStatus(app.store);
    const clockOffsetMs = many ? undefined : await app.store.oktaClockOffset();
    const failed = await app.store.failedDeliveries(10);
    const byOrg = many ? await app.store.outboxCounts() : null;
    const actions = new Map<string, Awaited<ReturnType<typeof alertActions>>>();
    for (const a of alerts) actions.set(a.alert.id, await alertActions(storeOf(a.org), a.alert.id));
    if (opts.json) {
      // Raw JSON would carry Okta's control and bidi characters to the terminal: they go out as \u escapes.
      io.stdout.write(
        jsonEscape(JSON.stringify(
          {
            database,
            ...s,
            ...(many ?? single ?? {}),
            // With ORGS_FILE these are each org's, on its row in `orgs`.
            cursor: many ? undefined : s.cursor ? { ...s.cursor, url: redact(s.cursor.url) } : null,
            lastTick: many ? undefined : s.lastTick,
            lastSuccessfulTick: many ? undefined : s.lastSuccessfulTick,
            suppressedBy,
            oktaClockOffsetMs: clockOffsetMs,
            push,
            follow,
            exceptions,
            ...(byOrg ? { deliveriesByOrg: outboxByOrgAndNotifier(byOrg) } : {}),
            failedDeliveries: failed.map((f) => (many ? f : { ...f, org: undefined })),
            alerts: opts.alerts
              ? alerts.map((a) => ({ ...a.alert, summarized: a.summarized, watch: watches.get(a.alert.id) ?? null, actions: actions.get(a.alert.id) ?? [] }))
              : undefined,
          },
          null,
          2,
        )) + '\n',
      );
      return EXIT_OK;
    }
    const now = app.clock.now().getTime();
    const t = s.lastTick;
    const orgWidth = Math.max(4, ...(many?.orgs ?? []).map((o) => o.org.length));
    const lines = [
      `database        ${database} (schema ${s.schemaVersion})`,
      ...(many
        ? orgLines(many, now, config.scale.leaseTtlMs, config.poll.lookbackMs)
        : [
            `cursor          ${s.cursor ? `saved ${ago(s.cursor.updatedAt, now)}` : 'none yet (the first tick starts at now minus LOOKBACK)'}`,
            `last tick       ${t ? `${t.result} at ${ago(t.finishedAt ?? t.startedAt, now)}: ${t.pages} page(s), ${t.requests} request(s), ${t.events} event(s), ${t.newAlerts} new alert(s)${t.error ? `; error: ${t.error}` : ''}` : 'none yet'}`,
            `last success    ${ago(s.lastSuccessfulTick?.finishedAt, now)}`,
            `follow          ${followLine(follow!, now)}`,
            `rate limit      ${t?.rateLimitRemaining ?? 'unknown'} request(s) remaining at the last tick`,
            `clock           ${clockStatus(clockOffsetMs ?? null, config.poll.lookbackMs)}`,
            ...(single && single.replicas.length > 1 ? replicaLines(single, now, config.scale.leaseTtlMs) : []),
          ]),
      `events seen     ${s.eventsSeen} (${Object.entries(push.eventsBySource).map(([k, n]) => `${n} first by ${k}`).join(', ')})`,
      `push            ${push.enabled ? 'receiver on' : 'receiver off (EVENT_HOOK_PORT not set)'}; last push delivery ${push.lastReceivedAt ? ago(push.lastReceivedAt, now) : 'never'}`,
      `alerts raised   ${s.alertsRaised} (${s.summaries} summary notification(s))`,
      `suppressed      ${s.suppressed}`,
      ...suppressedBy.map((x) => `  ${String(x.count).padStart(5)}  ${x.reason.slice(0, 160)} (last published ${x.last})`),
      `exceptions      ${exceptions.length ? `${exceptions.filter((e) => !e.expired).length} in force, ${exceptions.filter((e) => e.expired).length} expired` : 'none (EXCEPTIONS_FILE not set)'}`,
      ...exceptions.map(
        (e) => `  ${'org' in e ? `${plainText(e.org, 64)}: ` : ''}${e.kind} #${e.number}${e.line ? ` (line ${e.line})` : ''}: ${e.reason.slice(0, 100)}; ${e.matches.slice(0, 120)}${e.expired ? `; EXPIRED ${e.expires}: no longer matches` : e.expires ? `; expires ${e.expires}` : ''}`,
      ),
      'deliveries:',
      ...(byOrg
        ? byOrg.length
          ? outboxByOrgAndNotifier(byOrg).map((d) => `  ${d.org.padEnd(orgWidth)}  ${d.notifier.padEnd(14)} ${d.pending} pending, ${d.sent} sent, ${d.failed} failed`)
          : ['  none yet']
        : s.deliveries.length
          ? s.deliveries.map((d) => `  ${d.notifier.padEnd(14)} ${d.pending} pending, ${d.sent} sent, ${d.failed} failed`)
          : ['  none yet']),
    ];
    if (failed.length) {
      lines.push('failed deliveries (newest first; "okta-token-watch retry-failed" puts them back):');
      for (const f of failed) lines.push(`  #${f.id} ${many ? `${plainText(f.org, 64)} ` : ''}${f.notifier} ${plainText(f.alertId, 60)} after ${f.attempts} attempt(s): ${plainText(f.lastError, 300)}`);
    }
    if (opts.alerts) {
      lines.push('alerts (newest first):');
      for (const { alert: a, summarized, org } of alerts) {
        // Event text is attacker-controlled: made visible and bounded before it reaches a terminal.
        lines.push(
          `  ${many && org ? `[${plainText(org, 64)}] ` : ''}${plainText(a.event.published, 40)} ${plainText(a.outcome.result, 20)} "${plainText(a.token?.name ?? '(no token target)', 80)}" by "${plainText(a.actor.login ?? a.actor.id ?? 'unknown', 80)}" from ${plainText(a.client.ip, 45)}${summarized ? ' [in a summary]' : ''} ${plainText(a.id, 60)}`,
        );
        const watch = watches.get(a.id);
        if (watch) lines.push(`      ${formatWatchLine(watch)}`);
        lines.push(...actionLines(actions.get(a.id) ?? [], '      '));
      }
    }
    io.stdout.write(lines.join('\n') + '\n');
    return EXIT_OK;
  } finally {
    void app.close();
  }
}

/** The `status` lines of ORGS_FILE's orgs: one row each, then the leases, then the replicas. */
function orgLines(m: Awaited<ReturnType<typeof orgStatus>>, now: number, leaseTtlMs: number, lookbackMs: number): string[] {
  const width = Math.max(4, ...m.orgs.map((o) => o.org.length));
  const lines = ['orgs:'];
  for (const o of m.orgs) {
    const t = o.lastTick;
    const tick = t ? `last tick ${t.result} at ${ago(t.finishedAt ?? t.startedAt, now)}, ${t.newAlerts} new alert(s)${t.error ? `; error: ${plainText(t.error, 200)}` : ''}` : 'no tick yet';
    lines.push(`  ${o.org.padEnd(width)}  cursor ${o.cursorSavedAt ? `saved ${ago(o.cursorSavedAt, now)}` : 'none yet'}; ${tick}; last success ${ago(o.lastSuccessAt, now)}`);
    lines.push(`  ${' '.repeat(width)}  follow: ${followLine(o.follow, now)}`);
    lines.push(`  ${' '.repeat(width)}  clock: ${clockStatus(o.oktaClockOffsetMs, lookbackMs)}`);
  }
  lines.push('leases (which replica polls which org):');
  for (const o of m.orgs) {
    const l = m.leases.find((x) => x.org === o.org);
    const expired = l ? Date.parse(l.expiresAt) <= now : false;
    lines.push(`  ${o.org.padEnd(width)}  ${l ? `${plainText(l.holder, 120)} since ${l.since}, ${expired ? 'EXPIRED' : 'expires'} ${l.expiresAt}` : 'not held (the next replica to tick takes it)'}`);
  }
  lines.push(...replicasSeen(m.replicas, now, leaseTtlMs));
  return lines;
}

/** The replicas seen in the last day, each with when it was last seen. */
function replicasSeen(replicas: ReplicaRow[], now: number, leaseTtlMs: number): string[] {
  const lines = [`replicas seen (${replicas.length}):`];
  // A live replica is seen every third of LEASE_TTL (its heartbeat): one silent for half of it
  // has stopped or stalls, and its orgs wait for their leases to expire.
  const silent = (seenAt: string | null): boolean => seenAt !== null && now - Date.parse(seenAt) > leaseTtlMs / 2;
  for (const r of replicas) lines.push(`  ${plainText(r.holder, 120)}  started ${r.startedAt ?? 'unknown'}, last seen ${ago(r.seenAt, now)}${silent(r.seenAt) ? ' (not renewing: stopped or stalled? its orgs are taken over when their leases expire)' : ''}`);
  if (replicas.length === 0) lines.push('  none (no daemon has run against this database in the last day)');
  return lines;
}

/** A single-org install shared by several processes: who holds the org's lease, and the replicas. */
function replicaLines(m: { leases: LeaseRow[]; replicas: ReplicaRow[] }, now: number, leaseTtlMs: number): string[] {
  const l = m.leases[0];
  const expired = l ? Date.parse(l.expiresAt) <= now : false;
  return [
    `lease           ${l ? `held by ${plainText(l.holder, 120)} since ${l.since}, ${expired ? 'EXPIRED' : 'expires'} ${l.expiresAt}` : 'not held (the next replica to tick takes it)'}`,
    ...replicasSeen(m.replicas, now, leaseTtlMs),
  ];
}

async function cmdRetryFailed(config: AppConfig, io: Io, notifier: string | undefined, org: string | undefined): Promise<number> {
  const app = await createApp(config);
  try {
    // The (org, notifier) pairs that something sends: each org's own notifiers (its routing), or
    // the one org's of a single-org install. A failed row of any other pair would wait as pending
    // forever if it were put back: it stays failed and is named.
    const scope = config.orgs ? app.orgs.filter((o) => !org || o.name === org) : [{ name: app.orgs[0]!.name, notifiers: app.notifiers }];
    const enabled = [...new Set(scope.flatMap((o) => o.notifiers.map((x) => x.name)))];
    if (notifier && !enabled.includes(notifier)) {
      throw new UsageError(`--notifier ${notifier} is not an enabled notifier${org ? ` of org ${org}` : ''} (enabled: ${enabled.join(', ')})`);
    }
    const pairs = scope.flatMap((o) => o.notifiers.filter((x) => !notifier || x.name === notifier).map((x) => ({ org: o.name, notifier: x.name })));
    let n = 0;
    for (const p of pairs) n += await app.store.retryFailed(app.clock.now(), p.notifier, config.orgs ? p.org : undefined);
    io.stdout.write(`${n} failed deliver${n === 1 ? 'y' : 'ies'}${org ? ` of org ${org}` : ''} put back to pending; the daemon sends them at its next delivery pass.\n`);
    const sends = new Set(pairs.map((p) => `${p.org}\0${p.notifier}`));
    const left = (await app.store.outboxCounts()).filter(
      (r) => r.status === 'failed' && (!org || r.org === org) && (!notifier || r.notifier === notifier) && !(config.orgs ? sends.has(`${r.org}\0${r.notifier}`) : pairs.some((p) => p.notifier === r.notifier)),
    );
    for (const r of left) {
      const whose = config.orgs ? ` of org ${plainText(r.org, 40)}` : '';
      io.stdout.write(`${r.n} failed deliver${r.n === 1 ? 'y' : 'ies'} of ${plainText(r.notifier, 40)}${whose} stay${r.n === 1 ? 's' : ''} failed: ${plainText(r.notifier, 40)} is not enabled${config.orgs ? ' for that org' : ''} (NOTIFIERS${config.orgs ? ' or its notify block in ORGS_FILE' : ''}); enable it, then run retry-failed again.\n`);
    }
    return EXIT_OK;
  } finally {
    await app.close();
  }
}

async function cmdTestNotify(config: AppConfig, io: Io, notifier: string | undefined, org: string | undefined): Promise<number> {
  const app = await createApp(config);
  try {
    const { runTestNotify } = await import('./notify/test-notify');
    // --org: through that org's own notifier instances (its Slack channel, its recipients).
    const rt = org ? app.orgs.find((o) => o.name === org)! : null;
    const result = await runTestNotify(rt ? rt.notifiers : app.notifiers, { notifier, orgUrl: rt?.org?.url ?? config.okta?.orgUrl, org: rt?.org ?? undefined });
    for (const line of result.lines) io.stdout.write(`${line}\n`);
    return result.anyFailed ? EXIT_FAILURE : EXIT_OK;
  } finally {
    await app.close();
  }
}

async function cmdCheck(config: AppConfig, io: Io, send: boolean): Promise<number> {
  const { app, dbProblem } = await createCheckApp(config);
  try {
    const lines = await runCheck(app, { dbProblem });
    // One column for the names (the orgs' prefixes make some longer than 18).
    const width = Math.max(18, ...lines.map((l) => l.name.length));
    for (const l of lines) io.stdout.write(`${l.ok ? (l.warn ? 'WARN' : 'ok  ') : 'FAIL'}  ${l.name.padEnd(width)} ${redact(l.detail)}\n`);
    let ok = lines.every((l) => l.ok);
    if (send) {
      const { runTestNotify } = await import('./notify/test-notify');
      // With ORGS_FILE, a sample through each org's own notifiers (its routing), lines prefixed by the org.
      const targets = config.orgs ? app.orgs.map((o) => ({ prefix: `${o.name}: `, notifiers: o.notifiers, org: o.org })) : [{ prefix: '', notifiers: app.notifiers, org: null }];
      for (const t of targets) {
        const result = await runTestNotify(t.notifiers, t.org ? { orgUrl: t.org.url, org: t.org } : {});
        for (const line of result.lines) io.stdout.write(`${t.prefix}${line}\n`);
        ok = ok && !result.anyFailed;
      }
    }
    const warned = lines.some((l) => l.warn);
    io.stdout.write(!ok ? 'some checks failed: fix the lines marked FAIL, then run check again\n' : warned ? 'checks passed with warnings: read the lines marked WARN\n' : 'all checks passed\n');
    return ok ? EXIT_OK : EXIT_FAILURE;
  } finally {
    await app.close();
  }
}

/**
 * The App as one org's command sees it: that org's store view, Okta connections, reader, detector,
 * notifiers and settings; the shared parts (dispatcher, close) stay the App's. A single-org install
 * gets the App itself (tests and embedders replace its parts there).
 */
function appForOrg(app: App, name: string): App {
  const rt: OrgRuntime | undefined = app.orgs.find((o) => o.name === name);
  if (!rt || !rt.named) return app;
  return {
    ...app,
    config: rt.config,
    logger: rt.logger,
    store: rt.store,
    okta: rt.okta,
    revokeOkta: rt.revokeOkta,
    reader: rt.reader,
    detector: rt.detector,
    notifiers: rt.notifiers,
    closeEndedWatches: rt.closeEndedWatches,
    onFollowCaughtUp: rt.onFollowCaughtUp,
  };
}

async function cmdBackfill(config: AppConfig, io: Io, opts: { since: Date; until: Date; dryRun: boolean }, orgName: string): Promise<number> {
  const whole = await createApp(config);
  const app = appForOrg(whole, orgName);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = io.stderr.isTTY;
  let lastLog = 0;
  try {
    const result = await runBackfill(app, {
      ...opts,
      signal: abort.signal,
      onProgress: (p) => {
        const rate = p.elapsedMs > 0 ? Math.round((p.events / p.elapsedMs) * 1000) : 0;
        const text = `backfill: ${p.pages} page(s), ${p.events} event(s), ${p.newAlerts} new alert(s), ${rate} events/s, ${formatDuration(p.elapsedMs)} elapsed`;
        if (tty) io.stderr.progress(text);
        else if (p.elapsedMs - lastLog >= 10_000 || p.pages === 1) {
          lastLog = p.elapsedMs;
          app.logger.info('backfill progress', { pages: p.pages, events: p.events, newAlerts: p.newAlerts, eventsPerSecond: rate });
        }
      },
    });
    if (tty) io.stderr.write('\n');
    if (opts.dryRun) {
      for (const m of result.matches) {
        // Any field may be of any type (or the entry not an object): read with the alert's readers.
        const c = eventColumns(m.event);
        io.stdout.write(
          `${plainText(c.published, 40)} ${plainText(m.key, 60)} "${plainText(c.tokenName ?? '(no token target)', 80)}" by "${plainText(c.actorLogin ?? c.actorId ?? 'unknown', 80)}" ${m.alreadySeen ? 'already stored' : `new (${plainText(m.decision, 200)})`}\n`,
        );
      }
    }
    if (!opts.dryRun) await app.dispatcher.runOnce();
    io.stdout.write(
      `backfill ${result.ok ? 'finished' : abort.signal.aborted ? 'stopped by a signal' : 'failed'}: ${result.since.toISOString()} .. ${result.until.toISOString()}${result.clamped ? ' (start clamped to the 90-day retention)' : ''}; ` +
        `${result.events} event(s), ${result.alreadySeen} already stored, ${opts.dryRun ? `${result.matches.filter((m) => !m.alreadySeen).length} new (dry run: nothing stored)` : `${result.newAlerts} new alert(s), ${result.suppressed} suppressed`}` +
        `${result.error ? `; error: ${redact(result.error)}` : ''}\n`,
    );
    return result.ok ? EXIT_OK : EXIT_FAILURE;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await app.close();
  }
}

async function cmdEventHook(env: Env, io: Io, sub: string | undefined, url: string | undefined, orgOption: string | undefined): Promise<number> {
  if (sub !== 'register' && sub !== 'status' && sub !== 'remove') {
    throw new UsageError(sub ? `unknown event-hook command "${sub}" (register, status or remove)` : 'event-hook needs a command: register, status or remove');
  }
  if (url !== undefined && sub !== 'register') throw new UsageError(`--url is an option of event-hook register, not of event-hook ${sub}`);
  const whole = parseConfig(env, { requireOkta: true });
  const orgName = selectOrg(whole, orgOption, 'event-hook');
  // Imported here: these commands load the SDK's generated event hook API, which the daemon must not.
  const hooks = await import('./event-hook-commands');
  const app = appForOrg(await createApp(whole), orgName);
  const config = app.config;
  const hio = { out: (l: string) => io.stdout.write(`${l}\n`), err: (l: string) => io.stderr.write(`${l}\n`) };
  try {
    if (sub === 'register') return await hooks.registerHook(app, config, url, hio);
    if (sub === 'status') return await hooks.hookStatus(app, config, hio);
    return await hooks.removeHook(app, config, hio);
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // The daemon's timers are closed by then; a stuck socket must not keep a finished command alive.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err: unknown) => {
      process.stderr.write(terminalText(`okta-token-watch: ${redact(err instanceof Error ? err.message : String(err))}\n`));
      process.exit(EXIT_FAILURE);
    },
  );
}
