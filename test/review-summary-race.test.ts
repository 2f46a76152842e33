import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { createDetector } from '../src/detect/detector';
import { EMPTY_EXCEPTIONS } from '../src/detect/exceptions';
import { ingest, summarizeExcess } from '../src/ingest/ingest';
import { createLogger } from '../src/logger';
import { Store } from '../src/store/store';
import { forEachEngine } from './helpers/engines';
import { tokenEvent } from './helpers/events';

const NOW = new Date('2026-11-28T10:00:00.000Z');
const logger = createLogger({ level: 'error', format: 'json' }, { silent: true });

forEachEngine((engine) => {
  describe(`the excess summary on ${engine.name}`, () => {
    test('when two processes summarize the same waiting alerts at once, then one summary covers them and each notifier gets it once', async () => {
      const [db1, db2] = await engine.openPair();
      const s1 = new Store(db1);
      const s2 = new Store(db2);
      const clock = new FakeClock(NOW.getTime());
      const detector = createDetector(
        { alertOutcomes: null, exceptions: EMPTY_EXCEPTIONS, exceptionsFile: null, tokenLookup: { mode: 'off', timeoutMs: 1000, maxPerPage: 20 } },
        { orgUrl: 'https://acme.okta.com', okta: null, logger, clock },
      );
      const entries = [1, 2, 3].map((n) => tokenEvent(n, NOW.toISOString()));
      await ingest({ store: s1, detector, notifiers: ['console'], poll: { maxAlertsPerRun: 0, followWindowMs: 0 }, clock, logger }, { entries, tickId: null, checkpoint: { source: 'push', receivedAt: NOW }, alertsSoFar: 0 });

      // Process 1 has linked the alerts but not committed when process 2 starts its own summary.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let linked!: () => void;
      const linkedP = new Promise<void>((r) => (linked = r));
      const held: Store = Object.create(s1) as Store;
      held.transaction = (fn) =>
        s1.transaction(async (tx) => {
          const out = await fn(tx);
          linked();
          await gate;
          return out;
        });
      const first = summarizeExcess({ store: held, detector, notifiers: ['console'], clock, logger }, null);
      await linkedP;
      const second = summarizeExcess({ store: s2, detector, notifiers: ['console'], clock, logger }, null).catch((e: Error) => e);
      await new Promise((r) => setTimeout(r, 300));
      release();
      await first;
      await second;
      const n = await s1.sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM deliveries WHERE summary_id IS NOT NULL AND notifier = 'console'");
      assert.equal(Number(n?.n), 1, 'one summary delivery per notifier');
    });
  });
});
