import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadEnv, parseConfig } from '../src/config';
import { OWN_PREFIXES, SETTINGS } from '../src/settings';
import { ROOT } from './helpers/harness';

/** Every setting name, from the schema (the compiler holds the code to it). */
function settingsInCode(): string[] {
  return [...SETTINGS].sort();
}

describe('documentation stays true', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');

  test('when the code reads a setting, then the README and .env.example document it', () => {
    const names = settingsInCode();
    assert.ok(names.length > 30, `found ${names.length} settings`);
    // No stale schema entry: each name is read by the settings code.
    const code = ['src/config.ts', 'src/notify/config.ts', 'src/detect/config.ts', 'src/hook/config.ts', 'src/respond/config.ts', 'src/slack-app/config.ts'].map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8')).join('\n');
    for (const n of names) assert.ok(code.includes(`'${n}'`), `the code reads ${n}`);
    for (const n of names) {
      assert.ok(readme.includes(`\`${n}\``), `README documents ${n}`);
      assert.ok(new RegExp(`^#? ?${n}=`, 'm').test(example), `.env.example lists ${n}`);
    }
  });

  test('when .env.example shows a name, commented out or not, then it is a setting', () => {
    for (const [, n] of example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)) assert.ok((SETTINGS as readonly string[]).includes(n!), `${n} is a setting`);
  });

  test('when the program treats a prefix as its own, then the README lists it', () => {
    for (const p of OWN_PREFIXES) assert.ok(readme.includes(`\`${p}\``), `README lists the prefix ${p}`);
  });

  test('when .env.example is copied with credentials filled in, then it parses with the documented defaults', () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'otw-doc-'));
    const file = path.join(dir, '.env');
    fs.writeFileSync(file, example.replace(/^OKTA_API_TOKEN=$/m, 'OKTA_API_TOKEN=FAKE-okta-api-token-for-tests'));
    const config = parseConfig(loadEnv(file, {}), { requireOkta: true });
    assert.equal(config.poll.schedule, '*/5 * * * *');
    assert.deepEqual(config.notify.enabled, ['console']);
  });

  test('when the README names a command, then the CLI knows it', () => {
    const cli = fs.readFileSync(path.join(ROOT, 'src', 'cli.ts'), 'utf8');
    const commands = new Set([...readme.matchAll(/(?:`|npx )okta-token-watch ([a-z][a-z-]+)/g)].map((m) => m[1]!).filter((c) => !['demo-output'].includes(c)));
    for (const c of commands) assert.ok(cli.includes(`case '${c}'`), `the CLI has the "${c}" command`);
  });

  test('when the README shows the test command, then it is the one .ci/run runs', () => {
    const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
    assert.match(readme, /npm test/);
    assert.match(ci, /^npm test$/m);
    assert.match(ci, /^npm ci/m);
    // Every other command CI runs is one the README tells developers about.
    for (const [line] of ci.matchAll(/^npm run .+$/gm)) assert.ok(readme.includes(line), `the README shows "${line}"`);
    assert.match(ci, /^npm run soak -- --short$/m);
    assert.match(ci, /^npm run bench -- --smoke$/m);
  });

  test('when the README shows the systemd steps, then they install the env file where the unit reads it, and the unit reads it with --env-file', () => {
    const unit = fs.readFileSync(path.join(ROOT, 'deploy', 'okta-token-watch.service'), 'utf8');
    assert.doesNotMatch(unit, /^EnvironmentFile=/m, 'systemd never parses the env file');
    const exec = /^ExecStart=.* run --env-file (\S+)$/m.exec(unit);
    assert.ok(exec, 'the unit passes --env-file to run');
    const steps = readme.slice(readme.indexOf('### Running it under systemd'));
    const install = / \.env (\S+)\n/.exec(steps);
    assert.equal(install?.[1], exec[1], 'the README installs .env where the unit reads it');
    // `.env` is installed before the first `cd`, from the clone where it was created.
    assert.ok(steps.indexOf(install![0]) < steps.indexOf('\ncd /opt/okta-token-watch'), 'the env file is installed from the clone');
  });
});
