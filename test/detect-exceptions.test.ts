import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { parseConfig } from '../src/config';
import { cronMatches, parseCron, previousOccurrence } from '../src/detect/cron';
import { exceptionsStatus, matchExceptions, parseExceptions, type ExceptionSet } from '../src/detect/exceptions';
import { ConfigError } from '../src/errors';
import { makeEvent } from './fixtures/events';

const clock = new FakeClock(Date.parse('2026-11-28T12:00:00.000Z'));
const now = clock.now();

function set(yaml: string): ExceptionSet {
  const r = parseExceptions(yaml, 'yaml');
  assert.deepEqual(r.problems, [], 'the fixture file should be valid');
  return r.set!;
}

function problems(source: string, format: 'yaml' | 'json' = 'yaml'): string[] {
  const r = parseExceptions(source, format);
  assert.equal(r.set, null, 'the file should be refused');
  return r.problems;
}

describe('exception entries: each match field', () => {
  test('when the actor is given as a login in another case, then the exception matches the event actor', () => {
    const s = set('exceptions:\n  - reason: Terraform pipeline\n    actor: Dana.Admin@EXAMPLE.com\n');
    const m = matchExceptions(s, makeEvent(), now);
    assert.equal(m?.text, 'Terraform pipeline (exception #1: actor)');
    assert.equal(matchExceptions(s, makeEvent({ actor: { id: '00uother', alternateId: 'someone@example.com' } }), now), null);
  });

  test('when the actor is given as an id, then it matches that id exactly and not a case variant', () => {
    const s = set('exceptions:\n  - reason: by id\n    actor: 00u1a2b3c4d5e6f7g8h9\n');
    assert.ok(matchExceptions(s, makeEvent(), now));
    assert.equal(matchExceptions(s, makeEvent({ actor: { id: '00U1A2B3C4D5E6F7G8H9', alternateId: 'x@example.com' } }), now), null);
  });

  test('when tokenName is a glob with * and ?, then whole names match and others do not', () => {
    const s = set('exceptions:\n  - reason: Workflows\n    tokenName: "okta-workflows-*-v?"\n');
    const named = (name: string) => makeEvent({ target: [{ id: '00Tglob0000000000001', type: 'Token', displayName: name }] });
    assert.ok(matchExceptions(s, named('okta-workflows-sync-v2'), now));
    assert.ok(matchExceptions(s, named('okta-workflows--v9'), now));
    assert.equal(matchExceptions(s, named('okta-workflows-sync-v10'), now), null);
    assert.equal(matchExceptions(s, named('x-okta-workflows-sync-v2'), now), null);
    assert.equal(matchExceptions(s, named('OKTA-WORKFLOWS-sync-v2'), now), null, 'token names match case-sensitively');
    assert.equal(matchExceptions(s, makeEvent({ target: undefined }), now), null, 'no token, no tokenName match');
  });

  test('when tokenName has regular-expression characters, then they are literal', () => {
    const s = set('exceptions:\n  - reason: literal\n    tokenName: "a.b+(c)"\n');
    const named = (name: string) => makeEvent({ target: [{ type: 'Token', displayName: name }] });
    assert.ok(matchExceptions(s, named('a.b+(c)'), now));
    assert.equal(matchExceptions(s, named('aXbb(c)'), now), null);
  });

  test('when ip is an IPv4 CIDR, then addresses inside match and the first address outside does not', () => {
    const s = set('exceptions:\n  - reason: office\n    ip: 203.0.113.0/24\n');
    const from = (ip: string) => makeEvent({ client: { ipAddress: ip } });
    assert.ok(matchExceptions(s, from('203.0.113.0'), now));
    assert.ok(matchExceptions(s, from('203.0.113.255'), now));
    assert.ok(matchExceptions(s, from('::ffff:203.0.113.7'), now), 'IPv4-mapped IPv6 is compared as IPv4');
    assert.equal(matchExceptions(s, from('203.0.114.0'), now), null);
    assert.equal(matchExceptions(s, from('not an ip'), now), null);
  });

  test('when ip is an IPv6 CIDR or a single address, then matching follows the prefix', () => {
    const s = set('exceptions:\n  - reason: v6 range\n    ip: 2001:db8:abcd::/48\n  - reason: one v4\n    ip: 198.51.100.23\n');
    const from = (ip: string) => makeEvent({ client: { ipAddress: ip } });
    assert.match(matchExceptions(s, from('2001:db8:abcd:12::1'), now)!.text, /^v6 range/);
    assert.equal(matchExceptions(s, from('2001:db8:abce::1'), now), null);
    assert.match(matchExceptions(s, from('198.51.100.23'), now)!.text, /^one v4 \(exception #2: ip\)/);
    assert.equal(matchExceptions(s, from('198.51.100.24'), now), null);
  });

  test('when userAgent is a substring, then user agents containing it match', () => {
    const s = set('exceptions:\n  - reason: SDK\n    userAgent: okta-sdk-go/\n');
    const ua = (raw: string | undefined) => makeEvent({ client: { userAgent: raw === undefined ? undefined : { rawUserAgent: raw } } });
    assert.ok(matchExceptions(s, ua('okta-sdk-go/2.20.0 golang/go1.22.5'), now));
    assert.equal(matchExceptions(s, ua('Mozilla/5.0'), now), null);
    assert.equal(matchExceptions(s, ua(undefined), now), null);
  });

  test('when an entry has several match fields, then all of them must match', () => {
    const s = set('exceptions:\n  - reason: Workflows connector\n    tokenName: "okta-workflows-*"\n    ip: 203.0.113.0/24\n    userAgent: okta-sdk-go\n');
    const base = { target: [{ type: 'Token', displayName: 'okta-workflows-sync' }], client: { ipAddress: '203.0.113.40', userAgent: { rawUserAgent: 'okta-sdk-go/2.20.0' } } };
    assert.equal(matchExceptions(s, makeEvent(base), now)?.text, 'Workflows connector (exception #1: tokenName, ip, userAgent)');
    assert.equal(matchExceptions(s, makeEvent({ ...base, client: { ipAddress: '198.51.100.1', userAgent: { rawUserAgent: 'okta-sdk-go/2.20.0' } } }), now), null);
    assert.equal(matchExceptions(s, makeEvent({ ...base, target: [{ type: 'Token', displayName: 'other' }] }), now), null);
  });

  test('when an exception has expired by now, then it no longer matches and status says it expired', () => {
    const s = set('exceptions:\n  - reason: temporary\n    actor: dana.admin@example.com\n    expires: 2026-11-28\n  - reason: later\n    actor: dana.admin@example.com\n    expires: 2026-11-28T12:00:00.001Z\n');
    // The event happened before the expiry, but expiry is judged by now.
    const e = makeEvent({ published: '2026-11-27T10:00:00.000Z' });
    assert.match(matchExceptions(s, e, now)!.text, /^later/);
    assert.equal(matchExceptions(s, e, new Date('2026-11-28T12:00:00.001Z')), null, 'expiry instant itself no longer matches');
    const st = exceptionsStatus(s, now);
    assert.deepEqual(
      st.map((x) => [x.number, x.expired, x.expires]),
      [
        [1, true, '2026-11-28T00:00:00.000Z'],
        [2, false, '2026-11-28T12:00:00.001Z'],
      ],
    );
    assert.equal(st[0]!.matches, 'actor dana.admin@example.com');
  });
});

describe('maintenance windows', () => {
  const at = (published: string, actor = 'ops-admin@example.com') => makeEvent({ published, actor: { id: '00uops', alternateId: actor } });

  test('when a one-off window is given, then its start is inclusive and its end exclusive', () => {
    const s = set('maintenance:\n  - reason: migration weekend\n    start: 2026-12-05T00:00:00Z\n    end: 2026-12-07T00:00:00Z\n');
    assert.equal(matchExceptions(s, at('2026-12-04T23:59:59.999Z'), now), null);
    assert.equal(matchExceptions(s, at('2026-12-05T00:00:00.000Z'), now)?.text, 'migration weekend (maintenance #1: 2026-12-05T00:00:00.000Z to 2026-12-07T00:00:00.000Z)');
    assert.ok(matchExceptions(s, at('2026-12-06T23:59:59.999Z'), now));
    assert.equal(matchExceptions(s, at('2026-12-07T00:00:00.000Z'), now), null);
  });

  test('when a cron window recurs quarterly, then events from the occurrence up to (not including) occurrence+duration match', () => {
    const s = set('maintenance:\n  - reason: quarterly credential rotation\n    cron: "0 2 1 */3 *"\n    duration: 4h\n    actors: [ops-admin@example.com]\n');
    assert.equal(matchExceptions(s, at('2027-01-01T01:59:59.999Z'), now), null, 'just before the occurrence');
    assert.equal(matchExceptions(s, at('2027-01-01T02:00:00.000Z'), now)?.text, 'quarterly credential rotation (maintenance #1: cron 0 2 1 */3 * for 4h, actors ops-admin@example.com)');
    assert.ok(matchExceptions(s, at('2027-04-01T05:59:59.999Z'), now), 'April is also a quarter start');
    assert.equal(matchExceptions(s, at('2027-01-01T06:00:00.000Z'), now), null, 'the end is exclusive');
    assert.equal(matchExceptions(s, at('2027-02-01T03:00:00.000Z'), now), null, 'February is not in */3');
    assert.equal(matchExceptions(s, at('2027-01-01T03:00:00.000Z', 'someone@example.com'), now), null, 'other actors are not covered');
  });

  test('when the window is judged, then the event published time counts, not now', () => {
    const s = set('maintenance:\n  - reason: nightly\n    cron: "30 1 * * *"\n    duration: 30m\n');
    assert.ok(matchExceptions(s, at('2026-11-20T01:45:00.000Z'), new Date('2026-11-28T12:00:00.000Z')));
    assert.equal(matchExceptions(s, at('2026-11-20T12:00:00.000Z'), new Date('2026-11-21T01:45:00.000Z')), null);
  });

  test('when a window spans midnight, then the previous day occurrence still covers the early hours', () => {
    const s = set('maintenance:\n  - reason: saturday night\n    cron: "0 22 * * SAT"\n    duration: 6h\n');
    assert.ok(matchExceptions(s, at('2026-11-29T03:59:00.000Z'), now)); // Sunday 03:59, from Saturday 22:00
    assert.equal(matchExceptions(s, at('2026-11-29T04:00:00.000Z'), now), null);
  });

  test('when status lists windows, then a past one-off window is expired and a recurring one is not', () => {
    const s = set('maintenance:\n  - reason: past\n    start: 2026-01-01\n    end: 2026-01-02\n  - reason: weekly\n    cron: "0 3 * * 1"\n    duration: 1h\n');
    assert.deepEqual(exceptionsStatus(s, now).map((x) => [x.kind, x.reason, x.expired]), [
      ['maintenance', 'past', true],
      ['maintenance', 'weekly', false],
    ]);
  });
});

describe('cron matcher', () => {
  test('when day of month and day of week are both restricted, then either one matches (as in Vixie cron)', () => {
    const c = parseCron('0 0 13 * FRI');
    assert.ok(cronMatches(c, new Date('2026-11-13T00:00:00Z'))); // Friday 13th
    assert.ok(cronMatches(c, new Date('2026-11-20T00:00:00Z'))); // a Friday
    assert.ok(cronMatches(c, new Date('2026-12-13T00:00:00Z'))); // a Sunday, the 13th
    assert.ok(!cronMatches(c, new Date('2026-11-14T00:00:00Z')));
  });

  test('when 7 is used for Sunday and ranges have steps, then they expand correctly', () => {
    const c = parseCron('*/20 8-18/5 * JAN-MAR 7');
    assert.deepEqual([...c.minutes], [0, 20, 40]);
    assert.deepEqual([...c.hours], [8, 13, 18]);
    assert.deepEqual([...c.months], [1, 2, 3]);
    assert.deepEqual([...c.daysOfWeek], [0]);
  });

  test('when the previous occurrence is searched, then it is the latest one at or before the time and within the look-back', () => {
    const c = parseCron('15 3 * * *');
    assert.equal(previousOccurrence(c, new Date('2026-11-28T03:15:59Z'), new Date('2026-11-27T00:00:00Z'))?.toISOString(), '2026-11-28T03:15:00.000Z');
    assert.equal(previousOccurrence(c, new Date('2026-11-28T03:14:59Z'), new Date('2026-11-27T00:00:00Z'))?.toISOString(), '2026-11-27T03:15:00.000Z');
    assert.equal(previousOccurrence(c, new Date('2026-11-28T03:14:59Z'), new Date('2026-11-27T03:15:00Z')), null, 'the look-back bound is exclusive');
  });

  for (const bad of ['* * * *', '60 * * * *', '* 24 * * *', '* * 0 * *', '* * * 13 *', '* * * * 8', '*/0 * * * *', '5-1 * * * *', '* * * FOO *', '0 0 0 * * *']) {
    test(`when the expression is "${bad}", then it is refused`, () => {
      assert.throws(() => parseCron(bad));
    });
  }
});

describe('validating the exceptions file', () => {
  test('when the file is the documented example, then it loads with two exceptions and two windows', () => {
    const s = set(fs.readFileSync(path.join(__dirname, 'fixtures', 'exceptions.yaml'), 'utf8'));
    assert.equal(s.exceptions.length, 2);
    assert.equal(s.maintenance.length, 2);
  });

  test('when an entry has no match field, then it is refused with its line', () => {
    const p = problems('exceptions:\n  - reason: fine\n    actor: a@example.com\n  - reason: matches everything\n    expires: 2027-01-01\n');
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^EXCEPTIONS_FILE line 4: exception #2 has no match field/);
  });

  test('when a tokenName is longer than 200 characters, then it is refused with its line; 200 are accepted', () => {
    const long = '*' + '?'.repeat(2000) + 'b*';
    const p = problems(`exceptions:\n  - reason: fine\n    actor: a@example.com\n  - reason: slow\n    tokenName: "${long}"\n`);
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^EXCEPTIONS_FILE line 5: exception #2: tokenName is longer than 200 characters; shorten the pattern/);
    // Counted in characters: 199 emoji (two code units each) and a star are 200.
    const atLimit = set(`exceptions:\n  - reason: ok\n    tokenName: "${'😀'.repeat(199)}*"\n`);
    assert.equal(atLimit.exceptions.length, 1);
  });

  test('when an entry has a misspelt key, then it is refused with the line, the key and a hint', () => {
    const p = problems('exceptions:\n  - reason: typo\n    actor: a@example.com\n    tokename: "x-*"\n');
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^EXCEPTIONS_FILE line 4: exception #1 has an unknown key "tokename" \(did you mean tokenName\?\)/);
  });

  test('when a reason is missing, then the entry is refused', () => {
    const p = problems('exceptions:\n  - actor: a@example.com\n');
    assert.match(p[0]!, /^EXCEPTIONS_FILE line 2: exception #1 needs a reason/);
  });

  test('when values are malformed, then each problem is one sentence with its own line', () => {
    const p = problems(
      [
        'exceptions:',
        '  - reason: bad ip',
        '    ip: 203.0.113.0/33',
        '  - reason: bad date',
        '    actor: a@example.com',
        '    expires: next tuesday',
        '  - reason: star only',
        '    tokenName: "*"',
        '  - reason: whole internet',
        '    ip: 0.0.0.0/0',
        'maintenance:',
        '  - reason: no duration',
        '    cron: "0 2 * * *"',
        '  - reason: bad cron',
        '    cron: "0 25 * * *"',
        '    duration: 1h',
        '  - reason: backwards',
        '    start: 2026-12-07T00:00:00Z',
        '    end: 2026-12-05T00:00:00Z',
        '  - reason: local time',
        '    start: 2026-12-05T00:00:00',
        '    end: 2026-12-06T00:00:00Z',
        '  - reason: too long',
        '    cron: "0 0 * * *"',
        '    duration: 40d',
        'surprise: true',
      ].join('\n'),
    );
    const lines = p.map((x) => Number(/line (\d+)/.exec(x)?.[1]));
    assert.deepEqual(lines, [3, 6, 8, 10, 12, 15, 19, 21, 25, 26]);
    assert.ok(p.every((x) => x.startsWith('EXCEPTIONS_FILE line ') && x.endsWith('.')));
  });

  test('when the YAML has a syntax error or a duplicate key, then the line of the problem is given', () => {
    assert.match(problems('exceptions:\n  - reason: a\n    actor: x\n    actor: y\n')[0]!, /^EXCEPTIONS_FILE line 4: a key appears twice/);
    assert.match(problems('exceptions:\n  - reason: a\n   actor: [x\n')[0]!, /^EXCEPTIONS_FILE line \d+: the file is not valid YAML/);
  });

  test('when the JSON has a syntax error, then the line is computed from the parser position', () => {
    const p = problems('{\n  "exceptions": [\n    {"reason": "x", "actor": "a"},\n  ]\n}\n', 'json');
    assert.match(p[0]!, /^EXCEPTIONS_FILE line 4: the file is not valid JSON/);
  });

  test('when a JSON file is valid, then its semantic problems also carry line numbers', () => {
    const p = problems('{\n  "exceptions": [\n    {"reason": "x"}\n  ]\n}\n', 'json');
    assert.match(p[0]!, /^EXCEPTIONS_FILE line 3: exception #1 has no match field/);
    const ok = parseExceptions('{"exceptions": [{"reason": "x", "ip": "2001:db8::/32"}]}', 'json');
    assert.equal(ok.set?.exceptions.length, 1);
  });

  test('when the file uses YAML aliases, then it is refused', () => {
    assert.match(problems('exceptions:\n  - &e\n    reason: a\n    actor: x\n  - *e\n')[0]!, /aliases/);
  });

  test('when the file is empty or lists nothing, then there are no exceptions', () => {
    assert.deepEqual(parseExceptions('', 'yaml').set, { exceptions: [], maintenance: [] });
    assert.deepEqual(parseExceptions('exceptions:\nmaintenance: []\n', 'yaml').set, { exceptions: [], maintenance: [] });
  });
});

describe('EXCEPTIONS_FILE in the settings', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otw-detect-'));
  const env = (extra: Record<string, string>) => ({ OKTA_ORG_URL: 'https://acme.okta.com', OKTA_API_TOKEN: 'token-value-for-tests', ...extra });

  test('when the file is bad, then start-up fails with a ConfigError naming EXCEPTIONS_FILE and the line, never the path', () => {
    const file = path.join(dir, 'secret-name-exceptions.yaml');
    fs.writeFileSync(file, 'exceptions:\n  - reason: ok\n    actor: a@example.com\n  - reason: empty matcher\n');
    assert.throws(
      () => parseConfig(env({ EXCEPTIONS_FILE: file }), { requireOkta: true }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 1);
        assert.match(err.problems[0]!, /^EXCEPTIONS_FILE line 4: /);
        assert.ok(!err.message.includes('secret-name'));
        return true;
      },
    );
  });

  test('when the file does not exist, then start-up fails naming the path and saying it does not exist', () => {
    const missing = path.join(dir, 'missing.yaml');
    assert.throws(() => parseConfig(env({ EXCEPTIONS_FILE: missing }), { requireOkta: true }), new RegExp(`EXCEPTIONS_FILE "${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" does not exist: check the path`));
  });

  test('when a relative path does not exist, then the sentence says it was read from the working directory, and which', () => {
    assert.throws(
      () => parseConfig(env({ EXCEPTIONS_FILE: 'no-such-dir/exceptions.yaml' }), { requireOkta: true }),
      (err: Error) => err.message.includes(`EXCEPTIONS_FILE "no-such-dir/exceptions.yaml" does not exist (a relative path, read from the working directory ${JSON.stringify(process.cwd())}): check the path.`),
    );
  });

  test('when the file is good and the lookup settings are given, then the detect slice holds them', () => {
    const file = path.join(dir, 'ok.json');
    fs.writeFileSync(file, JSON.stringify({ exceptions: [{ reason: 'r', actor: 'a@example.com' }] }));
    const c = parseConfig(env({ EXCEPTIONS_FILE: file, TOKEN_LOOKUP: 'false', TOKEN_LOOKUP_TIMEOUT: '2s', TOKEN_LOOKUP_MAX: '5' }), { requireOkta: true });
    assert.equal(c.detect.exceptions.exceptions.length, 1);
    assert.deepEqual(c.detect.tokenLookup, { mode: 'off', timeoutMs: 2000, maxPerPage: 5 });
  });

  test('when no detection settings are given, then the defaults are every outcome, no exceptions and lookup auto with 5s', () => {
    const c = parseConfig(env({}), { requireOkta: true });
    assert.equal(c.detect.alertOutcomes, null);
    assert.equal(c.detect.exceptionsFile, null);
    assert.deepEqual(c.detect.tokenLookup, { mode: 'auto', timeoutMs: 5000, maxPerPage: 20 });
  });

  test('when the lookup settings are wrong, then each is named in its own sentence', () => {
    assert.throws(
      () => parseConfig(env({ TOKEN_LOOKUP: 'maybe', TOKEN_LOOKUP_TIMEOUT: '2m' }), { requireOkta: true }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 2 && /^TOKEN_LOOKUP must/.test(err.problems[0]!) && /^TOKEN_LOOKUP_TIMEOUT must/.test(err.problems[1]!),
    );
  });
});
