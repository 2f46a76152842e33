import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, test } from 'node:test';
import type { Alert, AlertOrg, Notification } from '../src/detect/alert';
import type { FollowUp } from '../src/follow/followup';
import { formatConsole } from '../src/notify/console';
import { formatEmail } from '../src/notify/email';
import { formatPagerDuty } from '../src/notify/pagerduty';
import { buildSampleAlert, buildSampleSummary } from '../src/notify/sample-alert';
import { formatSlack, formatSlackParent } from '../src/notify/slack';
import { formatTeams } from '../src/notify/teams';
import { formatWebhook } from '../src/notify/webhook';
import { followUpOf, firstUseOf, responseOf } from './helpers/hand-followups';
import { assertEmailHarmless, assertJsonHarmless, assertSlackHarmless, HOSTILE } from './helpers/harmless';

const PROD: AlertOrg = { name: 'prod', url: 'https://acme.okta.com' };
const NOW = new Date('2026-11-28T12:00:00.000Z');

type FollowUpNotification = Extract<Notification, { kind: 'followup' }>;

/** One notification of every kind, each alert/summary/follow-up carrying `org` when given (absent otherwise). */
function notifications(org?: AlertOrg | null): Notification[] {
  const withOrg = <T extends object>(x: T): T => (org === undefined ? x : { ...x, org });
  const alert: Alert = withOrg(buildSampleAlert({ now: NOW }));
  const unreadable: Alert = withOrg({ ...buildSampleAlert({ now: NOW, uuid: 'unreadable-1' }), unreadable: { reason: 'the event has no actor', raw: '{"uuid":1}', keyFromContent: false } });
  const summary = withOrg(buildSampleSummary(37, { now: NOW }));
  const followup = (f: Omit<FollowUp, 'id'>, test = false): FollowUpNotification => ({
    kind: 'followup',
    followup: withOrg({ id: 'otw-followup-7', ...f }),
    alert,
    parent: { channel: 'C0FAKE0001', ts: '1764650000.000001' },
    test,
  });
  return [
    { kind: 'alert', alert },
    { kind: 'alert', alert, test: true },
    { kind: 'alert', alert: unreadable },
    { kind: 'summary', summary },
    { kind: 'summary', summary, test: true },
    followup(followUpOf(alert, 'first-use', firstUseOf('198.51.100.7', ['new-country']))),
    followup(followUpOf(alert, 'response', { response: responseOf('revoke', 'failed') }), true),
  ];
}

/** Every byte every notifier would send for these notifications, in order. */
function everyOutput(list: Notification[]): string[] {
  const out: string[] = [];
  for (const n of list) {
    out.push(JSON.stringify(formatSlack(n)), JSON.stringify(formatSlack(n, { responses: { actions: ['revoke', 'acknowledge', 'expected'] } })));
    if (n.kind === 'followup') out.push(JSON.stringify(formatSlackParent(n)));
    out.push(JSON.stringify(formatEmail(n)), formatWebhook(n), JSON.stringify(formatPagerDuty(n)), JSON.stringify(formatTeams(n)), formatConsole(n));
  }
  return out;
}

const digest = (parts: string[]): string => crypto.createHash('sha256').update(parts.join('\u0000')).digest('hex');

/**
 * The SHA-256 of everyOutput(notifications()) as the notifiers rendered it before orgs existed
 * (commit a097c5f): a single-org install must send exactly these bytes.
 */
const BEFORE_ORGS = 'c31eb7516d454d07e57376af4e6d6995efe9c911f976ba5e1d0e8c65af03bcd1';

describe('the org in every output', () => {
  test('when an install has one org (no org on the alert, or org null), then every notifier sends the same bytes as before orgs existed', () => {
    assert.equal(digest(everyOutput(notifications())), BEFORE_ORGS);
    assert.equal(digest(everyOutput(notifications(null))), BEFORE_ORGS);
  });

  test('when the alert is of the org prod, then Slack, email, webhook, PagerDuty, Teams and console each name it', () => {
    const [alert, , , summary, , followup] = notifications(PROD) as [Notification, Notification, Notification, Notification, Notification, FollowUpNotification];
    for (const n of [alert, summary, followup]) {
      const slack = formatSlack(n);
      assert.match(slack.text, /^\[prod\] /, `${n.kind}: Slack fallback text`);
      assert.deepEqual(slack.blocks[1], { type: 'context', elements: [{ type: 'mrkdwn', text: 'org: prod · `https[:]//acme.okta.com`', verbatim: true }] }, `${n.kind}: Slack context line`);
      const email = formatEmail(n);
      assert.match(email.subject, n.kind === 'followup' ? /^Re: \[prod\] \[okta-token-watch\] / : /^\[prod\] \[okta-token-watch\] /, `${n.kind}: email subject`);
      assert.match(email.html, /<tr><th [^>]*>Okta org<\/th><td [^>]*>prod \(https\[:\]\/\/acme\.okta\.com\)<\/td><\/tr>/, `${n.kind}: email HTML row`);
      assert.match(email.text, /^Okta org: prod \(https\[:\]\/\/acme\.okta\.com\)$/m, `${n.kind}: email text part`);
      const body = JSON.parse(formatWebhook(n)) as Record<string, unknown>;
      assert.deepEqual(body.org, { name: 'prod', url: 'https://acme.okta.com' }, `${n.kind}: webhook envelope`);
      const teams = JSON.stringify(formatTeams(n));
      assert.ok(teams.includes('{"title":"Okta org","value":"prod (https\\\\[:\\\\]//acme.okta.com)"}'), `${n.kind}: Teams fact`);
      assert.deepEqual(Object.entries(JSON.parse(formatConsole(n)) as object)[0], ['org', 'prod'], `${n.kind}: console line leads with the org`);
    }
    assert.deepEqual((JSON.parse(formatWebhook(alert)) as { alert: { org: unknown } }).alert.org, PROD, 'the alert inside the envelope keeps its org');
    const [pd] = formatPagerDuty(alert);
    assert.match(pd!.payload!.summary, /^\[prod\] medium: Okta API token created/);
    assert.equal(pd!.payload!.custom_details!.org, 'prod');
    const [pdTest] = formatPagerDuty({ ...alert, test: true } as Notification);
    assert.match(pdTest!.payload!.summary, /^\[TEST\] \[prod\] /);
    assert.match(formatPagerDuty(summary)[0]!.payload!.summary, /^\[prod\] /);
  });

  test('when a follow-up was stored without an org but its alert has one, then the follow-up is shown under its alert\'s org', () => {
    const n = notifications(undefined)[5] as FollowUpNotification;
    const withAlertOrg: FollowUpNotification = { ...n, alert: { ...n.alert, org: PROD } };
    assert.match(formatSlack(withAlertOrg).text, /^\[prod\] /);
    assert.match(formatEmail(withAlertOrg).subject, /^Re: \[prod\] /);
    assert.deepEqual((JSON.parse(formatWebhook(withAlertOrg)) as { org: unknown }).org, PROD);
  });

  test('when the Slack alert message is re-rendered after a follow-up, then the status line still sits under the alert\'s first sentence, after the org line', () => {
    const n = notifications(PROD)[5] as FollowUpNotification;
    const parent = formatSlackParent(n);
    assert.equal(parent.blocks[1]!.type, 'context');
    assert.equal(parent.blocks[2]!.type, 'section');
    assert.match(JSON.stringify(parent.blocks[3]), /Since the alert/);
  });

  for (const [name, s] of Object.entries(HOSTILE)) {
    test(`when the org's name and URL hold the ${name} string, then every notifier renders them harmlessly`, () => {
      const org: AlertOrg = { name: s, url: s };
      for (const n of notifications(org)) {
        const links = n.kind === 'summary' ? new Set([n.summary.links.apiTokens, n.summary.links.systemLog]) : new Set(Object.values(n.kind === 'alert' ? n.alert.links : n.alert.links).filter((x): x is string => typeof x === 'string'));
        assertSlackHarmless(formatSlack(n), `${name} ${n.kind} Slack`, links);
        if (n.kind === 'followup') assertSlackHarmless(formatSlackParent(n), `${name} Slack parent`, links);
        // (The unreadable alert's email has a <pre> of its own, which the shared check does not list.)
        if (!(n.kind === 'alert' && n.alert.unreadable)) assertEmailHarmless(formatEmail(n), `${name} ${n.kind} email`, links);
        const body = assertJsonHarmless(formatWebhook(n), `${name} ${n.kind} webhook`) as { org: AlertOrg };
        // The webhook keeps the exact value (escaped as JSON), bounded like any string it sends.
        assert.ok(body.org.name === s || (s.length > 4096 && s.startsWith(body.org.name.slice(0, -1))), `${name} ${n.kind} webhook org`);
        assertJsonHarmless(formatConsole(n), `${name} ${n.kind} console`);
        for (const e of formatPagerDuty(n)) {
          if (!e.payload) continue;
          assert.ok(e.payload.summary.length <= 1024);
          assert.doesNotMatch(e.payload.summary, /[\r\n]|:\/\//, `${name} PagerDuty summary`);
          assert.doesNotMatch(String(e.payload.custom_details!.org), /[\r\n]|:\/\//, `${name} PagerDuty org`);
          assert.ok(String(e.payload.custom_details!.org).length <= 64);
        }
        const teams = formatTeams(n);
        const fact = JSON.stringify(teams).match(/\{"title":"Okta org","value":"((?:[^"\\]|\\.)*)"\}/);
        assert.ok(fact, `${name} ${n.kind}: Teams org fact`);
        const value = JSON.parse(`"${fact[1]}"`) as string;
        // Every markdown character of the value is escaped: no link, emphasis or markup can come out of it.
        assert.doesNotMatch(value, /:\/\//, `${name} Teams org fact: a linkable URL`);
        assert.doesNotMatch(value.replace(/\\[\\`*_~[\]#>|<{}]/g, ''), /[`*_~[\]#>|<{}]/, `${name} Teams org fact escaped`);
      }
    });
  }
});
