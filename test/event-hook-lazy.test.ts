import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import '../src/cli';
import { Daemon } from '../src/daemon';
import { startHarness } from './helpers/harness';

/**
 * The SDK's generated API, model and configuration modules in the module cache (megabytes once
 * loaded). Its generated/http and rxjsStub belong to the SDK's Http, which the daemon does use.
 */
function generatedModules(): string[] {
  return Object.keys(require.cache).filter((k) => /okta-sdk-nodejs[\\/]src[\\/]generated[\\/](apis|models|types|auth|configuration|servers|index)/.test(k));
}

describe('the SDK\'s generated event hook API is loaded only by the commands that need it', () => {
  test('when the daemon has started and ticked, then no generated SDK module (EventHookApi included) is loaded; the event-hook client loads them', async () => {
    const h = await startHarness();
    const daemon = new Daemon(h.app);
    try {
      try {
        await daemon.start();
        assert.ok(h.fake.logRequests().length >= 1, 'the daemon ticked');
        assert.deepEqual(generatedModules(), []);
      } finally {
        await daemon.stop();
      }
      // The check above can fail: building the event-hook client does load them.
      const { EventHookClient } = await import('../src/okta/event-hooks');
      new EventHookClient(h.app.config.okta!, 'read');
      assert.ok(generatedModules().some((k) => /EventHookApi\.js$/.test(k)));
    } finally {
      await h.close();
    }
  });
});
