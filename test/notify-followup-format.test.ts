import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Alert, Notification } from '../src/detect/alert';
import type { FollowUp, FollowUpKind } from '../src/follow/followup';
import { formatConsole } from '../src/notify/console';
import { emailSubject, formatEmail } from '../src/notify/email';
import { formatPagerDuty } from '../src/notify/pagerduty';
import { buildSampleAlert } from '../src/notify/sample-alert';
import { formatSlack, formatSlackParent } from '../src/notify/slack';
import { formatTeams } from '../src/notify/teams';
import { formatWebhook } from '../src/notify/webhook';
import { followUpOf, hostileFollowUp } from './helpers/followups';
import { followUpOf as handFollowUpOf, responseOf } from './helpers/hand-followups';
import { assertEmailHarmless, assertJsonHarmless, assertSlackHarmless, HOSTILE, hostileAlert } from './helpers/harmless';

const KINDS: FollowUpKind[] = ['first-use', 'lifecycle', 'digest'];

function knownLinks(a: Alert): Set<string> {
  return new Set([a.links.event, a.links.actor, a.links.apiTokens, a.links.tokenActivity].filter((x): x is string => typeof x === 'string'));
}

function notification(f: FollowUp, alert: Alert, test = false): Extract<Notification, { kind: 'followup' }> {
  return { kind: 'followup', followup: f, alert, parent: { channel: 'C0FAKE0001', ts: '1764650000.000001' }, test };
}

function withId(f: Omit<FollowUp, 'id'>, id = 'otw-followup-7'): FollowUp {
  return { id, ...f };
}

/** All the text of a Slack message, for "says X" checks. */
function slackText(n: Notification): string {
  return JSON.stringify(formatSlack(n));
}


describe('follow-ups: hostile text in every field, every format', () => {
  for (const [name, s] of Object.entries(HOSTILE)) {
    test(`when every follow-up field holds the ${name} string, then Slack (reply and updated alert), email, webhook and console render it harmlessly`, () => {
      const alert = hostileAlert(s);
      const links = knownLinks(alert);
      for (const kind of KINDS) {
        for (const isTest of [false, true]) {
          const n = notification(hostileFollowUp(alert, kind, s), alert, isTest);
          const label = `${name} ${kind}${isTest ? ' test' : ''}`;
          assertSlackHarmless(formatSlack(n), `${label} slack reply`, links);
          assertSlackHarmless(formatSlackParent(n), `${label} slack parent`, links);
          const m = formatEmail(n);
          assertEmailHarmless(m, `${label} email`, links);
          const hook = assertJsonHarmless(formatWebhook(n), `${label} webhook`) as { followup: FollowUp; alertId: string };
          // Exact data for machines: the same strings come back, bounded.
          assert.equal(hook.followup.token.name, s.length > 4096 ? [...s].slice(0, 4095).join('') + '…' : s);
          const line = assertJsonHarmless(formatConsole(n), `${label} console`) as { alertId: string };
          assert.equal(typeof line.alertId, 'string');
        }
      }
    });
  }

  test('when a long digest is rendered, then Slack splits its lists into sections and says how many more there are', () => {
    const alert = buildSampleAlert();
    const f = hostileFollowUp(alert, 'digest', 'x'.repeat(500));
    f.digest!.typeCount = 40;
    f.digest!.sensitiveCount = 60;
    const m = formatSlack(notification(f, alert));
    const text = JSON.stringify(m.blocks);
    assert.match(text, /…and 25 more types/);
    assert.match(text, /…and 40 more/);
    const email = formatEmail(notification(f, alert));
    assert.match(email.text, /…and 25 more types/);
    assert.match(email.text, /…and 40 more\n/);
    assert.equal((email.text.match(/^ {2}- Sensitive action: /gm) ?? []).length, 20);
  });

  test('when a header value carries CR/LF, then the follow-up email subject and threading headers stay one line each', () => {
    const alert = hostileAlert(HOSTILE.headerInjection!);
    alert.id = 'otw-evil\r\nBcc: victim@example.com';
    const m = formatEmail(notification(hostileFollowUp(alert, 'first-use', HOSTILE.headerInjection!), alert));
    assert.match(m.subject, /^Re: \[okta-token-watch\] medium: API token "evil Bcc: victim@example.com Subject: spoofed X-Evil: 1" creation attempted \(evil Bcc: /);
    assert.equal(m.inReplyTo, '<otw-evil__Bcc__victim_example.com@okta-token-watch>');
    assert.equal(m.references, m.inReplyTo);
  });
});

describe('follow-ups: stored JSON of the wrong shape', () => {
  test('when a stored follow-up lacks its parts or has the wrong types, then every format still renders it and names the alert', () => {
    const alert = buildSampleAlert();
    const broken = [
      { id: 'otw-followup-1', alertId: alert.id, kind: 'first-use' },
      { id: 'otw-followup-2', alertId: alert.id, kind: 'something-new', token: null, signals: 'new-country', watch: 'open' },
      { id: 'otw-followup-3', alertId: alert.id, kind: 'digest', digest: { byType: [null, 7], sensitive: [null, 'x'], total: '9' }, watch: { events: -4, sensitive: 1e400, closed: 'revoked' } },
      { id: 'otw-followup-4', alertId: alert.id, kind: 'lifecycle', lifecycle: { change: 'revoked', actor: { login: 5 }, network: { includedZones: 'nzo1' } } },
    ] as unknown as FollowUp[];
    for (const f of broken) {
      const n = notification(f, alert);
      const slack = formatSlack(n);
      assert.match(JSON.stringify(slack.blocks), new RegExp(`Follow-up to alert \`${alert.id}\``), f.id);
      assertSlackHarmless(slack, f.id, knownLinks(alert));
      assertSlackHarmless(formatSlackParent(n), `${f.id} parent`, knownLinks(alert));
      assertEmailHarmless(formatEmail(n), f.id, knownLinks(alert));
      assertJsonHarmless(formatWebhook(n), f.id);
      assertJsonHarmless(formatConsole(n), f.id);
    }
    assert.match(JSON.stringify(formatSlack(notification(broken[2]!, alert)).blocks), /watch ended: 0 events, 0 sensitive/);
  });
});

describe('follow-ups: what each kind says', () => {
  const alert = buildSampleAlert();

  test('when a token is first used from another network, then Slack and email mark it, say when, where and compared with what', () => {
    const n = notification(withId(followUpOf(alert, 'first-use')), alert);
    const m = formatSlack(n);
    assert.deepEqual(m.blocks[0], { type: 'header', text: { type: 'plain_text', text: 'ATTENTION: API token first used, from another network', emoji: false } });
    assert.equal(m.text, 'ATTENTION: API token first used, from another network: `terraform-ci`');
    const all = JSON.stringify(m.blocks);
    for (const s of ['`198.51.100.7`', '`AS64511 Other Hosting, ISP Other Hosting BV`', '`12 min`', '`another network than at creation`', '`same country as at creation`', '`203.0.113.42; Amsterdam, Netherlands; AS64500 Example Transit, ISP Example ISP`', '`python-requests/2.31`', ':rotating_light: *First use from another network']) {
      assert.ok(all.includes(s), `Slack shows ${s}`);
    }
    assert.match(all, /Follow-up to alert `otw-9f2c6d1e-4b7a-11f1-8c3e-5b1d2a9e0c47`: API token `terraform-ci` \(id `00Tb1x2y3z4A5B6C7d8`\), created by `jordan.admin@example.com`\./);
    assert.match(all, /Since the alert: first used 12 min after creation from another network; watching until `2026-11-29T11:58:30.000Z`: 3 events, 0 sensitive so far\./);

    const e = formatEmail(n);
    assert.equal(e.subject, `Re: ${emailSubject({ kind: 'alert', alert })}`);
    assert.deepEqual([e.messageId, e.inReplyTo, e.references], ['<otw-followup-7@okta-token-watch>', `<${alert.id}@okta-token-watch>`, `<${alert.id}@okta-token-watch>`]);
    assert.deepEqual(e.headers, { 'X-OTW-Notification-Id': 'otw-followup-7', Importance: 'high', 'X-Priority': '1' });
    assert.match(e.text, /^ATTENTION: API token first used, from another network\n/);
    assert.match(e.text, /\n! First use from another network \(ASN or ISP\) than the one the token was created from\.\n/);
    assert.match(e.text, /\nAfter creation: 12 min\n/);
    assert.match(e.html, /<h2 style="color:#b3261e;">ATTENTION: API token first used, from another network<\/h2>/);
  });

  test('when the alert went out only in a summary, then the email replies to the summary\'s message', () => {
    const e = formatEmail({ ...notification(withId(followUpOf(alert, 'first-use')), alert), repliesTo: 'otw-summary-3' } as Notification);
    assert.deepEqual([e.inReplyTo, e.references], ['<otw-summary-3@okta-token-watch>', '<otw-summary-3@okta-token-watch>']);
  });

  test('when a first use is from the same place, then nothing is marked and no importance header is set', () => {
    const f = followUpOf(alert, 'first-use', { prominent: false, signals: [] });
    f.firstUse = { ...f.firstUse!, newNetwork: false };
    const n = notification(withId(f), alert);
    assert.equal((formatSlack(n).blocks[0] as { text: { text: string } }).text.text, 'API token first used');
    assert.deepEqual(formatEmail(n).headers, { 'X-OTW-Notification-Id': 'otw-followup-7' });
    assert.doesNotMatch(formatEmail(n).html, /b3261e/);
  });

  test('when a person revokes the token, then it says who; when Okta expires it, then it says nobody did', () => {
    const revoked = notification(withId(followUpOf(alert, 'lifecycle')), alert);
    assert.match(slackText(revoked), /API token revoked/);
    assert.match(slackText(revoked), /\*By\*\\n`Sam Secops \(sam.secops@example.com\)`/);
    assert.match(slackText(revoked), /revoked by `sam.secops@example.com` at `2026-11-28T13:00:00.000Z`; watch ended: 3 events, 0 sensitive\./);
    assert.match(formatEmail(revoked).text, /\nBy: Sam Secops \(sam.secops@example.com\)\n/);

    const f = followUpOf(alert, 'lifecycle');
    f.lifecycle = { ...f.lifecycle!, change: 'expired', actor: { id: '0oa1system', login: 'system@okta.com', displayName: 'Okta System' } };
    f.watch = { ...f.watch, revokedBy: null, closed: 'expired' };
    const expired = notification(withId(f), alert);
    assert.match(slackText(expired), /API token expired/);
    assert.match(slackText(expired), /nobody: Okta expired the token/);
    assert.doesNotMatch(slackText(expired), /system@okta\.com/);
    assert.match(slackText(expired), /expired \(Okta's 30-day expiry\) at `2026-11-28T13:00:00.000Z`/);
    assert.equal((JSON.parse(formatConsole(expired)) as { lifecycle: { actor: unknown } }).lifecycle.actor, null);
    assert.equal((JSON.parse(formatConsole(revoked)) as { lifecycle: { actor: unknown } }).lifecycle.actor, 'sam.secops@example.com');
  });

  test('when the network condition is opened to ANYWHERE, then the change stands out and shows the condition and zones', () => {
    const f = followUpOf(alert, 'lifecycle', { prominent: true, signals: ['network-anywhere'] });
    f.lifecycle = { ...f.lifecycle!, change: 'updated', eventType: 'system.api_token.update', network: { connection: 'ANYWHERE', includedZones: [], excludedZones: ['nzo-blocked'] } };
    const n = notification(withId(f), alert);
    const m = formatSlack(n);
    assert.equal((m.blocks[0] as { text: { text: string } }).text.text, 'ATTENTION: API token opened to any network (ANYWHERE)');
    assert.match(JSON.stringify(m), /\*Network condition\*\\n`ANYWHERE`/);
    assert.match(JSON.stringify(m), /\*Excluded zones\*\\n`nzo-blocked`/);
    assert.match(formatEmail(n).text, /! The token's network condition was opened to ANYWHERE/);
  });

  test('when the watch ends, then the digest shows counts by type, the sensitive actions one by one, first and last use', () => {
    const n = notification(withId(followUpOf(alert, 'digest')), alert);
    const all = slackText(n);
    assert.match(all, /What the API token did during its watch/);
    assert.match(all, /\*Events by type\*\\n• `user.lifecycle.create` ×30\\n• `user.account.privilege.grant` ×1/);
    assert.match(all, /\*Sensitive actions\*\\n• Admin privilege: `user.account.privilege.grant` on `mallory@example.com` at `2026-11-28T12:20:00.000Z`/);
    assert.match(all, /watch ended: 41 events, 1 sensitive/);
    const e = formatEmail(n);
    assert.match(e.text, /\nEvents: 41\nSensitive actions: 1\nFirst use: 2026-11-28T12:10:30.000Z\nLast use: 2026-11-28T18:00:00.000Z\n/);
    assert.match(e.text, /\nEvents by type:\n {2}- user.lifecycle.create x30\n {2}- user.account.privilege.grant x1\n/);
    assert.match(e.html, /<h3>Sensitive actions<\/h3><ul><li>Admin privilege: user.account.privilege.grant on mallory@example.com at 2026-11-28T12:20:00.000Z<\/li><\/ul>/);
  });

  test('when the alert message is updated, then it is the alert with the status line under its first sentence', () => {
    const n = notification(withId(followUpOf(alert, 'lifecycle')), alert);
    const parent = formatSlackParent(n);
    const plain = formatSlack({ kind: 'alert', alert });
    assert.equal(parent.text, plain.text);
    assert.deepEqual(parent.blocks.slice(0, 2), plain.blocks.slice(0, 2));
    assert.deepEqual(parent.blocks[2], {
      type: 'section',
      text: { type: 'mrkdwn', text: '*Since the alert: first used 12 min after creation from another network; revoked by `sam.secops@example.com` at `2026-11-28T13:00:00.000Z`; watch ended: 3 events, 0 sensitive.*', verbatim: true },
    });
    assert.deepEqual(parent.blocks.slice(3), plain.blocks.slice(2));
  });
});

describe('follow-ups: one wording in every notifier', () => {
  test('when a follow-up that stands out is formatted for Slack, email, PagerDuty and Teams, then all four give it the same headline and the same sentence for its signal', () => {
    const alert = buildSampleAlert();
    const n = notification(withId(followUpOf(alert, 'first-use')), alert);
    const outputs: Record<string, string> = { slack: slackText(n), email: formatEmail(n).text, pagerduty: JSON.stringify(formatPagerDuty(n)), teams: JSON.stringify(formatTeams(n)) };
    for (const [name, out] of Object.entries(outputs)) {
      assert.ok(out.includes('API token first used, from another network'), `${name}: the headline`);
      assert.ok(out.includes('First use from another network (ASN or ISP) than the one the token was created from.'), `${name}: the signal`);
    }
  });

  test('when an analyst\'s response is formatted for Slack, email, PagerDuty and Teams, then each names what the analyst did', () => {
    const alert = buildSampleAlert();
    const n = notification(withId(handFollowUpOf(alert, 'response', { response: responseOf('revoke', 'forbidden') })), alert);
    const outputs: Record<string, string> = { slack: slackText(n), email: formatEmail(n).text, pagerduty: JSON.stringify(formatPagerDuty(n)), teams: JSON.stringify(formatTeams(n)) };
    for (const [name, out] of Object.entries(outputs)) assert.ok(out.includes('Revoke refused by Okta: missing permission'), `${name}: the headline`);
  });
});
