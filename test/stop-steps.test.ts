import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, mock, test } from 'node:test';
import { waitLogged } from '../src/daemon';
import { createLogger } from '../src/logger';

/** A JSON logger whose lines the test reads back. */
function capture(): { logger: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>> } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const logger = createLogger({ level: 'info', format: 'json' }, { stream });
  return { logger, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('graceful stop steps', () => {
  test('when a stop step takes longer than five seconds, then a warning names what the stop waits for, every five seconds, and stops once it is done', async () => {
    mock.timers.enable({ apis: ['setInterval', 'Date'] });
    try {
      const { logger, lines } = capture();
      let finish!: () => void;
      const step = waitLogged(logger, 'the start-up in progress', new Promise<void>((resolve) => (finish = resolve)));
      mock.timers.tick(4_999);
      await flush();
      assert.equal(lines().length, 0, 'a quick step says nothing');
      mock.timers.tick(1);
      await flush();
      mock.timers.tick(5_000);
      await flush();
      const waits = lines().filter((l) => l.message === 'stopping: still waiting');
      assert.deepEqual(
        waits.map((l) => [l.for, l.seconds, l.level]),
        [
          ['the start-up in progress', 5, 'warn'],
          ['the start-up in progress', 10, 'warn'],
        ],
      );
      finish();
      await step;
      mock.timers.tick(20_000);
      await flush();
      assert.equal(lines().filter((l) => l.message === 'stopping: still waiting').length, 2, 'no warning after the step ended');
    } finally {
      mock.timers.reset();
    }
  });

  test('when the step is absent (no receiver, no Slack app), then it resolves at once', async () => {
    const { logger, lines } = capture();
    await waitLogged(logger, 'nothing', undefined);
    assert.equal(lines().length, 0);
  });
});
