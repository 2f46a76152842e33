import { FakeClock } from '../../src/clock';
import { createDetector } from '../../src/detect/detector';
import { EMPTY_EXCEPTIONS } from '../../src/detect/exceptions';
import { ingest } from '../../src/ingest/ingest';
import { createLogger } from '../../src/logger';
import type { Store } from '../../src/store/store';
import { tokenEvent } from './events';

const quiet = createLogger({ level: 'error', format: 'json' }, { silent: true });

/**
 * Token creations n of `org` stored through the real ingest path (as a push), published at `at`:
 * each an alert of that org with a pending delivery per notifier.
 */
export async function storeOrgAlerts(store: Store, org: string, ns: number[], opts: { at: Date; notifiers: string[] }): Promise<void> {
  const clock = new FakeClock(opts.at.getTime());
  const url = `https://${org}.okta.com`;
  const detector = createDetector(
    { alertOutcomes: null, exceptions: EMPTY_EXCEPTIONS, exceptionsFile: null, tokenLookup: { mode: 'off', timeoutMs: 1000, maxPerPage: 20 } },
    { orgUrl: url, okta: null, logger: quiet, clock, org: { name: org, url } },
  );
  await ingest(
    { store: store.forOrg(org), detector, notifiers: opts.notifiers, poll: { maxAlertsPerRun: 100, followWindowMs: 0 }, clock, logger: quiet },
    { entries: ns.map((n) => tokenEvent(n, opts.at.toISOString())), tickId: null, checkpoint: { source: 'push', receivedAt: opts.at }, alertsSoFar: 0 },
  );
}
