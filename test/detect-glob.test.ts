import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileGlob } from '../src/detect/glob';
import { matchExceptions, parseExceptions } from '../src/detect/exceptions';
import { makeEvent } from './fixtures/events';
import { prng } from './helpers/random';

/** What the exceptions file's wildcard meant before the matcher: the reference semantics. */
function reference(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '[\\s\\S]*';
    else if (ch === '?') re += '[\\s\\S]';
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'u');
}

const HUGE = 100_000;

describe('tokenName wildcards', () => {
  test('when patterns and names are random over a small alphabet, then the matcher agrees with the anchored regular expression', () => {
    const rnd = prng(20261202);
    // Surrogate pairs, a lone surrogate, a line break and regex syntax: every place code points and code units differ.
    const patternAlphabet = ['a', 'b', '-', '*', '*', '?', '.', '😀', '\n'];
    const nameAlphabet = ['a', 'b', '-', '.', '😀', '\n', '\uD800', 'A', '*', '?'];
    const pick = (alphabet: string[], max: number): string => {
      let s = '';
      const n = Math.floor(rnd() * (max + 1));
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)]!;
      return s;
    };
    let matched = 0;
    for (let i = 0; i < 20_000; i++) {
      const p = pick(patternAlphabet, 7);
      const name = pick(nameAlphabet, 9);
      const want = reference(p).test(name);
      assert.equal(compileGlob(p).test(name), want, `pattern ${JSON.stringify(p)} against ${JSON.stringify(name)}`);
      if (want) matched++;
    }
    assert.ok(matched > 500, `the random cases should include many matches (got ${matched})`);
  });

  test('when segments with ? are longer than a machine word, then the matcher still agrees with the anchored regular expression', () => {
    const rnd = prng(20261203);
    const pick = (alphabet: string[], n: number): string => {
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)]!;
      return s;
    };
    let matched = 0;
    for (let i = 0; i < 3000; i++) {
      // Segments of 20 to 140 code points, mostly ?: the state spans one to five 32-bit words.
      const segments = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(['?', '?', '?', 'a', 'b', '😀'], 20 + Math.floor(rnd() * 120)));
      const p = (rnd() < 0.5 ? '*' : '') + segments.join('*') + (rnd() < 0.5 ? '*' : '');
      // A name the pattern matches (each ? and * filled at random), then one code point changed half the time.
      const points = Array.from(p).flatMap((c) => (c === '?' ? [pick(['a', 'b', '😀'], 1)] : c === '*' ? Array.from(pick(['a', 'b', '😀'], Math.floor(rnd() * 40))) : [c]));
      if (rnd() < 0.5 && points.length > 0) points[Math.floor(rnd() * points.length)] = pick(['a', 'b', '😀'], 1);
      const name = points.join('');
      const want = reference(p).test(name);
      assert.equal(compileGlob(p).test(name), want, `pattern ${JSON.stringify(p)} against ${JSON.stringify(name)}`);
      if (want) matched++;
    }
    assert.ok(matched > 1000 && matched < 2900, `the random cases should include many matches and misses (got ${matched} of 3000)`);
  });

  test('when 2,000 ? meet a 100,000-character name, then the answers are right', () => {
    const p = compileGlob('*' + '?'.repeat(2000) + 'b*');
    assert.equal(p.test('a'.repeat(HUGE)), false);
    assert.equal(p.test('a'.repeat(HUGE - 1) + 'b'), true);
    assert.equal(p.test('b' + 'a'.repeat(HUGE - 1)), false);
    assert.equal(p.test('a'.repeat(2000) + 'b'), true);
    assert.equal(p.test('a'.repeat(1999) + 'b'), false);
  });

  test('when the pattern is * and ? only in places, then edges behave like the regular expression', () => {
    const cases: Array<[string, string, boolean]> = [
      ['a*', 'a', true],
      ['*a', '', false],
      ['a*a', 'a', false],
      ['a*a', 'aa', true],
      ['?', '😀', true],
      ['??', '😀', false],
      ['a?c', 'a\nc', true],
      ['*x*', 'line one\nx\nline three', true],
      ['ab*ba', 'aba', false],
      ['*-prod', 'svc-prod', true],
      ['*-prod', 'svc-Prod', false],
      ['a\\*', 'a\\bcd', true],
      ['[ab]', 'a', false],
      ['[ab]', '[ab]', true],
    ];
    for (const [p, name, want] of cases) {
      assert.equal(compileGlob(p).test(name), want, `${JSON.stringify(p)} vs ${JSON.stringify(name)}`);
      assert.equal(reference(p).test(name), want, `reference: ${JSON.stringify(p)} vs ${JSON.stringify(name)}`);
    }
  });

  test('when a 100,000-character name meets the backtracking worst cases, then the answers are right', () => {
    const as = 'a'.repeat(HUGE);
    assert.equal(compileGlob('*a*a*a*b').test(as), false);
    assert.equal(compileGlob('*a*a*a*b').test(as + 'b'), true);
    const dashes = 'x-'.repeat(HUGE / 2);
    assert.equal(compileGlob('*-*-*-prod').test(dashes), false);
    assert.equal(compileGlob('*-*-*-prod').test(dashes + 'prod'), true);
    const stars = '*a'.repeat(50) + '*b';
    assert.equal(compileGlob(stars).test(as), false);
    assert.equal(compileGlob(stars).test(as + 'b'), true);
    assert.equal(compileGlob('*aaaaaaaaaaaaaaaaaaab*').test(as), false);
    assert.equal(compileGlob('*?a?a?a?b').test(as), false);
    assert.equal(compileGlob('*?a?a?a?b').test('c'.repeat(HUGE) + 'xaxaxaxb'), true);
  });

  test('when an exception has a worst-case tokenName and the event a 100,000-character name, then matchExceptions answers correctly', () => {
    const r = parseExceptions('exceptions:\n  - reason: rotation\n    tokenName: "*a*a*a*b"\n  - reason: prod\n    tokenName: "*-*-*-prod"\n', 'yaml');
    assert.deepEqual(r.problems, []);
    const named = (name: string) => makeEvent({ target: [{ id: '00Tglob0000000000001', type: 'Token', displayName: name }] });
    const now = new Date('2026-11-28T12:00:00.000Z');
    assert.equal(matchExceptions(r.set!, named('a'.repeat(HUGE)), now), null);
    assert.equal(matchExceptions(r.set!, named('x-'.repeat(HUGE / 2)), now), null);
    assert.equal(matchExceptions(r.set!, named('x-'.repeat(HUGE / 2) + 'prod'), now)?.text, 'prod (exception #2: tokenName)');
  });
});
