import assert from 'node:assert/strict';
import { DeliveryError } from '../../src/notify/notifier';

/** The DeliveryError a send fails with; fails the test when it succeeds or throws anything else. */
export async function rejection(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the send to fail');
}
