import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { collectGarbage } from '../src/memory';

describe('collecting garbage after a large page', () => {
  test('when gc is not exposed (tests run without --expose-gc), then collectGarbage still frees unreachable memory', () => {
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'this test drives the fallback path');
    collectGarbage(); // settle what was there before
    const before = process.memoryUsage().heapUsed;
    let junk: Array<{ n: number; s: string }> | null = Array.from({ length: 300_000 }, (_, n) => ({ n, s: `event-${n}` }));
    assert.ok(process.memoryUsage().heapUsed - before > 10 * 1024 * 1024, 'the junk took heap');
    junk = null;
    collectGarbage();
    assert.equal(junk, null);
    assert.ok(process.memoryUsage().heapUsed - before < 5 * 1024 * 1024, 'a full collection gave it back');
  });
});
