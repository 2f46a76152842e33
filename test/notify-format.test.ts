import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Alert, Notification } from '../src/detect/alert';
import { buildAlert, type BuildAlertContext } from '../src/detect/build-alert';
import { RULE } from '../src/detect/rule';
import type { OktaLogEvent } from '../src/okta/log-event';
import { emailSubject, formatEmail } from '../src/notify/email';
import { buildSampleAlert, buildSampleSummary } from '../src/notify/sample-alert';
import { bound, defang, escapeHtml, fitMrkdwn, plainText, safeJson, slackCode, visible } from '../src/notify/sanitize';
import { formatSlack, SLACK_LIMITS, type SlackMessage } from '../src/notify/slack';
import { formatWebhook } from '../src/notify/webhook';
import { makeEvent } from './fixtures/events';
import { assertEmailHarmless, assertJsonHarmless, assertSlackHarmless, HOSTILE, hostileAlert } from './helpers/harmless';

const sample = (): Alert => buildSampleAlert();

function hostileSummary(s: string): Notification {
  const sum = buildSampleSummary(3);
  sum.actors = [{ actor: s, count: 2 }, { actor: s, count: 1 }];
  sum.tokenNames = [s, s];
  sum.firstPublished = s;
  sum.lastPublished = s;
  sum.howToList = s;
  return { kind: 'summary', summary: sum };
}

const KNOWN_LINKS = new Set([
  'https://example-admin.okta.com/report/system_log_2?search=9f2c6d1e-4b7a-11f1-8c3e-5b1d2a9e0c47&fromTime=2026-11-27T11%3A58%3A30.000Z&toTime=2026-11-29T11%3A58%3A30.000Z',
  'https://example-admin.okta.com/admin/access/api/tokens',
  'https://example-admin.okta.com/admin/user/profile/view/00u1a2b3c4D5E6F7g8h9',
  'https://example-admin.okta.com/report/system_log_2?search=transaction.detail.requestApiTokenId%20eq%20%2200Tb1x2y3z4A5B6C7d8%22&fromTime=2026-11-28T11%3A58%3A30.000Z',
  'https://example-admin.okta.com/report/system_log_2?search=eventType%20eq%20%22system.api_token.create%22&fromTime=2026-11-28T11%3A55%3A00.000Z',
]);

function assertWebhookHarmless(n: Notification, original: unknown, label: string): void {
  const parsed = assertJsonHarmless(formatWebhook(n), label) as { alert?: unknown; summary?: unknown };
  // Exact data for machines: the same strings come back (bounded at 4096 code points).
  const expected = JSON.parse(JSON.stringify(original, (_k, v: unknown) => (typeof v === 'string' ? bound(v, 4096) : v))) as unknown;
  assert.deepEqual(parsed.alert ?? parsed.summary, expected, `${label}: data changed`);
}

describe('hostile text from Okta events', () => {
  for (const [name, s] of Object.entries(HOSTILE)) {
    test(`when every event field holds the ${name} string, then Slack, email and webhook render it harmlessly`, () => {
      const a = hostileAlert(s);
      for (const test of [false, true]) {
        assertSlackHarmless(formatSlack({ kind: 'alert', alert: a, test }), name, KNOWN_LINKS);
        assertEmailHarmless(formatEmail({ kind: 'alert', alert: a, test }), name, KNOWN_LINKS);
        assertWebhookHarmless({ kind: 'alert', alert: a, test }, a, name);
      }
      const sum = hostileSummary(s);
      assertSlackHarmless(formatSlack(sum), `${name} summary`, KNOWN_LINKS);
      assertEmailHarmless(formatEmail(sum), `${name} summary`, KNOWN_LINKS);
      assertWebhookHarmless(sum, sum.kind === 'summary' ? sum.summary : null, `${name} summary`);
    });
  }

  test('when a token is named like a Slack broadcast link, then the Slack text shows it escaped inside code', () => {
    const a = sample();
    a.token = { id: '00T1', name: HOSTILE.slackMarkup! };
    const fields = (formatSlack({ kind: 'alert', alert: a }).blocks.find((b) => Array.isArray(b.fields)) as { fields: Array<{ text: string }> }).fields;
    assert.equal(fields[1]?.text, '*Token name*\n`&lt;!channel&gt; click &lt;https[:]//evil.example|okta.com&gt;`');
  });

  test('when a value holds bidi overrides and zero-width characters, then they are shown as code points', () => {
    assert.equal(visible('a\u202Eb\u200Bc\uFEFFd\u2066e'), 'a<U+202E>b<U+200B>c<U+FEFF>d<U+2066>e');
    assert.equal(visible('tag\u{E0041}'), 'tag<U+E0041>');
    assert.equal(visible('line\r\nbreak\ttab'), 'line  break tab');
    assert.equal(plainText('\u202E'), '<U+202E>');
  });

  test('when values are long, then they are cut at the bound without splitting a character', () => {
    assert.equal(bound('😀😀😀', 2), '😀…');
    assert.equal(plainText('x'.repeat(300)).length, 256);
    assert.equal(plainText(null), '-');
    assert.equal(plainText('   '), '-');
  });

  test('when mrkdwn is cut at the limit next to an emoji or an entity, then neither is split', () => {
    assert.equal(fitMrkdwn('a'.repeat(8) + '😀x', 10), 'a'.repeat(8) + '…');
    assert.equal(fitMrkdwn('a'.repeat(7) + '&amp;x', 10), 'a'.repeat(7) + '…');
  });

  test('when text carries URLs, then the schemes are defanged', () => {
    assert.equal(defang('see https://evil.example and www.evil.example, javascript://x'), 'see https[:]//evil.example and www[.]evil.example, javascript[:]//x');
  });

  test('when a value is put in Slack code, then backticks and mentions cannot break out', () => {
    assert.equal(slackCode('a`b @here <@U1>'), '`aˋb ＠here &lt;@U1&gt;`');
    assert.equal(slackCode(null), '-');
    assert.equal(escapeHtml(`<a href="x">'&`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
  });

  test('when JSON is made safe, then it parses back to the same value', () => {
    const v = { s: '<b>&\u2028\u202E\u0085x' };
    const json = safeJson(v);
    assert.equal(json, '{"s":"\\u003cb\\u003e\\u0026\\u2028\\u202e\\u0085x"}');
    assert.deepEqual(JSON.parse(json), v);
  });
});

describe('payload builders (golden)', () => {
  test('when the sample alert is formatted for Slack, then the Block Kit message is exactly as written here', () => {
    const m = formatSlack({ kind: 'alert', alert: sample() });
    const field = (label: string, value: string): Record<string, unknown> => ({ type: 'mrkdwn', text: `*${label}*\n\`${value}\``, verbatim: true });
    const section = (text: string): Record<string, unknown> => ({ type: 'section', text: { type: 'mrkdwn', text, verbatim: true } });
    const button = (text: string, url: string, action_id: string): Record<string, unknown> => ({ type: 'button', text: { type: 'plain_text', text, emoji: false }, url, action_id });
    assert.deepEqual(m, {
      text: 'medium: Okta API token created: `terraform-ci` by `jordan.admin@example.com`',
      unfurl_links: false,
      unfurl_media: false,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'MEDIUM: Okta API token created', emoji: false } },
        section('`jordan.admin@example.com` created API token `terraform-ci` in Okta.'),
        section(':warning: No network restriction: the token works from any IP address (network connection `ANYWHERE`, from the token lookup).'),
        {
          type: 'section',
          fields: [
            field('Actor', 'Jordan Admin (jordan.admin@example.com)'),
            field('Token name', 'terraform-ci'),
            field('Token id', '00Tb1x2y3z4A5B6C7d8'),
            field('Outcome', 'SUCCESS'),
            field('Time', '2026-11-28T11:58:30.000Z'),
            field('Client IP', '203.0.113.42'),
            field('Location', 'Amsterdam, North Holland, Netherlands'),
            field('Network', 'AS64500 Example Transit B.V., ISP Example ISP, no proxy'),
            field('Created via', 'Admin Console'),
          ],
        },
        section('*User agent*\n`Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15`'),
        section(
          '*What this database has seen*\n' +
            '• First API token this actor created in the last 90 days.\n' +
            '• First token creation by this actor from this country.\n' +
            '• First token creation by this actor from this network (ASN).\n' +
            '• History covers what this database has seen since `2025-11-28T12:00:00.000Z`.',
        ),
        section('*Token now*\nThe token is active, expires `2026-12-28T11:58:30.000Z`, network: `ANYWHERE` (checked `2026-11-28T12:00:00.000Z`).'),
        {
          type: 'actions',
          elements: [
            button(
              'Open the event in Okta',
              'https://example-admin.okta.com/report/system_log_2?search=9f2c6d1e-4b7a-11f1-8c3e-5b1d2a9e0c47&fromTime=2026-11-27T11%3A58%3A30.000Z&toTime=2026-11-29T11%3A58%3A30.000Z',
              'otw_open_event',
            ),
            button('Actor in Okta', 'https://example-admin.okta.com/admin/user/profile/view/00u1a2b3c4D5E6F7g8h9', 'otw_open_actor'),
            button(
              'What the token did (System Log)',
              'https://example-admin.okta.com/report/system_log_2?search=transaction.detail.requestApiTokenId%20eq%20%2200Tb1x2y3z4A5B6C7d8%22&fromTime=2026-11-28T11%3A58%3A30.000Z',
              'otw_token_activity',
            ),
            button('API tokens page (revoke)', 'https://example-admin.okta.com/admin/access/api/tokens', 'otw_open_api_tokens'),
          ],
        },
        section(
          '*What to do first*\n' +
            '1. If nobody can explain the token, revoke it now (Security &gt; API &gt; Tokens).\n' +
            '2. Review everything the token did since it was created.\n' +
            '3. Reset the credentials of the accounts involved and enforce MFA on them.\n' +
            '4. Tell the security team; escalate if the compromise looks wider than one account.\n' +
            '5. Restrict who may create API tokens to the admins who need to.',
        ),
        {
          type: 'context',
          elements: [
            { type: 'mrkdwn', text: 'Okta API token created · risk 47 · alert `otw-9f2c6d1e-4b7a-11f1-8c3e-5b1d2a9e0c47`', verbatim: true },
            { type: 'mrkdwn', text: 'MITRE ATT&amp;CK TA0003 · T1136 · T1098 · T1098.001', verbatim: true },
          ],
        },
      ],
    });
  });

  test('when a test alert with a failed outcome and no history is formatted for Slack, then it says TEST and "attempted"', () => {
    const a = sample();
    a.outcome = { result: 'FAILURE', reason: 'INSUFFICIENT_PERMISSIONS' };
    a.history = null;
    a.tokenState = { status: 'skipped', reason: 'lookup disabled' };
    const m = formatSlack({ kind: 'alert', alert: a, test: true });
    assert.equal(m.text, '[TEST] medium: Okta API token creation attempted: `terraform-ci` by `jordan.admin@example.com`');
    assert.deepEqual(m.blocks[0], { type: 'header', text: { type: 'plain_text', text: '[TEST] MEDIUM: Okta API token creation attempted', emoji: false } });
    assert.equal(
      (m.blocks[1] as { text: { text: string } }).text.text,
      '*This is a test notification from okta-token-watch.*\n`jordan.admin@example.com` tried to create API token `terraform-ci` in Okta.',
    );
    // Without a lookup, the event's own networkConnection is what is known.
    assert.equal(
      (m.blocks[2] as { text: { text: string } }).text.text,
      ':warning: No network restriction: the token works from any IP address (network connection `ANYWHERE`, from the event).',
    );
    assert.deepEqual((m.blocks[3] as { fields: Array<{ text: string }> }).fields[3], { type: 'mrkdwn', text: '*Outcome*\n`FAILURE: INSUFFICIENT_PERMISSIONS`', verbatim: true });
    assert.deepEqual(m.blocks.map((b) => b.type), ['header', 'section', 'section', 'section', 'section', 'actions', 'section', 'context']);
  });

  test('when a summary is formatted for Slack, then it shows the count, actors, names, time range and how to list them', () => {
    const m = formatSlack({ kind: 'summary', summary: buildSampleSummary(37) });
    assert.deepEqual(m, {
      text: 'medium: 37 more Okta API token creations (summary)',
      unfurl_links: false,
      unfurl_media: false,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'MEDIUM: 37 more Okta API token creations', emoji: false } },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: '37 API token creations between `2026-11-28T11:55:00.000Z` and `2026-11-28T11:59:00.000Z` went over the per-tick alert limit, so they are summarised here instead of one message each. Every one of them is stored.',
            verbatim: true,
          },
        },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Actors*\n• `jordan.admin@example.com` ×32\n• `svc-automation@example.com` ×5', verbatim: true },
            { type: 'mrkdwn', text: '*Token names*\n• `terraform-ci`\n• `backup-job`', verbatim: true },
          ],
        },
        { type: 'section', text: { type: 'mrkdwn', text: '*List them*\n`okta-token-watch status --alerts`', verbatim: true } },
        {
          type: 'actions',
          elements: [
            { type: 'button', text: { type: 'plain_text', text: 'API tokens page', emoji: false }, url: 'https://example-admin.okta.com/admin/access/api/tokens', action_id: 'otw_open_api_tokens' },
            { type: 'button', text: { type: 'plain_text', text: 'System Log', emoji: false }, url: 'https://example-admin.okta.com/report/system_log_2?search=eventType%20eq%20%22system.api_token.create%22&fromTime=2026-11-28T11%3A55%3A00.000Z', action_id: 'otw_open_system_log' },
          ],
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: 'Okta API token created · summary `otw-summary-1`', verbatim: true }] },
      ],
    });
  });

  test('when a summary lists many actors and names, then Slack shows a bounded list with "and N more"', () => {
    const s = buildSampleSummary(500);
    s.actors = Array.from({ length: 20 }, (_, i) => ({ actor: `user${i}@example.com`, count: 1 }));
    s.actorCount = 40;
    s.tokenNames = Array.from({ length: 50 }, (_, i) => `tok-${i}`);
    s.tokenNameCount = 60;
    const fields = (formatSlack({ kind: 'summary', summary: s }).blocks[2] as { fields: Array<{ text: string }> }).fields;
    assert.match(fields[0]?.text ?? '', /\n…and 25 more$/, 'actors beyond the 15 shown, out of all 40 (not just the 20 listed)');
    assert.match(fields[1]?.text ?? '', /\n…and 40 more$/);
  });

  test('when the sample alert is formatted as email, then subject and text part are exactly as written here', () => {
    const m = formatEmail({ kind: 'alert', alert: sample(), test: true });
    assert.equal(m.subject, '[okta-token-watch] TEST medium: API token "terraform-ci" created by jordan.admin@example.com');
    assert.equal(m.messageId, '<otw-9f2c6d1e-4b7a-11f1-8c3e-5b1d2a9e0c47@okta-token-watch>');
    assert.deepEqual(m.headers, { 'X-OTW-Notification-Id': 'otw-9f2c6d1e-4b7a-11f1-8c3e-5b1d2a9e0c47', 'X-OTW-Test': 'true' });
    assert.equal(
      m.text,
      [
        'This is a test notification from okta-token-watch; nothing happened in Okta.',
        '',
        'MEDIUM: Okta API token created',
        '',
        '! No network restriction: the token works from any IP address (network connection ANYWHERE, from the token lookup).',
        '',
        'Actor: Jordan Admin (jordan.admin@example.com)',
        'Actor id: 00u1a2b3c4D5E6F7g8h9',
        'Token name: terraform-ci',
        'Token id: 00Tb1x2y3z4A5B6C7d8',
        'Outcome: SUCCESS',
        'Time: 2026-11-28T11:58:30.000Z',
        'Client IP: 203.0.113.42',
        'Location: Amsterdam, North Holland, Netherlands',
        'Network: AS64500 Example Transit B.V., ISP Example ISP, no proxy',
        'Created via: Admin Console',
        'User agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
        '',
        'What this database has seen:',
        '  - First API token this actor created in the last 90 days.',
        '  - First token creation by this actor from this country.',
        '  - First token creation by this actor from this network (ASN).',
        '  - History covers what this database has seen since 2025-11-28T12:00:00.000Z.',
        '',
        'Token now: The token is active, expires 2026-12-28T11:58:30.000Z, network: ANYWHERE (checked 2026-11-28T12:00:00.000Z).',
        '',
        'Links:',
        '  Open the event in Okta: https://example-admin.okta.com/report/system_log_2?search=9f2c6d1e-4b7a-11f1-8c3e-5b1d2a9e0c47&fromTime=2026-11-27T11%3A58%3A30.000Z&toTime=2026-11-29T11%3A58%3A30.000Z',
        '  Actor in Okta: https://example-admin.okta.com/admin/user/profile/view/00u1a2b3c4D5E6F7g8h9',
        '  What the token did (System Log): https://example-admin.okta.com/report/system_log_2?search=transaction.detail.requestApiTokenId%20eq%20%2200Tb1x2y3z4A5B6C7d8%22&fromTime=2026-11-28T11%3A58%3A30.000Z',
        '  API tokens page (revoke): https://example-admin.okta.com/admin/access/api/tokens',
        '',
        'Triage:',
        '  - Confirm with the actor that they created this token, and that creating tokens is part of their job.',
        '  - Compare the time with other security events for this actor (sign-ins, MFA changes, admin role grants).',
        '  - Check that the client IP, location, network and user agent match where this actor usually works from.',
        '  - Search the System Log for actions taken with the new token (transaction.detail.requestApiTokenId equals the token id).',
        '  - Check the token against your policy on API tokens: owner, purpose, network restriction, expiry.',
        '',
        'Known benign reasons:',
        '  - IT staff automating Okta administration.',
        '  - Scheduled maintenance or a planned integration roll-out.',
        '  - A third-party integration that needs its own token.',
        '  - Development and test orgs.',
        '',
        'Response:',
        '  - If nobody can explain the token, revoke it now (Security > API > Tokens).',
        '  - Review everything the token did since it was created.',
        '  - Reset the credentials of the accounts involved and enforce MFA on them.',
        '  - Tell the security team; escalate if the compromise looks wider than one account.',
        '  - Restrict who may create API tokens to the admins who need to.',
        '',
        'Okta API token created · risk 47 · alert otw-9f2c6d1e-4b7a-11f1-8c3e-5b1d2a9e0c47',
        'MITRE ATT&CK TA0003 · T1136 · T1098 · T1098.001',
      ].join('\n'),
    );
  });

  test('when the sample alert is formatted as email, then the HTML part carries the same facts, buttons and runbook', () => {
    const { html } = formatEmail({ kind: 'alert', alert: sample() });
    assert.ok(html.startsWith('<!DOCTYPE html><html><head><meta charset="utf-8"><title>[okta-token-watch] medium: API token &quot;terraform-ci&quot; created by jordan.admin@example.com</title>'));
    assert.match(html, /<h2>MEDIUM: Okta API token created<\/h2>/);
    assert.match(html, /<th [^>]*>Token name<\/th><td [^>]*>terraform-ci<\/td>/);
    assert.match(html, /<th [^>]*>Client IP<\/th><td [^>]*>203\.0\.113\.42<\/td>/);
    assert.match(html, /<a href="https:\/\/example-admin\.okta\.com\/admin\/access\/api\/tokens" [^>]*>API tokens page \(revoke\)<\/a>/);
    assert.match(html, /<a href="https:\/\/example-admin\.okta\.com\/admin\/user\/profile\/view\/00u1a2b3c4D5E6F7g8h9" [^>]*>Actor in Okta<\/a>/);
    assert.match(html, /<a href="[^"]*search=transaction\.detail\.requestApiTokenId%20eq%20%2200Tb1x2y3z4A5B6C7d8%22[^"]*" [^>]*>What the token did \(System Log\)<\/a>/);
    assert.match(html, /<ul><li><strong>No network restriction: the token works from any IP address \(network connection ANYWHERE, from the token lookup\)\.<\/strong><\/li><\/ul>/);
    assert.match(html, / · MITRE ATT&amp;CK TA0003 · T1136 · T1098 · T1098\.001<\/p>/);
    assert.match(html, /<h3>Triage<\/h3><ul><li>Confirm with the actor/);
    assert.match(html, /<li>If nobody can explain the token, revoke it now \(Security &gt; API &gt; Tokens\)\.<\/li>/);
    assert.doesNotMatch(html, /test notification/);
  });

  test('when a summary is formatted as email, then subject and text are exactly as written here', () => {
    const m = formatEmail({ kind: 'summary', summary: buildSampleSummary(37) });
    assert.equal(m.subject, '[okta-token-watch] medium: 37 more API token creations (summary)');
    assert.equal(m.messageId, '<otw-summary-1@okta-token-watch>');
    assert.equal(
      m.text,
      [
        '37 API token creations between 2026-11-28T11:55:00.000Z and 2026-11-28T11:59:00.000Z went over the per-tick alert limit, so they are summarised here instead of one message each. Every one of them is stored.',
        '',
        'Actors:',
        '  - jordan.admin@example.com ×32',
        '  - svc-automation@example.com ×5',
        '',
        'Token names:',
        '  - terraform-ci',
        '  - backup-job',
        '',
        'List them: okta-token-watch status --alerts',
        '',
        'Links:',
        '  API tokens page: https://example-admin.okta.com/admin/access/api/tokens',
        '  System Log: https://example-admin.okta.com/report/system_log_2?search=eventType%20eq%20%22system.api_token.create%22&fromTime=2026-11-28T11%3A55%3A00.000Z',
        '',
        'Okta API token created · summary otw-summary-1',
      ].join('\n'),
    );
  });

  test('when names and actors are long or hostile, then the subject is one sanitised, bounded line', () => {
    const a = sample();
    a.token = { id: '1', name: 'prod\r\nBcc: x@evil.example\u202E' + 'n'.repeat(100) };
    a.actor.login = 'attacker@example.com\nX-Priority: 1';
    const subject = emailSubject({ kind: 'alert', alert: a });
    assert.equal(
      subject,
      '[okta-token-watch] medium: API token "prod Bcc: x@evil.example<U+202E>nnnnnnnnnnnnnnnnnnnnnnnnnnn…" created by attacker@example.com X-Priority: 1',
    );
    a.outcome = { result: 'DENY', reason: null };
    assert.match(emailSubject({ kind: 'alert', alert: a }), /creation attempted \(DENY\) by attacker@example\.com/);
  });

  test('when a summary is formatted for the webhook, then the body is exactly as written here', () => {
    const s = buildSampleSummary(3);
    s.alertIds = ['otw-a', 'otw-b', 'otw-c'];
    assert.equal(
      formatWebhook({ kind: 'summary', summary: s }),
      '{"type":"okta-token-watch.summary","version":1,"id":"otw-summary-1","test":false,"summary":{"id":"otw-summary-1","createdAt":"2026-11-28T12:00:00.000Z",' +
        '"rule":{"id":"okta-api-token-create","name":"Okta API token created","severity":"medium","riskScore":47},"count":3,' +
        '"actors":[{"actor":"jordan.admin@example.com","count":0},{"actor":"svc-automation@example.com","count":3}],"actorCount":2,"tokenNames":["terraform-ci","backup-job"],"tokenNameCount":2,' +
        '"firstPublished":"2026-11-28T11:55:00.000Z","lastPublished":"2026-11-28T11:59:00.000Z","alertIds":["otw-a","otw-b","otw-c"],"alertIdsOmitted":0,' +
        '"howToList":"okta-token-watch status --alerts","links":{"apiTokens":"https://example-admin.okta.com/admin/access/api/tokens","systemLog":"https://example-admin.okta.com/report/system_log_2?search=eventType%20eq%20%22system.api_token.create%22\\u0026fromTime=2026-11-28T11%3A55%3A00.000Z"}}}',
    );
  });

  test('when an alert is formatted for the webhook, then the envelope wraps the unchanged Alert', () => {
    const a = sample();
    const body = formatWebhook({ kind: 'alert', alert: a, test: true });
    assert.ok(body.startsWith('{"type":"okta-token-watch.alert","version":1,"id":"otw-9f2c6d1e-4b7a-11f1-8c3e-5b1d2a9e0c47","test":true,"alert":{"id":"otw-9f2c6d1e-4b7a-11f1-8c3e-5b1d2a9e0c47","source":"test",'));
    assert.deepEqual((JSON.parse(body) as { alert: Alert }).alert, a);
    assert.equal(formatWebhook({ kind: 'alert', alert: a, test: true }), body, 'stable bytes for the signature');
  });
});

describe('what the Slack alert tells the analyst (item 13)', () => {
  const ORG = 'https://acme.okta.com';
  const NOW = new Date('2026-11-28T12:00:00.000Z');
  const build = (e: OktaLogEvent, extra: Partial<BuildAlertContext> = {}): Alert => buildAlert(e, { source: 'poll', now: NOW, orgUrl: ORG, history: null, ...extra });
  // Links detection built for this alert: the only URLs its message may carry.
  const linksOf = (a: Alert): Set<string> => new Set(Object.values(a.links).filter((l): l is string => typeof l === 'string'));
  const sectionTexts = (m: SlackMessage): string[] => m.blocks.filter((b) => b.type === 'section' && b.text).map((b) => (b.text as { text: string }).text);

  test('when the request came through a proxy and another API token made this one, then both are warnings above the fields, escaped', () => {
    const e = makeEvent({ securityContext: { isProxy: true }, transaction: { type: 'WEB', id: 'tx-1', detail: { requestApiTokenId: '00T<!channel>`x`' } } } as never);
    const a = build(e);
    const warnings = sectionTexts(formatSlack({ kind: 'alert', alert: a })).flatMap((t) => t.split('\n')).filter((t) => t.startsWith(':warning:'));
    assert.deepEqual(warnings, [
      ':warning: No network restriction: the token works from any IP address (network connection `ANYWHERE`, from the event).',
      ':warning: Anonymising proxy: Okta flags the address this request came from as a proxy.',
      ':warning: Made by another API token (`00T&lt;!channel&gt;ˋxˋ`): find out who holds that token too.',
    ]);
    assertSlackHarmless(formatSlack({ kind: 'alert', alert: a }), 'proxy and token', linksOf(a));
    assert.match(formatEmail({ kind: 'alert', alert: a }).html, /<li><strong>Anonymising proxy:/);
    const plain = build(makeEvent({ securityContext: { isProxy: false } } as never));
    assert.deepEqual(sectionTexts(formatSlack({ kind: 'alert', alert: plain })).flatMap((t) => t.split('\n')).filter((t) => /proxy|another API token/.test(t) && t.startsWith(':warning:')), []);
  });

  test('when Okta records an impersonation, then Slack, email and webhook name the real person, escaped', () => {
    const e = makeEvent({
      debugContext: { debugData: { networkConnection: 'ZONE', originalPrincipal: { id: '00uSupport000000001', type: 'User', alternateId: 'helper@support.example', displayName: '<!here> Support `x`\u202E' } } },
    });
    const a = build(e);
    const slack = formatSlack({ kind: 'alert', alert: a });
    assert.equal(
      (slack.blocks[2] as { text: { text: string } }).text.text,
      ':warning: Impersonation: Okta records `&lt;!here&gt; Support ˋxˋ&lt;U+202E&gt; (helper@support.example)` as the real person acting as this actor.',
    );
    assertSlackHarmless(formatSlack({ kind: 'alert', alert: a }), 'impersonation', linksOf(a));
    assert.ok(
      formatEmail({ kind: 'alert', alert: a }).text.includes(
        '! Impersonation: Okta records <!here> Support `x`<U+202E> (helper@support.example) as the real person acting as this actor.',
      ),
    );
    assert.match(formatEmail({ kind: 'alert', alert: a }).html, /<li><strong>Impersonation: Okta records &lt;!here&gt; Support `x`&lt;U\+202E&gt; \(helper@support\.example\) as the real person/);
    const hook = JSON.parse(formatWebhook({ kind: 'alert', alert: a })) as { alert: Alert };
    assert.deepEqual(hook.alert.originalPrincipal, { id: '00uSupport000000001', type: 'User', login: 'helper@support.example', displayName: '<!here> Support `x`\u202E' });
  });

  test('when an alert was stored before the impersonation field existed, then it still formats', () => {
    const a = sample();
    delete a.originalPrincipal;
    assert.doesNotThrow(() => formatSlack({ kind: 'alert', alert: a }));
    assert.doesNotThrow(() => formatEmail({ kind: 'alert', alert: a }));
  });

  test('when the token lookup says the token is limited to zones, then the event\'s ANYWHERE is not flagged; without a lookup it is', () => {
    const e = makeEvent({ debugContext: { debugData: { networkConnection: 'ANYWHERE' } } });
    const zoned = build(e, {
      tokenState: { status: 'found', active: true, name: 'ci-deploy', userId: null, clientName: null, created: null, expiresAt: null, network: { connection: 'ZONE', include: ['nzo1'], exclude: [] }, checkedAt: NOW.toISOString() },
    });
    assert.ok(!sectionTexts(formatSlack({ kind: 'alert', alert: zoned })).some((t) => t.includes('No network restriction')));
    const open = build(e);
    assert.ok(sectionTexts(formatSlack({ kind: 'alert', alert: open })).includes(':warning: No network restriction: the token works from any IP address (network connection `ANYWHERE`, from the event).'));
    const restricted = build(makeEvent({ debugContext: { debugData: { networkConnection: 'ZONE' } } }));
    assert.ok(!sectionTexts(formatSlack({ kind: 'alert', alert: restricted })).some((t) => t.includes('No network restriction')));
  });

  test('when history covers 90 days or more, then the first-seen facts show; a failed attempt is called a first attempt', () => {
    const full = { actorTokensLast90d: 0, firstFromCountry: true, firstFromAsn: true, burstSameHour: 2, since: '2026-06-01T00:00:00.000Z' };
    const ok = build(makeEvent({}), { history: full });
    assert.equal(
      sectionTexts(formatSlack({ kind: 'alert', alert: ok })).find((t) => t.startsWith('*What this database')),
      '*What this database has seen*\n' +
        '• First API token this actor created in the last 90 days.\n' +
        '• First token creation by this actor from this country.\n' +
        '• First token creation by this actor from this network (ASN).\n' +
        '• 2 other token creation(s) within an hour of this one.\n' +
        '• History covers what this database has seen since `2026-06-01T00:00:00.000Z`.',
    );
    const failed = build(makeEvent({ outcome: { result: 'FAILURE', reason: 'INSUFFICIENT_PERMISSIONS' } }), { history: full });
    assert.equal(
      sectionTexts(formatSlack({ kind: 'alert', alert: failed })).find((t) => t.startsWith('*What this database')),
      '*What this database has seen*\n' +
        '• First attempt by this actor to create an API token in the last 90 days.\n' +
        '• First attempt by this actor from this country.\n' +
        '• First attempt by this actor from this network (ASN).\n' +
        '• 2 other token creation(s) within an hour of this one.\n' +
        '• History covers what this database has seen since `2026-06-01T00:00:00.000Z`.',
    );
  });

  test('when history began recently, then the alert says how far it goes instead of leading with "first seen" facts', () => {
    const young = (since: string, actorTokensLast90d = 0) =>
      sectionTexts(formatSlack({ kind: 'alert', alert: build(makeEvent({}), { history: { actorTokensLast90d, firstFromCountry: true, firstFromAsn: true, burstSameHour: 0, since } }) })).find((t) =>
        t.startsWith('*What this database'),
      );
    assert.equal(
      young('2026-11-25T09:00:00.000Z', 3),
      '*What this database has seen*\n' +
        '• History covers only the last 3 days (since `2026-11-25T09:00:00.000Z`), so first-seen facts are left out until it covers 90 days.\n' +
        '• This actor made 3 other API token creation attempt(s) in that time.',
    );
    assert.equal(
      young('2026-11-28T11:00:00.000Z'),
      '*What this database has seen*\n• History covers less than a day (since `2026-11-28T11:00:00.000Z`), so first-seen facts are left out until it covers 90 days.',
    );
  });

  test('when the alert is formatted, then the first response steps come from the rule\'s runbook, the same source as the email', () => {
    const a = build(makeEvent({}));
    const steps = sectionTexts(formatSlack({ kind: 'alert', alert: a })).find((t) => t.startsWith('*What to do first*'))!;
    assert.equal(steps.split('\n').length, 1 + RULE.runbook.response.length);
    assert.ok(steps.includes('1. If nobody can explain the token, revoke it at once (Security &gt; API &gt; Tokens) rather than waiting for the investigation to finish.'));
    for (const step of RULE.runbook.response) assert.ok(formatEmail({ kind: 'alert', alert: a }).text.includes(`  - ${step}`));
    const context = formatSlack({ kind: 'alert', alert: a }).blocks.at(-1) as { elements: Array<{ text: string }> };
    assert.equal(context.elements[1]?.text, 'MITRE ATT&amp;CK TA0003 · T1136 · T1098 · T1098.001');
  });

  test('when every field of the event is at its maximum length with odd characters, then the message stays within every Slack limit', () => {
    // Emoji (surrogate pairs) at every cut, markup, mentions, backticks, bidi and entities.
    const odd = (n: number): string => ('😀<!channel>&amp;`*_~\u202E@here ' + 'é'.repeat(3)).repeat(Math.ceil(n / 20)).slice(0, n);
    const big = odd(100_000);
    const e = makeEvent({
      displayMessage: big,
      actor: { id: big, type: 'User', alternateId: big, displayName: big },
      client: {
        ipAddress: big,
        zone: big,
        userAgent: { rawUserAgent: big, os: big, browser: big },
        geographicalContext: { city: big, state: big, country: big },
      },
      outcome: { result: big, reason: big },
      securityContext: { asNumber: 4_294_967_295, asOrg: big, isp: big, domain: big, isProxy: true },
      debugContext: {
        debugData: {
          requestUri: big,
          networkConnection: 'ANYWHERE',
          includedZones: Array.from({ length: 500 }, () => big),
          originalPrincipal: { id: big, type: big, alternateId: big, displayName: big },
        },
      },
      transaction: { detail: { requestApiTokenId: big } },
      target: [{ type: 'Token', id: big, displayName: big }],
    });
    const a = build(e, {
      history: { actorTokensLast90d: 100, firstFromCountry: true, firstFromAsn: true, burstSameHour: 100, since: big },
      tokenState: { status: 'failed', reason: big, checkedAt: big },
    });
    // The runbook is this program's own text, not the event's: many long steps test the bounds.
    a.rule.runbook.response = Array.from({ length: 40 }, (_, i) => `Step ${i}: ` + 'revoke the token and review what it did; '.repeat(200));
    for (const test of [false, true]) {
      const n: Notification = { kind: 'alert', alert: a, test };
      assertSlackHarmless(formatSlack(n), 'maximal', linksOf(a));
      const m = formatSlack(n);
      assert.ok(m.blocks.length <= SLACK_LIMITS.blocks);
      assert.ok(m.text.length <= SLACK_LIMITS.text);
      for (const b of m.blocks) {
        if (b.type === 'header') assert.ok((b.text as { text: string }).text.length <= SLACK_LIMITS.header);
        if (b.type === 'section') {
          if (b.text) assert.ok((b.text as { text: string }).text.length <= SLACK_LIMITS.sectionText);
          const fields = (b.fields ?? []) as Array<{ text: string }>;
          assert.ok(fields.length <= SLACK_LIMITS.fields);
          for (const f of fields) assert.ok(f.text.length <= SLACK_LIMITS.field);
        }
        if (b.type === 'context') assert.ok((b.elements as unknown[]).length <= SLACK_LIMITS.contextElements);
        if (b.type === 'actions') {
          for (const el of b.elements as Array<{ text: { text: string }; url: string }>) {
            assert.ok(el.text.text.length <= SLACK_LIMITS.buttonText);
            assert.ok(el.url.length <= SLACK_LIMITS.url);
          }
        }
      }
      // The hostile ids made no link: only the event and API tokens pages remain.
      const actions = m.blocks.find((b) => b.type === 'actions') as { elements: Array<{ action_id: string }> };
      assert.deepEqual(actions.elements.map((x) => x.action_id), ['otw_open_event', 'otw_open_api_tokens']);
    }
  });
});
