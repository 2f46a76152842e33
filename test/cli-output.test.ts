import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { createLogger } from '../src/logger';
import { tokenEvent } from './helpers/events';
import { FakeOkta } from './helpers/fake-okta';
import { LineSink, runCli, tmpDir } from './helpers/harness';

const TOKEN = 'FAKE-okta-api-token-for-tests';

// Everything a hostile token name, actor or error body can try on a terminal or a log viewer:
// a screen clear, an OSC 8 hyperlink, an OSC 0 window title, a C1 CSI, a right-to-left override,
// a zero-width space and a left-to-right isolate.
const EVIL =
  'tok\x1b[2Jen \x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\ \x1b]0;pwned title\x07 \u009B31m red \u202Egnp.exe\u200B\u2066x';

// Any control, format or separator character other than the line break.
const RAW = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

function assertClean(label: string, text: string): void {
  const m = RAW.exec(text);
  assert.equal(m, null, `${label} wrote U+${m?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} raw: ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 60), (m?.index ?? 0) + 20))}`);
}

describe('terminal and log output', () => {
  test('when token names, actors and outcomes carry escape sequences and bidi characters, then poll, status, status --alerts and status --json write none of them raw', async () => {
    const fake = new FakeOkta({ token: TOKEN });
    const origin = await fake.start();
    const dir = tmpDir();
    const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: TOKEN, DB_PATH: path.join(dir, 'db.sqlite'), LOG_LEVEL: 'debug', ALERT_OUTCOMES: 'SUCCESS' };
    try {
      const at = new Date(Date.now() - 60_000).toISOString();
      fake.persist(
        tokenEvent(1, at, {
          actor: { id: `00u${EVIL}`, type: 'User', alternateId: `${EVIL}@example.com`, displayName: EVIL },
          target: [{ id: '00T1', type: 'Token', alternateId: 'unknown', displayName: EVIL }],
        }),
        tokenEvent(2, at, { outcome: { result: EVIL, reason: EVIL } }),
      );
      const poll = await runCli(['poll'], env);
      assert.equal(poll.code, 0, poll.stderr);
      assertClean('poll stdout', poll.stdout);
      assertClean('poll log', poll.stderr);
      assert.match(poll.stderr, /event suppressed/);

      const human = await runCli(['status'], env);
      assert.equal(human.code, 0, human.stderr);
      assertClean('status', human.stdout + human.stderr);
      // Made visible, not dropped: the reader sees that something odd was there.
      assert.match(human.stdout, /outcome TOK<U\+001B>\[2JEN/);

      const list = await runCli(['status', '--alerts'], env);
      assertClean('status --alerts', list.stdout + list.stderr);

      const json = await runCli(['status', '--json', '--alerts'], env);
      assert.equal(json.code, 0, json.stderr);
      assertClean('status --json', json.stdout + json.stderr);
      const parsed = JSON.parse(json.stdout) as { alerts: Array<{ token: { name: string }; actor: { login: string } }>; suppressedBy: Array<{ reason: string }> };
      // Escaped, not altered: JSON.parse gives back the exact strings.
      assert.equal(parsed.alerts[0]!.token.name, EVIL);
      assert.equal(parsed.alerts[0]!.actor.login, `${EVIL}@example.com`);
      assert.ok(parsed.suppressedBy.some((s) => s.reason.includes(EVIL.toUpperCase())));
    } finally {
      await fake.stop();
    }
  });

  test('when Okta error text carries escape sequences, then poll (JSON log), status, check and backfill (pretty log) write none of them raw', async () => {
    const fake = new FakeOkta({ token: TOKEN });
    const origin = await fake.start();
    const dir = tmpDir();
    const env = { OKTA_ORG_URL: origin, OKTA_API_TOKEN: TOKEN, DB_PATH: path.join(dir, 'db.sqlite'), OKTA_MAX_RETRIES: '1' };
    try {
      fake.fail(20, { kind: 'status', status: 400, errorCode: 'E0000001', errorSummary: EVIL });
      const poll = await runCli(['poll'], env);
      assert.equal(poll.code, 1);
      assertClean('poll', poll.stdout + poll.stderr);
      assert.match(poll.stderr, /tick failed/);

      const status = await runCli(['status'], env);
      assert.equal(status.code, 0, status.stderr);
      assertClean('status', status.stdout + status.stderr);
      assert.match(status.stdout, /error: .*tok<U\+001B>\[2Jen/);
      const json = await runCli(['status', '--json'], env);
      assertClean('status --json', json.stdout + json.stderr);
      assert.ok((JSON.parse(json.stdout) as { lastTick: { error: string } }).lastTick.error.includes(EVIL));

      const check = await runCli(['check'], env);
      assert.equal(check.code, 1);
      assertClean('check', check.stdout + check.stderr);
      assert.match(check.stdout, /FAIL .*tok<U\+001B>\[2Jen/);

      const backfill = await runCli(['backfill', '--since', '1h'], { ...env, LOG_FORMAT: 'pretty' });
      assert.equal(backfill.code, 1);
      assertClean('backfill', backfill.stdout + backfill.stderr);
      assert.match(backfill.stdout, /backfill failed: .*tok<U\+001B>\[2Jen/);
      assert.match(backfill.stderr, /backfill failed .*tok\\u001b\[2Jen/);
    } finally {
      await fake.stop();
    }
  });

  for (const format of ['json', 'pretty'] as const) {
    test(`when a ${format} log line carries hostile text in its message and fields, then it is written with no control, bidi or zero-width character raw`, () => {
      const sink = new LineSink();
      const logger = createLogger({ level: 'debug', format }, { stream: sink });
      logger.warn(`tick failed: ${EVIL}`, { tokenName: EVIL, actor: { login: EVIL, names: [EVIL] }, error: `${EVIL}\nsecond line` });
      logger.end();
      assert.equal(sink.lines.length, 1, 'one line per entry');
      assertClean(`${format} log`, sink.text);
      if (format === 'json') {
        const entry = JSON.parse(sink.lines[0]!) as { message: string; tokenName: string; actor: { names: string[] } };
        assert.equal(entry.message, `tick failed: ${EVIL}`);
        assert.equal(entry.tokenName, EVIL);
        assert.equal(entry.actor.names[0], EVIL);
      }
    });
  }
});
