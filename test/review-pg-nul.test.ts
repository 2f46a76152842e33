import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../src/clock';
import { createDetector } from '../src/detect/detector';
import { EMPTY_EXCEPTIONS } from '../src/detect/exceptions';
import { ingest } from '../src/ingest/ingest';
import { createLogger } from '../src/logger';
import { Store } from '../src/store/store';
import { forEachEngine } from './helpers/engines';
import { tokenEvent } from './helpers/events';

const NOW = new Date('2026-11-28T10:00:00.000Z');
const logger = createLogger({ level: 'error', format: 'json' }, { silent: true });

forEachEngine((engine) => {
  describe(`the self-watch lookup on ${engine.name}`, () => {
    test('when a stored alert carries a NUL from its event, then the recent event hook alert lookup still answers', async () => {
      const store = new Store(await engine.openDb());
      const clock = new FakeClock(NOW.getTime());
      const detector = createDetector(
        { alertOutcomes: null, exceptions: EMPTY_EXCEPTIONS, exceptionsFile: null, tokenLookup: { mode: 'off', timeoutMs: 1000, maxPerPage: 20 } },
        { orgUrl: 'https://acme.okta.com', okta: null, logger, clock },
      );
      const deps = { store, detector, notifiers: ['console'], poll: { maxAlertsPerRun: 100, followWindowMs: 0 }, clock, logger };
      const entries = [tokenEvent(1, NOW.toISOString(), { target: [{ id: '00Tnul', type: 'Token', displayName: 'nul\u0000name' }] })];
      assert.equal((await ingest(deps, { entries, tickId: null, checkpoint: { source: 'push', receivedAt: NOW }, alertsSoFar: 0 })).newAlerts, 1);
      assert.equal(await store.recentEventHookAlert('who-FAKE', 'delivery failed', new Date(NOW.getTime() - 3_600_000)), null);
    });
  });
});
