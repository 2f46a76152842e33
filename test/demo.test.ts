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
    assert.deepEqual(r.ticks.map((t) => t.ok), [true, true, true, true, true, true]);
    assert.equal(r.alerts.length, 10);
    assert.equal(new Set(r.alerts.map((a) => a.event.uuid)).size, 10, 'one alert per event');
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
    assert.equal((JSON.parse(slack) as unknown[]).length, 10);
    const hostileMail = r.files.filter((f) => f.endsWith('.html')).map((f) => fs.readFileSync(f, 'utf8')).find((h) => h.includes('evil'))!;
    assert.doesNotMatch(hostileMail, /<b>Doe<\/b>|\u202E/);
    const text = printed.join('\n');
    assert.doesNotMatch(text, /\u202E/, 'no bidi override reaches the terminal');
    assert.match(text, /suppressed, not notified: .*Terraform pipeline rotates its token monthly/);
    assert.match(text, /nothing was sent/);
  });

  test('when the simulated org pushes a token event, then it alerts before the next tick, the poll confirms it with no second alert, and with the hook switched off the poll raises the self-watch alert and the later token', async () => {
    const printed: string[] = [];
    const r = await runDemo({ env: {}, outDir: tmpDir(), print: (l) => printed.push(l) });
    const text = printed.join('\n');
    const pushedUuid = 'd3m00008-7a11-4c0e-9b1d-000000000008';
    const laterUuid = 'd3m00009-7a11-4c0e-9b1d-000000000009';

    // Push: the alert is committed by the receiver while only the two earlier ticks have run.
    assert.deepEqual(r.pushed.map((p) => [p.uuid, p.ticksBefore]), [[pushedUuid, 2]]);
    assert.ok(Number.isFinite(r.pushed[0]!.elapsedMs));
    assert.match(text, /push: alert \d+ ms after the token was made, without waiting for a tick: \[MEDIUM\] SUCCESS: API token reporting-export /);
    assert.ok(r.hookId, 'the simulator registered and verified a hook against the receiver');
    assert.match(text, new RegExp(`event hook ${r.hookId}: ACTIVE, VERIFIED`));

    // The poller reads the same event: nothing new, no second alert.
    const confirm = r.ticks[2]!;
    assert.deepEqual([confirm.events, confirm.newEvents, confirm.newAlerts], [1, 0, 0]);
    assert.match(text, /poll: 0 new alert\(s\), 1 already seen via push/);
    assert.equal(r.alerts.filter((a) => a.event.uuid === pushedUuid).length, 1);

    // Switched off: nothing is pushed; the next poll raises the self-watch alert and the later token.
    assert.match(text, new RegExp(`event hook ${r.hookId}: INACTIVE; push: nothing arrives`));
    assert.equal(r.ticks[3]!.newAlerts, 2);
    const selfWatch = r.alerts.filter((a) => a.rule.id === 'okta-event-hook-tampered');
    assert.equal(selfWatch.length, 1);
    assert.equal(selfWatch[0]!.rule.severity, 'high');
    assert.deepEqual(selfWatch[0]!.eventHook, { id: r.hookId, name: 'okta-token-watch', change: 'deactivated', ours: true });
    assert.equal(r.alerts.filter((a) => a.event.uuid === laterUuid).length, 1);
    assert.ok(!r.pushed.some((p) => p.uuid === laterUuid), 'the later token came by poll only');
    assert.match(text, /poll: \[HIGH\] okta-token-watch event hook switched off or failing: event hook "okta-token-watch" \(who[0-9a-f]+\) deactivated \(ours\)/);
  });

  test('when the story\'s token is used from another country, grants an admin role and is revoked, then its alert gets the thread of follow-ups', async () => {
    const out = tmpDir();
    const printed: string[] = [];
    const r = await runDemo({ env: {}, outDir: out, print: (l) => printed.push(l) });
    const f = r.followed!;
    assert.deepEqual(f.followUps.map((x) => x.kind), ['first-use', 'lifecycle', 'digest']);
    const [first, revoke, digest] = f.followUps;
    assert.equal(first!.prominent, true, 'first used from another country than the creation');
    assert.equal(first!.firstUse!.newCountry, true);
    assert.equal(first!.firstUse!.minutesAfterCreation, 12);
    assert.equal(revoke!.lifecycle!.change, 'revoked');
    assert.equal(digest!.digest!.reason, 'revoked');
    assert.equal(digest!.digest!.total, 3);
    assert.deepEqual(digest!.digest!.sensitive.map((x) => x.category).sort(), ['admin-privilege', 'user-created']);
    // A grant names the user and the role it gave.
    assert.equal(digest!.digest!.sensitive.find((x) => x.category === 'admin-privilege')!.target, 'Charlie Ng, Super Administrator');
    // One System Log request covers every watched token when nothing happened.
    const idle = f.followTicks[0]!;
    assert.equal(idle.requests, 1);
    assert.ok(idle.watched > 1);
    const thread = JSON.parse(fs.readFileSync(path.join(out, 'slack-thread.json'), 'utf8')) as Array<{ text: string }>;
    assert.equal(thread.length, 4, 'the alert and its three replies');
    assert.ok(fs.existsSync(path.join(out, 'email-followup-1.html')));
    const text = printed.join('\n');
    assert.match(text, /follow-up: API token first used, from another country/);
    assert.match(text, /status line now: .*revoked by maria\.jensen@example\.com/);
  });

  test('when a webhook is configured, then the demo really sends its alerts there', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const printed: string[] = [];
      const r = await runDemo({ env: { WEBHOOK_URL: receiver.url('/hook') }, outDir: tmpDir(), print: (l) => printed.push(l) });
      // Ten alerts, and the followed token's three follow-ups after its alert.
      assert.deepEqual(r.deliveries, [{ notifier: 'webhook', pending: 0, sent: 13, failed: 0 }]);
      assert.equal(receiver.requests.length, 13);
      const types = receiver.requests.map((q) => (JSON.parse(q.body) as { type: string; id: string; alertId?: string }));
      const followIdx = types.findIndex((t) => t.type === 'okta-token-watch.alert.followup');
      const alertIdx = types.findIndex((t) => t.id === r.followed!.alertId);
      assert.ok(alertIdx >= 0 && followIdx > alertIdx, 'the follow-ups went out after their alert');
      assert.equal(types.filter((t) => t.alertId === r.followed!.alertId).length, 3);
      assert.match(printed.join('\n'), /webhook: 13 sent/);
    } finally {
      await receiver.stop();
    }
  });

  test('when started from the command line, then it exits 0 and says where the files are', async () => {
    const cwd = tmpDir();
    const r = await runCli(['demo'], {}, { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /10 alert\(s\):/);
    assert.match(r.stdout, /push: alert \d+ ms after the token was made/);
    assert.ok(fs.existsSync(path.join(cwd, 'demo-output', 'slack-messages.json')));
  });
});
