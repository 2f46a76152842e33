import fs from 'node:fs';
import os from 'node:os';
import readline from 'node:readline/promises';
import { createApp, type App } from '../app';
import type { AppConfig } from '../config';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../errors';
import type { TerminalOutput } from '../terminal-output';
import type { Actor } from './audit';
import { selectOrg } from '../orgs/select';
import { findAlert, respond, respondDepsFor, type RespondDeps, type ResponseOutcome } from './respond';

/** The streams the response commands use. */
export interface RespondIo {
  stdout: TerminalOutput;
  stderr: TerminalOutput;
  /** Read for the confirmation question; a revoke without --yes is refused unless it is a TTY. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** The OS user running the CLI: the audit's "who" for `via: cli`. */
export function cliActor(): Actor {
  try {
    const u = os.userInfo();
    return { via: 'cli', id: u.uid >= 0 ? String(u.uid) : null, name: u.username };
  } catch {
    // No passwd entry (a container's arbitrary uid): the uid alone.
    const uid = typeof process.getuid === 'function' ? process.getuid() : null;
    return { via: 'cli', id: uid === null ? null : String(uid), name: null };
  }
}

/** 0 when the action is done (or an earlier revoke stands), 1 when refused, failed or still pending. */
function exitCode(o: ResponseOutcome): number {
  return o.status === 'done' || o.status === 'already' ? EXIT_OK : EXIT_FAILURE;
}

function noDatabase(config: AppConfig, io: RespondIo): number | null {
  // PostgreSQL (DATABASE_URL) has no file to look for: opening it says whether it is there.
  if (config.store.databaseUrl || fs.existsSync(config.store.dbPath)) return null;
  io.stderr.write(`okta-token-watch: no database at ${config.store.dbPath}: there is no alert to act on yet.\n`);
  return EXIT_FAILURE;
}

/**
 * The org whose store and Okta act on `target`. An alert id names its org itself (the alert row
 * carries it), so `--org` is not needed there; a token id needs `--org` when ORGS_FILE lists
 * several orgs (the same token id in two orgs would be two tokens).
 */
async function orgOfTarget(app: App, target: string, given: string | undefined, command: string): Promise<string> {
  if (/^otw-/.test(target) && target.length <= 200) {
    const row = await app.store.sql.get<{ org: string }>('SELECT org FROM alerts WHERE alert_id = ?', [target]);
    if (row) {
      if (given !== undefined && given !== row.org) throw new UsageError(`alert ${target} belongs to org ${row.org}, not to --org ${selectOrg(app.config, given, command)}: leave --org out for an alert id`);
      return row.org;
    }
    // No such alert: respond() refuses and records it, in the org given or the first.
    return given === undefined ? (app.orgs[0]?.name ?? selectOrg(app.config, undefined, command)) : selectOrg(app.config, given, command);
  }
  return selectOrg(app.config, given, command);
}

/** The response deps of one org: its store view, its revoke connection, its notifiers and response settings. */
function depsForOrg(app: App, org: string): RespondDeps {
  const rt = app.orgs.find((o) => o.name === org);
  // A single org's parts are the App's (tests and embedders replace them there).
  if (!rt || !rt.named) return respondDepsFor(app);
  return {
    store: rt.store,
    okta: rt.revokeOkta,
    oktaAuth: rt.config.okta?.auth.mode ?? null,
    config: rt.config.respond,
    notifiers: rt.notifiers.map((n) => n.name),
    clock: app.clock,
    logger: rt.logger,
  };
}

/*
 * The action's follow-up is queued in the database, not sent from here: the daemon (or the next
 * `poll`) delivers it, so a slow notifier never holds the command up.
 */

/**
 * `revoke <alert-id|token-id> [--yes]`: revokes the alert's token through `respond`, the same path
 * and audit as the Slack button. Without --yes it asks on a terminal, and refuses (usage error)
 * when stdin is not one, so that a script never revokes by accident.
 */
export async function cmdRevoke(config: AppConfig, io: RespondIo, target: string | undefined, yes: boolean, orgOption?: string): Promise<number> {
  if (!target) throw new UsageError('revoke needs an alert id (otw-...) or a token id (00T...)');
  if (!yes && !io.stdin.isTTY) throw new UsageError('revoke asks for confirmation, but stdin is not a terminal: add --yes to revoke without asking');
  const missing = noDatabase(config, io);
  if (missing !== null) return missing;
  // A token id with several orgs needs --org: said before any database is opened.
  if (!/^otw-/.test(target)) selectOrg(config, orgOption, 'revoke');
  const app = await createApp(config);
  try {
    const deps = depsForOrg(app, await orgOfTarget(app, target, orgOption, 'revoke'));
    if (!yes) {
      const found = await findAlert(deps.store, target);
      // Nothing to confirm when there is no such alert: respond() records the refusal.
      if (found) {
        const a = found.alert;
        const question = `Revoke token "${a.token?.name ?? '(no name)'}" (${a.token?.id ?? 'no id'}) created by ${a.actor.login ?? a.actor.displayName ?? a.actor.id ?? 'an unknown actor'} (alert ${a.id})? Type yes to revoke: `;
        const rl = readline.createInterface({ input: io.stdin, output: process.stderr, terminal: true });
        io.stderr.write(question);
        // End of input (Ctrl-D) is a no, not a wait forever.
        const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')));
        const answer = (await Promise.race([rl.question(''), closed])).trim().toLowerCase();
        rl.close();
        if (answer !== 'yes' && answer !== 'y') {
          io.stderr.write('not revoked.\n');
          return EXIT_FAILURE;
        }
      }
    }
    const outcome = await respond(deps, { target, action: 'revoke', by: cliActor() });
    (exitCode(outcome) === EXIT_OK ? io.stdout : io.stderr).write(`${outcome.text}\n`);
    return exitCode(outcome);
  } finally {
    await app.close();
  }
}

/**
 * `ack <alert-id> [--reason TEXT] [--expected]`: records an acknowledgement, or with --expected
 * marks the alert expected (a reason is required) and prints the exceptions-file entry that would
 * suppress its source.
 */
export async function cmdAck(config: AppConfig, io: RespondIo, target: string | undefined, opts: { reason: string | undefined; expected: boolean; org?: string }): Promise<number> {
  if (!target) throw new UsageError('ack needs an alert id (otw-...)');
  if (opts.expected && !opts.reason?.trim()) throw new UsageError('ack --expected needs --reason "why this source is expected"');
  const missing = noDatabase(config, io);
  if (missing !== null) return missing;
  if (!/^otw-/.test(target)) selectOrg(config, opts.org, 'ack');
  const app = await createApp(config);
  try {
    const outcome = await respond(depsForOrg(app, await orgOfTarget(app, target, opts.org, 'ack')), { target, action: opts.expected ? 'expected' : 'acknowledge', by: cliActor(), reason: opts.reason ?? null });
    (exitCode(outcome) === EXIT_OK ? io.stdout : io.stderr).write(`${outcome.text}\n`);
    const entry = outcome.exceptionEntry;
    if (entry?.yaml) {
      io.stdout.write(`\nTo stop alerts from this source, add this under "exceptions:" in EXCEPTIONS_FILE and restart (nothing was edited):\n\n${entry.yaml}\n`);
    }
    return exitCode(outcome);
  } finally {
    await app.close();
  }
}
