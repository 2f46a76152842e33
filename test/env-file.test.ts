import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEnv } from 'node:util';
import { parseEnvFile } from '../src/env-file';

function values(text: string): Record<string, string> {
  const r = parseEnvFile(text, '.env');
  assert.deepEqual(r.problems, []);
  return Object.fromEntries(r.entries.map((e) => [e.name, e.value]));
}

describe('env file syntax', () => {
  test('when a value holds #, then only a # after a blank starts a comment (unlike Node\'s parser)', () => {
    const text = 'WEBHOOK_SECRET=abc#def\nSLACK_CHANNEL=#security\nSMTP_PORT=587   # 465 with SMTP_SECURE\nSMTP_USER= # nobody\n';
    assert.deepEqual(values(text), { WEBHOOK_SECRET: 'abc#def', SLACK_CHANNEL: '#security', SMTP_PORT: '587', SMTP_USER: '' });
    // The difference this parser exists for: Node cuts an unquoted value at any #.
    assert.equal(parseEnv(text).WEBHOOK_SECRET, 'abc');
  });

  test('when values are quoted, then double quotes know \\", \\\\ and \\n, single quotes are literal, and both may span lines', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----';
    const text = [
      'A="x # not a comment" # a comment',
      "B='c:\\path\\n $HOME'",
      'C="say \\"hi\\" \\\\ \\n end"',
      `OKTA_PRIVATE_KEY="${pem}"`,
      'D=  spaced value  ',
      'E=$HOME',
    ].join('\n');
    assert.deepEqual(values(text), { A: 'x # not a comment', B: 'c:\\path\\n $HOME', C: 'say "hi" \\ \n end', OKTA_PRIVATE_KEY: pem, D: 'spaced value', E: '$HOME' });
  });

  test('when the file has CRLF line ends, a byte order mark, export prefixes and comments, then they are ignored', () => {
    const text = '\uFEFF# settings\r\n\r\nexport OKTA_ORG_URL=https://example.okta.com\r\n  # indented comment\r\nLOG_LEVEL="debug"\r\n';
    const r = parseEnvFile(text, '.env');
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.entries, [
      { name: 'OKTA_ORG_URL', value: 'https://example.okta.com', line: 3 },
      { name: 'LOG_LEVEL', value: 'debug', line: 5 },
    ]);
  });

  test('when a line cannot be parsed, then the problem names the line number and never repeats the line', () => {
    const secret = 'xoxb-FAKE-env-file-test-token';
    const text = ['OKTA_ORG_URL=https://example.okta.com', secret, `9BAD=${secret}`, `SLACK_BOT_TOKEN="${secret}" trailing`, `LOG_LEVEL=info`, `LOG_LEVEL=debug`, `WEBHOOK_SECRET="${secret}`, 'LOG_FORMAT=json'].join('\n');
    const r = parseEnvFile(text, '/etc/otw/env');
    assert.equal(r.problems.length, 5, r.problems.join('\n'));
    assert.match(r.problems[0]!, /^\/etc\/otw\/env line 2 is not NAME=value/);
    assert.match(r.problems[1]!, /^\/etc\/otw\/env line 3 does not start with a setting name/);
    assert.match(r.problems[2]!, /^\/etc\/otw\/env line 4: text follows the closing quote of SLACK_BOT_TOKEN/);
    assert.match(r.problems[3]!, /^\/etc\/otw\/env line 6 sets LOG_LEVEL again \(first set on line 5\)/);
    assert.match(r.problems[4]!, /^\/etc\/otw\/env line 7: the double quote that opens the value of WEBHOOK_SECRET is never closed/);
    for (const p of r.problems) assert.doesNotMatch(p, /xoxb|FAKE|trailing/);
  });
});
