/**
 * `okta-token-watch <command> --help`: each command's own usage and options. The general usage
 * (every command, exit codes) stays in cli.ts.
 */

const COMMON = `  --env-file PATH          settings file (default: .env in the working directory)
  -h, --help               this text`;

interface CommandHelp {
  usage: string;
  what: string;
  options?: string;
}

const COMMANDS: Record<string, CommandHelp> = {
  run: {
    usage: 'run',
    what: `The daemon: a tick at start, then on POLL_SCHEDULE, never two at once; deliveries between
ticks. SIGTERM or SIGINT: the page in hand is finished and committed, deliveries in flight are
recorded, then it exits 0.`,
  },
  poll: {
    usage: 'poll',
    what: `Exactly one tick, then one delivery pass, then exit. For cron or CI use. With ORGS_FILE, one
tick per org under its lease; an org another live replica holds is skipped (said on stderr), and
exit 1 names every org whose tick failed.`,
  },
  status: {
    usage: 'status [--json] [--alerts [--limit N]]',
    what: `Cursor, last tick, counters, suppressed events by reason, exceptions, and deliveries per
notifier with the last errors. With ORGS_FILE, a row per org (cursor, last tick, last success),
the leases (which replica holds which org, since when, until when) and the replicas seen. Never
prints a secret.`,
    options: `  --json                   the same as one JSON object
  --alerts                 also list the newest alerts, each marked when it went out in a summary,
                           with the watch of each new token (first use, counts, revoked)
  --limit N                how many alerts --alerts lists (default 200)`,
  },
  'retry-failed': {
    usage: 'retry-failed [--notifier NAME] [--org NAME]',
    what: 'Puts failed deliveries back to pending; the daemon sends them at its next delivery pass.',
    options: `  --notifier NAME          only this notifier's deliveries (slack, email, webhook, pagerduty, teams or console)
  --org NAME               only the deliveries of this org of ORGS_FILE (default: every org's)`,
  },
  demo: {
    usage: 'demo',
    what: `The zero-configuration tour: a built-in Okta simulator on 127.0.0.1, the real pipeline, a
temporary database; writes the Slack message and the email it would send into demo-output/.`,
  },
  'test-notify': {
    usage: 'test-notify [--notifier NAME] [--org NAME]',
    what: 'Sends a sample alert, marked as a test, through each enabled notifier; one result line each.',
    options: `  --notifier NAME          only this notifier (slack, email, webhook, pagerduty, teams or console)
  --org NAME               through this org's own notifiers (its routing in ORGS_FILE)`,
  },
  check: {
    usage: 'check [--send]',
    what: `Validates the settings, makes one System Log request, checks the database and each notifier.
With ORGS_FILE, each org's request and notifiers with its own credentials and routing, each line
prefixed with the org's name.`,
    options: '  --send                   also send a test alert through each notifier (as test-notify)',
  },
  backfill: {
    usage: 'backfill --since 7d|ISO [--until ISO] [--dry-run] [--org NAME]',
    what: `Scans a past range of the System Log through the same dedupe, without moving the live
cursor. Already-alerted events are not alerted again.`,
    options: `  --since 7d|ISO           start (required): a duration back from now, like 7d, or an ISO time;
                           clamped to Okta's 90-day retention
  --until ISO              end (default: now)
  --dry-run                list what matches; store and send nothing
  --org NAME               with ORGS_FILE: the org to act on (required when it lists several;
                           "check" shows their names)`,
  },
  'event-hook': {
    usage: 'event-hook register --url https://PUBLIC/okta/event-hook | event-hook status | event-hook remove [--org NAME]',
    what: `Manages the org's Okta event hook that pushes new-token events to the daemon's receiver
(the poller stays the backstop). Needs the okta.eventHooks.manage scope for a service app, or an
API token of a Super Administrator.
  register   creates our hook (or updates it in place) for the rule set's hook-eligible event
             types, with EVENT_HOOK_SECRET as its Authorization header; asks Okta to verify the
             URL (the daemon must be running and reachable from the internet over HTTPS), then
             activates it. Stores the hook's id in the database. On failure it names the step
             (create, update, verify, activate) and what Okta answered.
  status     our hook's id, name, status, verification, URL and event types; exit 1 unless it is
             ACTIVE, VERIFIED and subscribed to exactly the rule set's types.
  remove     deactivates and deletes our hook and forgets its id.
Exit codes: 0 ok, 1 Okta refused or a step failed, 2 usage error (a non-https --url), 78
configuration error (EVENT_HOOK_SECRET missing or short).`,
    options: `  --url URL                register: the public https:// URL Okta calls (your proxy or tunnel)
  --org NAME               with ORGS_FILE: the org to act on (required when it lists several;
                           "check" shows their names)`,
  },
  tokens: {
    usage: 'tokens [--json] [--org NAME]',
    what: `Lists the org's active API tokens (GET /api/v1/api-tokens): name, id, owner, created, expiry
and its window, network restriction, and whether this program alerted on the token's creation
(read from the database, never written). Tokens usable from any IP are marked "!". Needs the
okta.apiTokens.read scope for a service app, or an API token of an admin who may read API tokens;
without it, one sentence says so and the exit code is 1.`,
    options: `  --json                   the same as one JSON object
  --org NAME               with ORGS_FILE: the org to act on (required when it lists several;
                           "check" shows their names)`,
  },
  revoke: {
    usage: 'revoke <alert-id|token-id> [--yes] [--org NAME]',
    what: `Revokes the alert's token in Okta (DELETE /api/v1/api-tokens/{id}), the same action and audit
as the Slack "Revoke token" button. Given a token id, its newest alert is used. Needs revoke in
RESPONSE_ACTIONS and Okta credentials that may manage API tokens (okta.apiTokens.manage; "check"
says). A token already revoked through this program is not revoked again: the command says who did
it and when. Every attempt is recorded ("status --alerts" shows it) and sent to the notifiers.
Exit codes: 0 revoked, or already gone in Okta, or already revoked; 1 refused (RESPONSE_ACTIONS,
no such alert), forbidden (403: the permission it needs is named) or failed (nothing is marked
revoked; trying again is safe); 2 usage error, or no --yes when stdin is not a terminal;
78 configuration error.`,
    options: `  --yes                    revoke without asking (required when stdin is not a terminal)
  --org NAME               with ORGS_FILE and a token id: the org whose token it is (an alert id
                           names its org itself)`,
  },
  ack: {
    usage: 'ack <alert-id|token-id> [--reason TEXT] [--expected] [--org NAME]',
    what: `Records that someone looked at an alert, the same action and audit as the Slack
"Acknowledge" and "Expected" buttons; sent to the notifiers as a follow-up. With --expected it
also prints the exceptions-file entry (actor and token name) that would stop alerts from this
source; the file is not edited.
Exit codes: 0 recorded; 1 refused (RESPONSE_ACTIONS, no such alert); 2 usage error; 78
configuration error.`,
    options: `  --reason TEXT            why (required with --expected; at most 500 characters are kept)
  --expected               mark the alert expected and print its exceptions-file entry`,
  },
};

/** The help of one command, or null when there is no such command. */
export function commandHelp(command: string): string | null {
  const h = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!h) return null;
  return `Usage: okta-token-watch ${h.usage}\n\n${h.what}\n\nOptions:\n${h.options ? `${h.options}\n` : ''}${COMMON}`;
}
