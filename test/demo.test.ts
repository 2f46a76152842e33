import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runDemo } from '../src/demo';
import { tmpDir, runCli } from './helpers/harness';
import { Receiver } from './helpers/receiver';

describe('demo', () => {
  test('when run with no settings, then it raises the story\'s alerts, suppresses the exception, and writes harmless Slack and email files', async () => {
    const out = tmpDir();
    const printed: string[] = [];
    const r = await runDemo({ env: {}, outDir: out, print: (l) => printed.push(l) });
    assert.deepEqual(r.ticks.map((t) => t.ok), [true, true, true]);
    assert.equal(r.ticks[2]!.requests, 1, 'the idle tick costs one request');
    assert.equal(r.alerts.length, 6);
    assert.equal(r.suppressed.length, 1);
    assert.match(r.suppressed[0]!.reason, /Terraform pipeline/);
    assert.ok(r.alerts.some((a) => a.outcome.result === 'FAILURE'));
    assert.ok(r.alerts.some((a) => a.token === null), 'the event without a token target still alerted');
    const late = r.alerts.find((a) => a.token?.name === 'okta-workflows-connector')!;
    assert.ok(Date.now() - Date.parse(late.event.published) > 30 * 60_000, 'the late-persisted event alerted');
    const found = r.alerts.find((a) => a.token?.id === '00Tdemo0000000000001')!;
    assert.equal(found.tokenState.status, 'found', 'the token lookup ran against the simulator');

    const slack = fs.readFileSync(path.join(out, 'slack-messages.json'), 'utf8');
    assert.doesNotMatch(slack, /<!channel>|<https:\/\/evil/);
    assert.match(slack, /&lt;!channel&gt;/);
    assert.equal((JSON.parse(slack) as unknown[]).length, 6);
    const hostileMail = r.files.filter((f) => f.endsWith('.html')).map((f) => fs.readFileSync(f, 'utf8')).find((h) => h.includes('evil'))!;
    assert.doesNotMatch(hostileMail, /<b>Doe<\/b>|\u202E/);
    const text = printed.join('\n');
    assert.doesNotMatch(text, /\u202E/, 'no bidi override reaches the terminal');
    assert.match(text, /suppressed, not notified: .*Terraform pipeline rotates its token monthly/);
    assert.match(text, /nothing was sent/);
  });

  test('when a webhook is configured, then the demo really sends its alerts there', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const printed: string[] = [];
      const r = await runDemo({ env: { WEBHOOK_URL: receiver.url('/hook') }, outDir: tmpDir(), print: (l) => printed.push(l) });
      assert.deepEqual(r.deliveries, [{ notifier: 'webhook', pending: 0, sent: 6, failed: 0 }]);
      assert.equal(receiver.requests.length, 6);
      assert.match(printed.join('\n'), /webhook: 6 sent/);
    } finally {
      await receiver.stop();
    }
  });

  test('when started from the command line, then it exits 0 and says where the files are', async () => {
    const cwd = tmpDir();
    const r = await runCli(['demo'], {}, { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /6 alert\(s\):/);
    assert.ok(fs.existsSync(path.join(cwd, 'demo-output', 'slack-messages.json')));
  });
});
