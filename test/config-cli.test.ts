import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tokenEvent } from './helpers/events';
import { FakeOkta } from './helpers/fake-okta';
import { runCli, tmpDir } from './helpers/harness';
import { Receiver } from './helpers/receiver';
import { unknownEnvironmentNames } from '../src/settings';

const SECRET = 'ssws-FAKE-token-for-config-tests-0123';
const HOOK = 'https://hooks.slack.com/services/TFAKE/BFAKE/FAKE-webhook-path-for-tests';

async function withFake<T>(fn: (origin: string, fake: FakeOkta) => Promise<T>): Promise<T> {
  const fake = new FakeOkta({ token: SECRET });
  const origin = await fake.start();
  try {
    return await fn(origin, fake);
  } finally {
    await fake.stop();
  }
}

/**
 * Runs the CLI without root's power to ignore file modes: as root, under setpriv with the DAC
 * capabilities dropped from the bounding set (still uid 0, so it can read the checkout wherever CI
 * cloned it, but a 0555 directory it owns stops it as it would stop any user); otherwise as ourselves.
 */
const asOther = process.getuid?.() === 0 ? { wrap: (argv: string[]): string[] => ['setpriv', '--bounding-set', '-dac_override,-dac_read_search,-fowner', '--', ...argv] } : {};
/** Makes a directory read-only for `asOther` (no write bit, even for its owner). */
function readOnlyDir(dir: string): void {
  fs.chmodSync(dir, 0o555);
}

describe('settings: names that are not settings', () => {
  test('when the env file has a mistyped name, then every command exits 78 naming it and the closest setting, never the value', async () => {
    await withFake(async (origin, fake) => {
      const dir = tmpDir();
      const envFile = path.join(dir, 'otw.env');
      fs.writeFileSync(envFile, `OKTA_ORG_URL=${origin}\nOKTA_API_TOKEN=${SECRET}\nDB_PATH=${path.join(dir, 'db.sqlite')}\nSLACK_WEBHOOK_ULR=${HOOK}\n`);
      fake.persist(tokenEvent(1, new Date(Date.now() - 1000).toISOString()));
      for (const cmd of [['poll'], ['check', '--send']]) {
        const r = await runCli([...cmd, '--env-file', envFile], {});
        assert.equal(r.code, 78, `${cmd.join(' ')}: ${r.stdout}${r.stderr}`);
        assert.equal(r.stderr.trim(), `okta-token-watch: configuration error: SLACK_WEBHOOK_ULR (${envFile} line 4) is not a setting; did you mean SLACK_WEBHOOK_URL?`);
        assert.doesNotMatch(r.stdout + r.stderr, /hooks\.slack|FAKE|all checks passed/);
      }
      assert.equal(fake.logRequests().length, 0, 'nothing ran');
    });
  });

  test('when the process environment has a mistyped name, then run and poll warn, check fails that line, and look-alikes of other software are left alone', async () => {
    await withFake(async (origin) => {
      const dir = tmpDir();
      const env = {
        OKTA_ORG_URL: origin,
        OKTA_API_TOKEN: SECRET,
        DB_PATH: path.join(dir, 'db.sqlite'),
        SLACK_WEBHOOK_ULR: HOOK,
        // Not ours: the Okta SDK's own variables, and common names of other software.
        OKTA_CLIENT_TOKEN: 'other-tool',
        DB_HOST: 'db.internal',
        LOG_DIR: '/var/log',
        HEALTH_CHECK_URL: 'http://x',
      };
      const check = await runCli(['check', '--send'], env);
      assert.equal(check.code, 1, check.stdout + check.stderr);
      assert.match(check.stdout, /^FAIL +environment +SLACK_WEBHOOK_ULR is set in the environment but is not a setting; did you mean SLACK_WEBHOOK_URL\?$/m);
      assert.match(check.stdout, /^ok +okta /m, 'the other checks ran');
      assert.doesNotMatch(check.stdout, /all checks passed/);
      assert.doesNotMatch(check.stdout, /OKTA_CLIENT_TOKEN|DB_HOST|LOG_DIR|HEALTH_CHECK_URL/);
      assert.doesNotMatch(check.stdout + check.stderr, /hooks\.slack/);

      const poll = await runCli(['poll'], env);
      assert.equal(poll.code, 0, poll.stderr);
      const warning = poll.stderr.split('\n').filter((l) => l.includes('SLACK_WEBHOOK_ULR')).map((l) => JSON.parse(l) as { level: string; message: string });
      assert.deepEqual(warning.map((w) => [w.level, w.message]), [['warn', 'SLACK_WEBHOOK_ULR is set in the environment but is not a setting; did you mean SLACK_WEBHOOK_URL?']]);
    });
  });

  test('when the console is the only notifier by default, then check warns that alerts only reach stdout; NOTIFIERS=console silences it', async () => {
    await withFake(async (origin) => {
      const dir = tmpDir();
      const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: SECRET, DB_PATH: path.join(dir, 'db.sqlite') };
      const r = await runCli(['check', '--send'], env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^WARN +notifiers +no notifier is configured, so alerts only reach stdout/m);
      assert.doesNotMatch(r.stdout, /all checks passed/);
      assert.match(r.stdout, /checks passed with warnings/);
      const chosen = await runCli(['check'], { ...env, NOTIFIERS: 'console' });
      assert.equal(chosen.code, 0, chosen.stdout + chosen.stderr);
      assert.doesNotMatch(chosen.stdout, /WARN/);
      assert.match(chosen.stdout, /all checks passed/);
    });
  });
});

describe('settings: near misses in the process environment', () => {
  test('when NOTIFER or a lower-case near miss is in the environment, then check fails naming it and the setting; common variables of other software are not reported', async () => {
    await withFake(async (origin) => {
      const dir = tmpDir();
      const env = {
        OKTA_ORG_URL: origin,
        OKTA_API_TOKEN: SECRET,
        DB_PATH: path.join(dir, 'db.sqlite'),
        NOTIFIERS: 'console',
        // Two edits from NOTIFIERS, no prefix of ours; and the same in lower case, a transposition away from EMAIL_FROM.
        NOTIFER: 'slack',
        emial_from: 'otw@example.com',
        // Not ours: the system's, Node's, npm's and Kubernetes' own variables.
        NODE_ENV: 'production',
        npm_config_cache: '/tmp/npm',
        LANG: 'C.UTF-8',
        TERM: 'xterm',
        KUBERNETES_SERVICE_HOST: '10.0.0.1',
        OKTA_TOKEN_WATCH_SERVICE_HOST: '10.0.0.2',
        OKTA_TOKEN_WATCH_SERVICE_PORT: '9464',
        OKTA_TOKEN_WATCH_PORT: 'tcp://10.0.0.2:9464',
        WEBHOOK_PORT_443_TCP_ADDR: '10.0.0.3',
        DB_PASS: 'other-app',
      };
      const check = await runCli(['check'], env);
      assert.equal(check.code, 1, check.stdout + check.stderr);
      assert.match(check.stdout, /^FAIL +environment +NOTIFER is set in the environment but is not a setting; did you mean NOTIFIERS\?$/m);
      assert.match(check.stdout, /^FAIL +environment +emial_from is set in the environment but is not a setting; did you mean EMAIL_FROM\?$/m);
      assert.equal(check.stdout.split('\n').filter((l) => l.startsWith('FAIL')).length, 2, check.stdout);
      assert.doesNotMatch(check.stdout, /slack|otw@example/, 'never the value');
    });
  });

  test('when common variables of a host, a container, Node or npm are set, then none is reported; near misses in any case are', () => {
    const common = ['PATH', 'HOME', 'USER', 'SHELL', 'PWD', 'LANG', 'LC_ALL', 'TERM', 'TZ', 'HOSTNAME', 'NODE_ENV', 'NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'npm_lifecycle_event', 'npm_package_name', 'INIT_CWD', 'XDG_RUNTIME_DIR', 'SSH_AUTH_SOCK', 'INVOCATION_ID', 'JOURNAL_STREAM', 'NOTIFY_SOCKET', 'SYSTEMD_EXEC_PID', 'KUBERNETES_PORT', 'KUBERNETES_PORT_443_TCP', 'WEBHOOK_SERVICE_HOST', 'SLACK_BRIDGE_SERVICE_PORT_HTTP', 'http_proxy', 'HTTPS_PROXY', 'NO_PROXY', 'DB_HOST', 'DB_PASS', 'DB_USER', 'LOG_DIR', 'LOG_FILE', 'HEALTH_CHECK_URL', 'DATABASE_URL', 'AWS_REGION', 'GITHUB_TOKEN', 'CI', 'DEBUG', 'FORCE_COLOR', 'OKTA_CLIENT_TOKEN', 'OKTA_CLIENT_ORGURL'];
    assert.deepEqual(unknownEnvironmentNames(Object.fromEntries(common.map((n) => [n, 'x']))), []);
    for (const typo of ['NOTIFER', 'notifer', 'Notifiers', 'LOOKBAK', 'lookback', 'smtp_hots', 'SMTP_PASWORD', 'EMAIL_TOO', 'DELIVERY_INTERVALL', 'TOKEN_LOOKUPS']) {
      assert.equal(unknownEnvironmentNames({ [typo]: 'x' }).length, 1, typo);
    }
  });
});

describe('settings: files that cannot be read', () => {
  test('when EXCEPTIONS_FILE or OKTA_PRIVATE_KEY_FILE is missing or unreadable, then poll exits 78 naming the setting, the path and which it is', async () => {
    const dir = tmpDir();
    const locked = path.join(dir, 'locked.yaml');
    fs.writeFileSync(locked, 'exceptions: []\n');
    fs.chmodSync(locked, 0o000);
    const missing = path.join(dir, 'nowhere', 'key.pem');
    const base = { OKTA_ORG_URL: 'https://example.okta.com', DB_PATH: path.join(dir, 'db.sqlite') };
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ ...base, OKTA_API_TOKEN: SECRET, EXCEPTIONS_FILE: path.join(dir, 'missing.yaml') }, new RegExp(`EXCEPTIONS_FILE "${dir}/missing\\.yaml" does not exist: check the path\\.`)],
      [{ ...base, OKTA_API_TOKEN: SECRET, EXCEPTIONS_FILE: locked }, new RegExp(`EXCEPTIONS_FILE "${dir}/locked\\.yaml" exists but this user may not read it \\(permission denied\\)`)],
      [{ ...base, OKTA_CLIENT_ID: '0oa-test-client', OKTA_PRIVATE_KEY_FILE: missing }, new RegExp(`OKTA_PRIVATE_KEY_FILE "${dir}/nowhere/key\\.pem" does not exist: check the path\\.`)],
      [{ ...base, OKTA_CLIENT_ID: '0oa-test-client', OKTA_PRIVATE_KEY_FILE: locked }, new RegExp(`OKTA_PRIVATE_KEY_FILE "${dir}/locked\\.yaml" exists but this user may not read it`)],
    ];
    for (const [env, says] of cases) {
      const r = await runCli(['poll'], env, asOther);
      assert.equal(r.code, 78, r.stderr);
      assert.match(r.stderr, says);
      assert.doesNotMatch(r.stderr, new RegExp(SECRET));
    }
  });
});

describe('settings: an unsigned webhook', () => {
  test('when WEBHOOK_URL is set without WEBHOOK_SECRET, then check --send warns that receivers cannot verify; with a secret, it does not', async () => {
    await withFake(async (origin) => {
      const receiver = new Receiver();
      const url = `${await receiver.start()}/hook`;
      try {
        const dir = tmpDir();
        const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: SECRET, DB_PATH: path.join(dir, 'db.sqlite'), WEBHOOK_URL: url };
        const r = await runCli(['check', '--send'], env);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /^WARN +notifier webhook +WEBHOOK_SECRET is not set, so webhook requests go out unsigned and the receiver cannot verify/m);
        assert.doesNotMatch(r.stdout, /all checks passed/);
        const signed = await runCli(['check', '--send'], { ...env, WEBHOOK_SECRET: 'FAKE-webhook-secret-of-32-characters!' });
        assert.equal(signed.code, 0, signed.stdout + signed.stderr);
        assert.doesNotMatch(signed.stdout, /WARN/);
        assert.match(signed.stdout, /all checks passed/);
      } finally {
        await receiver.stop();
      }
    });
  });
});

describe('settings: an unusable DB_PATH', () => {
  test('when DB_PATH is a link, a pipe, a directory, under /proc or starts with ~, then poll exits 78 with one sentence and changes nothing it points at', async () => {
    const dir = tmpDir();
    const shared = path.join(dir, 'shared.txt');
    fs.writeFileSync(shared, 'someone else\'s file');
    fs.chmodSync(shared, 0o644);
    fs.symlinkSync(shared, path.join(dir, 'link.sqlite'));
    assert.equal(spawnSync('mkfifo', [path.join(dir, 'pipe')]).status, 0);
    fs.mkdirSync(path.join(dir, 'a-dir'), { mode: 0o755 });
    const cases: Array<[string, RegExp]> = [
      [path.join(dir, 'link.sqlite'), /it is a symbolic link/],
      [path.join(dir, 'pipe'), /it is not a regular file/],
      [path.join(dir, 'a-dir'), /it is a directory/],
      ['/proc/otw-no-such-dir/db.sqlite', /a directory on its path cannot be created there/],
      ['~/otw.sqlite', /DB_PATH starts with ~/],
    ];
    for (const [dbPath, said] of cases) {
      const r = await runCli(['poll'], { OKTA_ORG_URL: 'https://127.0.0.1:1', OKTA_API_TOKEN: SECRET, DB_PATH: dbPath }, { cwd: dir, timeoutMs: 30_000 });
      assert.equal(r.code, 78, `${dbPath}: ${r.stderr}`);
      assert.match(r.stderr, said);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.equal(fs.statSync(shared).mode & 0o777, 0o644, 'the linked file was not chmod-ed');
    assert.equal(fs.statSync(path.join(dir, 'a-dir')).mode & 0o777, 0o755, 'the directory was not chmod-ed');
    assert.equal(fs.existsSync(path.join(dir, '~')), false, 'no directory named ~');
  });

  test('when a file is in the way of the database directory, then poll exits 78 with one sentence and check fails that line but runs the others', async () => {
    await withFake(async (origin) => {
      const dir = tmpDir();
      fs.writeFileSync(path.join(dir, 'data'), 'a file, not a directory');
      for (const dbPath of [path.join(dir, 'data', 'otw.sqlite'), path.join(dir, 'data', 'sub', 'otw.sqlite')]) {
        const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: SECRET, DB_PATH: dbPath };
        const poll = await runCli(['poll'], env);
        assert.equal(poll.code, 78, poll.stderr);
        assert.equal(poll.stderr.trim(), `okta-token-watch: configuration error: DB_PATH ${dbPath} cannot be used: a file is in the way of its directory: ${path.join(dir, 'data')} is not a directory; move the file or choose another DB_PATH.`);
        const check = await runCli(['check'], env);
        assert.equal(check.code, 1, check.stdout + check.stderr);
        assert.match(check.stdout, /^FAIL +database +DB_PATH .* cannot be used: a file is in the way/m);
        assert.match(check.stdout, /^ok +okta /m);
      }
    });
  });

  test('when this user may not create the database directory, then poll exits 78 saying permission denied', async () => {
    const dir = tmpDir();
    readOnlyDir(dir);
    const dbPath = path.join(dir, 'data', 'otw.sqlite');
    const r = await runCli(['poll'], { OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: SECRET, DB_PATH: dbPath, HOME: dir }, asOther);
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr.trim(), /^okta-token-watch: configuration error: DB_PATH \S+ cannot be used: permission denied \(mkdir \S+\); give the user this program runs as write access to the directory, or choose another DB_PATH\.$/);
  });

  test('when the database is on a read-only file system or not writable for this user, then status reads it without writing it, and poll exits 78 saying so', async () => {
    await withFake(async (origin, fake) => {
      const dir = tmpDir();
      const data = path.join(dir, 'data');
      const dbPath = path.join(data, 'otw.sqlite');
      const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: SECRET, DB_PATH: dbPath };
      fake.persist(tokenEvent(1, new Date(Date.now() - 1000).toISOString()));
      assert.equal((await runCli(['poll'], env)).code, 0);
      assert.deepEqual(fs.readdirSync(data), ['otw.sqlite'], 'closed cleanly: no -wal or -shm left');
      fs.chmodSync(dbPath, 0o644);
      const before = fs.readFileSync(dbPath);
      // A read-only bind mount of the directory, in a private mount namespace (no privileges needed).
      const readOnly = (argv: string[]): string[] => ['unshare', '-rm', 'sh', '-c', `mount --bind -o ro "$0" "$0" && exec "$@"`, data, ...argv];
      assert.equal(spawnSync('unshare', ['-rm', 'true']).status, 0, 'unshare works here');

      const status = await runCli(['status'], env, { wrap: readOnly });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /events seen\s+1/);
      const json = await runCli(['status', '--json'], env, { wrap: readOnly });
      assert.equal((JSON.parse(json.stdout) as { eventsSeen: number }).eventsSeen, 1);

      const poll = await runCli(['poll'], env, { wrap: readOnly });
      assert.equal(poll.code, 78, poll.stderr);
      assert.match(poll.stderr, /^okta-token-watch: configuration error: DB_PATH \S+ cannot be used: the file system is read-only/);

      // Readable but not writable for this user: opened read-only, never chmod-ed, never changed.
      fs.chmodSync(dir, 0o755);
      readOnlyDir(data);
      const other = await runCli(['status'], env, asOther);
      assert.equal(other.code, 0, other.stderr);
      assert.match(other.stdout, /events seen\s+1/);
      assert.equal(fs.statSync(dbPath).mode & 0o777, 0o644);
      assert.deepEqual(fs.readFileSync(dbPath), before);
      assert.deepEqual(fs.readdirSync(data), ['otw.sqlite']);
    });
  });
});

describe('status: a database older than the program', () => {
  test('when the database lacks a migration, then status (read-only) says to run poll once, and changes nothing', async () => {
    const { openDatabase, migrationsDir } = await import('../src/store/db');
    const dir = tmpDir();
    const older = path.join(dir, 'migrations');
    fs.mkdirSync(older);
    const first = fs.readdirSync(migrationsDir()).filter((f) => /^\d{3}_.*\.sql$/.test(f)).sort()[0]!;
    fs.copyFileSync(path.join(migrationsDir(), first), path.join(older, first));
    const dbPath = path.join(dir, 'otw.sqlite');
    openDatabase(dbPath, { migrations: older }).close();
    const before = fs.readFileSync(dbPath);
    const r = await runCli(['status'], { DB_PATH: dbPath });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /DB_PATH \S+ is at schema version 1 and this program expects \d+: run "okta-token-watch poll" \(or start the daemon\) once to upgrade it/);
    assert.deepEqual(fs.readFileSync(dbPath), before);
  });
});

describe('settings: the OAuth private key', () => {
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const lines = rsa.trim().split('\n');
  // A key cut short in copying: the right BEGIN/END lines around half of the body.
  const damaged = [lines[0], ...lines.slice(1, 10), lines[lines.length - 1]].join('\n');

  for (const c of [
    { name: 'damaged', key: damaged, setting: 'OKTA_PRIVATE_KEY', says: /OKTA_PRIVATE_KEY cannot be read as a private key/ },
    { name: 'an EC key', key: ec, setting: 'OKTA_PRIVATE_KEY_FILE', says: /OKTA_PRIVATE_KEY_FILE is an EC key: the Okta SDK signs with RS256/ },
  ]) {
    test(`when the key is ${c.name}, then poll and check exit 78 at once naming ${c.setting}, never the key, and nothing is sent`, async () => {
      await withFake(async (origin, fake) => {
        const dir = tmpDir();
        const keyFile = path.join(dir, 'key.pem');
        fs.writeFileSync(keyFile, c.key, { mode: 0o600 });
        const env = {
          OKTA_ORG_URL: origin,
          OKTA_CLIENT_ID: '0oa1exampleclient123',
          OKTA_KEY_ID: 'kid-1',
          DB_PATH: path.join(dir, 'db.sqlite'),
          ...(c.setting === 'OKTA_PRIVATE_KEY' ? { OKTA_PRIVATE_KEY: c.key.replace(/\n/g, '\\n') } : { OKTA_PRIVATE_KEY_FILE: keyFile }),
        };
        for (const cmd of ['poll', 'check']) {
          const r = await runCli([cmd], env);
          assert.equal(r.code, 78, `${cmd}: ${r.stdout}${r.stderr}`);
          assert.match(r.stderr, c.says);
          assert.doesNotMatch(r.stdout + r.stderr, /cannot reach|MII|-----BEGIN/);
        }
        assert.equal(fake.logRequests().length + fake.tokenRequests.length, 0);
      });
    });
  }
});

describe('Okta client: a key the SDK cannot sign with', () => {
  test('when the key reaches the client anyway, then the first request fails at once as a setup error naming the setting, not as a network error', async () => {
    const { SdkOktaHttp } = await import('../src/okta/client');
    const { OktaRequestError } = await import('../src/okta/http');
    await withFake(async (origin, fake) => {
      const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const http = new SdkOktaHttp({
        orgUrl: origin,
        auth: { mode: 'oauth', clientId: '0oa1exampleclient123', privateKey: ec, keySetting: 'OKTA_PRIVATE_KEY_FILE', keyId: 'kid-1', scopes: ['okta.logs.read'] },
        requestTimeoutMs: 5000,
        maxRetries: 5,
        maxRateLimitWaitMs: 1000,
        rateLimitHeadroom: 0.1,
        pageLimit: 1000,
      });
      const err = await http.get('/api/v1/logs').then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof OktaRequestError, String(err));
      assert.equal(err.kind, 'auth-setup');
      assert.match(err.message, /^OKTA_PRIVATE_KEY_FILE cannot be used to sign the client assertion/);
      assert.doesNotMatch(err.message, /-----BEGIN|MII/);
      assert.equal(fake.tokenRequests.length + fake.logRequests().length, 0, 'nothing was sent');
    });
  });
});
