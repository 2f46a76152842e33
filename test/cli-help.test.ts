import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli } from './helpers/harness';

// Each command and the options that belong to it (and to no other command).
const OPTIONS: Record<string, string[]> = {
  run: [],
  poll: [],
  status: ['--json', '--alerts', '--limit'],
  'retry-failed': ['--notifier'],
  demo: [],
  'test-notify': ['--notifier'],
  check: ['--send'],
  backfill: ['--since', '--until', '--dry-run'],
  'event-hook': ['--url'],
  tokens: ['--json'],
  revoke: ['--yes'],
  ack: ['--reason', '--expected'],
};
const ALL = [...new Set(Object.values(OPTIONS).flat())];

describe('--help', () => {
  for (const [command, options] of Object.entries(OPTIONS)) {
    test(`when "${command} --help" is run without any settings, then it prints ${command}'s own usage and options and exits 0`, async () => {
      const r = await runCli([command, '--help'], {});
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: okta-token-watch ${command}\\b`));
      for (const o of [...options, '--env-file', '--help']) assert.ok(r.stdout.includes(o), `${command} --help lists ${o}:\n${r.stdout}`);
      for (const o of ALL.filter((x) => !options.includes(x))) assert.ok(!r.stdout.includes(`${o} `), `${command} --help does not list ${o}:\n${r.stdout}`);
    });
  }

  test('when "help backfill" or "-h" alone is run, then it prints that command\'s help or the general usage', async () => {
    const a = await runCli(['help', 'backfill'], {});
    assert.equal(a.code, 0);
    assert.match(a.stdout, /^Usage: okta-token-watch backfill --since/);
    const b = await runCli(['-h'], {});
    assert.equal(b.code, 0);
    assert.match(b.stdout, /^Usage: okta-token-watch <command>/);
  });

  test('when backfill is run without --since, with a bad date or an unknown option, then it exits 2 with backfill\'s own usage, not the list of commands', async () => {
    for (const args of [['backfill'], ['backfill', '--since', 'yesterday'], ['backfill', '--since', '7d', '--until', '2026-13-45'], ['backfill', '--since', '7d', '--bogus']]) {
      const r = await runCli(args, {});
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^okta-token-watch: .+\n\nUsage: okta-token-watch backfill --since/, args.join(' '));
      assert.doesNotMatch(r.stderr, /<command>/, args.join(' '));
    }
    // An unknown command still gets the list of commands.
    const unknown = await runCli(['frobnicate'], {});
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Usage: okta-token-watch <command>/);
  });
});
