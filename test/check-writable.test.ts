import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createApp } from '../src/app';
import { parseConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { checkWritable } from '../src/store/check-writable';
import { tokenEvent } from './helpers/events';
import { LineSink, startHarness } from './helpers/harness';

describe('checkWritable: the database write test of "check"', () => {
  test('when the database takes writes, then the probe passes, leaves no table or row behind, and the store goes on working', async () => {
    const h = await startHarness();
    try {
      h.fake.persist(tokenEvent(1, new Date(h.clock.now().getTime() - 60_000).toISOString()));
      await h.tick();
      const before = await h.app.store.status(0);
      await checkWritable(h.app.store);
      await checkWritable(h.app.store);
      const left = await h.app.store.sql.get(`SELECT name FROM sqlite_master WHERE name = 'otw_check_write'`);
      assert.equal(left, undefined, 'the probe table was rolled back');
      assert.deepEqual(await h.app.store.status(0), before);
      // The connection is free again: the next tick commits as usual.
      h.fake.persist(tokenEvent(2, h.clock.now().toISOString()));
      const r = await h.tick();
      assert.equal(r.ok, true, r.error);
      assert.equal((await h.app.store.status(0)).eventsSeen, 2);
    } finally {
      await h.close();
    }
  });

  test('when the store cannot write (opened read-only), then the probe fails with the database\'s own error and the store is unchanged', async () => {
    const h = await startHarness();
    try {
      await h.tick();
      const config = parseConfig(h.env, { requireOkta: true });
      const ro = await createApp(config, { readOnlyStore: true, stdout: new LineSink(), logger: createLogger(config.log, { stream: new LineSink() }) });
      try {
        await assert.rejects(checkWritable(ro.store), (err: Error) => /readonly|read-only/i.test(err.message));
        // A failed probe leaves the connection usable for reads (status runs on it).
        assert.equal((await ro.store.status(0)).eventsSeen, 0);
      } finally {
        await ro.close();
      }
    } finally {
      await h.close();
    }
  });
});
