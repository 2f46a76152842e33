/**
 * The exceptions file's `tokenName` wildcard: `*` is any run of characters (also none, also line
 * breaks), `?` exactly one character, everything else literal; the whole name must match, case
 * sensitively. A "character" is a Unicode code point, so `?` takes a whole emoji.
 *
 * No regular expression is involved: token names come from Okta events, so they are attacker
 * chosen and unbounded, and a backtracking engine needs exponential time for patterns like
 * `*a*a*a*b`. The pattern is split at its stars into segments; the first segment must match at
 * the start, the last at the end, and each middle one is taken at its leftmost place after the
 * previous one. Leftmost is always safe (a later place leaves less room for the rest), so nothing
 * is ever retried. A segment without `?` is searched with Knuth-Morris-Pratt, and a segment with
 * `?` with Shift-And (all of its prefixes tracked as bits, 32 to a machine word); each search
 * starts where the previous segment ended, so a pattern costs O(name x (1 + pattern / 32)) steps
 * whatever its shape. The exceptions file caps a pattern at MAX_GLOB_PATTERN_CHARS characters, so
 * a check is linear in the name: a trial-and-compare search for a 2,000-`?` segment took 1.2 s
 * on a 100,000-character name.
 */

/** The longest tokenName wildcard the exceptions file accepts, in characters (code points). */
export const MAX_GLOB_PATTERN_CHARS = 200;

/** A compiled wildcard: `test(name)` is true when the whole name matches. */
export interface GlobMatcher {
  readonly source: string;
  test(name: string): boolean;
}

/** `?` inside a compiled segment. */
const ANY = -1;

interface Segment {
  /** Code points, ANY for `?`. */
  points: number[];
  /** KMP failure table when the segment has no `?`; null otherwise. */
  failure: number[] | null;
  /** Shift-And masks when the segment has a `?`; null otherwise. */
  masks: ShiftAndMasks | null;
}

/** For each code point, the bit set of the segment positions it can stand at (`?` takes any). */
interface ShiftAndMasks {
  words: number;
  /** The positions of `?`: the mask of a code point the segment does not name. */
  any: Uint32Array;
  byPoint: Map<number, Uint32Array>;
}

type Points = ArrayLike<number>;

/** The string's code points (a lone surrogate is one code point, as in a `u` regular expression). */
function codePoints(s: string): Int32Array {
  const out = new Int32Array(s.length);
  let n = 0;
  for (let i = 0; i < s.length; n++) {
    const cp = s.codePointAt(i)!;
    out[n] = cp;
    i += cp > 0xffff ? 2 : 1;
  }
  return n === s.length ? out : out.subarray(0, n);
}

/** Compiles a wildcard pattern. Never throws; any text is a valid pattern. */
export function compileGlob(pattern: string): GlobMatcher {
  const segments: Segment[] = pattern.split('*').map((part) => {
    const points = Array.from(codePoints(part), (cp) => (cp === 0x3f /* ? */ ? ANY : cp));
    const wild = points.includes(ANY);
    return { points, failure: wild ? null : failureTable(points), masks: wild ? shiftAndMasks(points) : null };
  });
  const minPoints = segments.reduce((n, s) => n + s.points.length, 0);
  return {
    source: pattern,
    test(name: string): boolean {
      if (typeof name !== 'string') return false;
      // A name with fewer code units than the pattern needs code points cannot match (a code
      // point is one or two units): a short name is refused without converting it.
      if (name.length < minPoints) return false;
      const s = codePoints(name);
      if (segments.length === 1) return s.length === minPoints && matchesAt(segments[0]!.points, s, 0);
      const first = segments[0]!;
      const last = segments[segments.length - 1]!;
      if (s.length < minPoints) return false;
      if (!matchesAt(first.points, s, 0)) return false;
      const end = s.length - last.points.length;
      if (!matchesAt(last.points, s, end)) return false;
      let pos = first.points.length;
      for (let k = 1; k < segments.length - 1; k++) {
        const seg = segments[k]!;
        const at = find(seg, s, pos, end);
        if (at < 0) return false;
        pos = at + seg.points.length;
      }
      return pos <= end;
    },
  };
}

function matchesAt(seg: number[], s: Points, at: number): boolean {
  if (at < 0 || at + seg.length > s.length) return false;
  for (let j = 0; j < seg.length; j++) {
    const p = seg[j]!;
    if (p !== ANY && p !== s[at + j]) return false;
  }
  return true;
}

/** The leftmost index in [from, end - length] where the segment matches, or -1. */
function find(seg: Segment, s: Points, from: number, end: number): number {
  const p = seg.points;
  const n = p.length;
  if (n === 0) return from;
  if (seg.failure) {
    const f = seg.failure;
    let k = 0;
    for (let i = from; i < end; i++) {
      while (k > 0 && s[i] !== p[k]) k = f[k - 1]!;
      if (s[i] === p[k]) k++;
      if (k === n) return i - n + 1;
    }
    return -1;
  }
  return shiftAnd(seg.masks!, n, s, from, end);
}

function shiftAndMasks(p: number[]): ShiftAndMasks {
  const words = Math.ceil(p.length / 32);
  const any = new Uint32Array(words);
  for (let j = 0; j < p.length; j++) if (p[j] === ANY) any[j >>> 5]! |= 1 << (j & 31);
  const byPoint = new Map<number, Uint32Array>();
  for (let j = 0; j < p.length; j++) {
    const cp = p[j]!;
    if (cp === ANY) continue;
    let m = byPoint.get(cp);
    if (!m) byPoint.set(cp, (m = any.slice()));
    m[j >>> 5]! |= 1 << (j & 31);
  }
  return { words, any, byPoint };
}

/**
 * The leftmost match of an n-point segment in [from, end) by Shift-And: bit j of the state says
 * the last j + 1 code points match the segment's first j + 1; one pass, no position retried.
 */
function shiftAnd(masks: ShiftAndMasks, n: number, s: Points, from: number, end: number): number {
  const { words, any, byPoint } = masks;
  const state = new Uint32Array(words);
  const top = (n - 1) >>> 5;
  const topBit = 1 << ((n - 1) & 31);
  for (let i = from; i < end; i++) {
    const mask = byPoint.get(s[i]!) ?? any;
    // Shift the whole multi-word state left by one, feeding a 1 in (a match may start here).
    let carry = 1;
    for (let w = 0; w < words; w++) {
      const v = state[w]!;
      state[w] = ((v << 1) | carry) & mask[w]!;
      carry = v >>> 31;
    }
    if ((state[top]! & topBit) !== 0) return i - n + 1;
  }
  return -1;
}

/** KMP: for each prefix, the length of its longest proper prefix that is also a suffix. */
function failureTable(p: number[]): number[] {
  const f = new Array<number>(p.length).fill(0);
  for (let i = 1, k = 0; i < p.length; i++) {
    while (k > 0 && p[i] !== p[k]) k = f[k - 1]!;
    if (p[i] === p[k]) k++;
    f[i] = k;
  }
  return f;
}
