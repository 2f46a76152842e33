/**
 * The exceptions micro-benchmark: how long one `tokenName` wildcard takes against a hostile,
 * 100,000-character token name, for the patterns that made the old regular-expression matcher
 * backtrack for hours. Run in-process by bench.ts (group `exceptions`); the unit tests assert only
 * the answers, the time is reported here.
 */
import { performance } from 'node:perf_hooks';
import { compileGlob, MAX_GLOB_PATTERN_CHARS } from '../src/detect/glob';

/** One pattern against one name: the median and slowest of a few runs, and whether it matched. */
export interface ExceptionsBenchCase {
  pattern: string;
  name: string;
  chars: number;
  matched: boolean;
  /** The median run: the matcher's cost (the slowest run also carries GC pauses and a busy machine). */
  medianMs: number;
  maxMs: number;
}

/** A wildcard test whose median is slower than this on a 100,000-character name fails the bench. */
export const EXCEPTIONS_TARGET_MS = 50;

export function benchExceptions(opts: { chars: number; runs: number }): ExceptionsBenchCase[] {
  const n = opts.chars;
  const names: Record<string, string> = {
    'a x n': 'a'.repeat(n),
    'a x n + b': 'a'.repeat(n - 1) + 'b',
    '"x-" x n/2': 'x-'.repeat(n / 2),
    '"x-" x n/2 + prod': 'x-'.repeat(n / 2 - 2) + 'prod',
  };
  // The worst ? case is a long run of ? in a middle segment: at the exceptions file's cap
  // (MAX_GLOB_PATTERN_CHARS), and ten times past it (refused by the file, but compileGlob takes it).
  const patterns = [
    '*a*a*a*b', '*-*-*-prod', '*a'.repeat(50) + '*b', '*' + 'a'.repeat(40) + 'b*', '*?a?a?a?b', '?'.repeat(30) + '*b',
    '*' + '?'.repeat(MAX_GLOB_PATTERN_CHARS - 3) + 'b*', '*' + '?'.repeat(2000) + 'b*',
  ];
  const out: ExceptionsBenchCase[] = [];
  for (const pattern of patterns) {
    const glob = compileGlob(pattern);
    // One untimed pass first: the figure is the matcher's, not the JIT's first compile.
    for (const name of Object.values(names)) glob.test(name);
    for (const [label, name] of Object.entries(names)) {
      const times: number[] = [];
      let matched = false;
      for (let r = 0; r < opts.runs; r++) {
        const t = performance.now();
        matched = glob.test(name);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      const ms = (x: number): number => Math.round(x * 1000) / 1000;
      out.push({
        pattern: pattern.length > 24 ? `${pattern.slice(0, 21)}... (${Array.from(pattern).length} chars)` : pattern,
        name: label,
        chars: name.length,
        matched,
        medianMs: ms(times[Math.floor(times.length / 2)]!),
        maxMs: ms(times[times.length - 1]!),
      });
    }
  }
  return out;
}
