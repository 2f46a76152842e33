import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../src/config';
import { ConfigError } from '../src/errors';
import { redact, registerSecrets } from '../src/logger';
import { runCli, tmpDir } from './helpers/harness';

const PASSWORD = 'FAKE-db-p@ss word';
const GOOD = `postgresql://otw:${encodeURIComponent(PASSWORD)}@127.0.0.1:5432/otw?sslmode=disable`;

/** The one problem sentence parseConfig raises for these settings. */
function problem(env: Record<string, string>): string {
  try {
    parseConfig(env, { requireOkta: false });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.problems.length, 1, err.message);
    return err.problems[0]!;
  }
  assert.fail('the settings were accepted');
}

describe('DATABASE_URL', () => {
  test('when it is unset, then the store is SQLite at DB_PATH', () => {
    const config = parseConfig({}, { requireOkta: false });
    assert.equal(config.store.databaseUrl, null);
    assert.equal(config.store.dbPath, './data/okta-token-watch.sqlite');
  });

  test('when it is a postgresql:// URL, then the store uses it and its password goes to the log redactor', () => {
    const config = parseConfig({ DATABASE_URL: GOOD }, { requireOkta: false });
    assert.equal(config.store.databaseUrl, GOOD);
    assert.ok(config.secrets.includes(PASSWORD));
    registerSecrets(config.secrets);
    assert.equal(redact(`auth failed for ${PASSWORD} at ${GOOD}`), 'auth failed for [REDACTED] at [REDACTED]');
  });

  test('when it is not a usable PostgreSQL URL, or DB_PATH is set too, then one sentence names DATABASE_URL and never shows the value', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ DATABASE_URL: 'FAKE-db-p@ss word' }, /^DATABASE_URL is not a valid URL: write postgresql:\/\/USER:PASSWORD@HOST:5432\/DATABASE\.$/],
      [{ DATABASE_URL: 'mysql://otw:FAKE-db-pass@127.0.0.1/otw' }, /^DATABASE_URL must be a postgresql:\/\/ URL: .* \(leave it unset to use SQLite at DB_PATH\)\.$/],
      [{ DATABASE_URL: 'postgresql://otw:FAKE-db-pass@127.0.0.1:5432/' }, /^DATABASE_URL names no database: /],
      [{ DATABASE_URL: 'postgresql://otw:FAKE-db-pass%zz@127.0.0.1/otw' }, /^DATABASE_URL has a badly %-encoded password/],
      [{ DATABASE_URL: GOOD, DB_PATH: '/var/lib/otw/db.sqlite' }, /^DATABASE_URL and DB_PATH are both set: the store is PostgreSQL when DATABASE_URL is set, so remove DB_PATH\.$/],
    ];
    for (const [env, want] of cases) {
      const sentence = problem(env);
      assert.match(sentence, want);
      assert.doesNotMatch(sentence, /FAKE|otw:|127\.0\.0\.1|mysql/, sentence);
    }
  });

  test('when the env file has a bad DATABASE_URL, then poll exits 78 naming it, never the value, and nothing is contacted', async () => {
    const r = await runCli(['poll'], { OKTA_ORG_URL: 'https://127.0.0.1:1', OKTA_API_TOKEN: 'FAKE-okta-api-token-for-tests', DATABASE_URL: 'postgres://otw:FAKE-db-pass@127.0.0.1:1' }, { cwd: tmpDir(), timeoutMs: 30_000 });
    assert.equal(r.code, 78, r.stdout + r.stderr);
    assert.equal(r.stderr.trim(), 'okta-token-watch: configuration error: DATABASE_URL names no database: write postgresql://USER:PASSWORD@HOST:5432/DATABASE.');
  });

  test('when check cannot reach the PostgreSQL of DATABASE_URL, then the database is one FAIL line without the password and the other checks still run', async () => {
    const r = await runCli(
      ['check'],
      { OKTA_ORG_URL: 'http://127.0.0.1:1', OKTA_API_TOKEN: 'FAKE-okta-api-token-for-tests', NOTIFIERS: 'console', DATABASE_URL: `postgresql://otw:${encodeURIComponent(PASSWORD)}@127.0.0.1:1/otw` },
      { cwd: tmpDir(), timeoutMs: 60_000 },
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAIL +database +DATABASE_URL postgresql:\/\/127\.0\.0\.1:1\/otw cannot be opened: .*ECONNREFUSED/m);
    assert.match(r.stdout, /^FAIL +okta /m, 'the Okta check still ran');
    assert.match(r.stdout, /^ok +notifier console /m, 'the notifier checks still ran');
    assert.ok(!(r.stdout + r.stderr).includes(PASSWORD) && !(r.stdout + r.stderr).includes(encodeURIComponent(PASSWORD)), 'never the password');
  });
});
