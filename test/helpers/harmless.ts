import assert from 'node:assert/strict';
import type { Alert } from '../../src/detect/alert';
import type { EmailMessage } from '../../src/notify/email';
import { buildSampleAlert } from '../../src/notify/sample-alert';
import { SLACK_LIMITS, type SlackMessage } from '../../src/notify/slack';

/**
 * Checks that a rendered message carries hostile event text harmlessly, one per output format.
 * The hostile strings these checks know are the ones of HOSTILE below; a format passes when none
 * of their dangerous parts survives outside the format's own escaping.
 */

export const HOSTILE: Record<string, string> = {
  slackMarkup: '<!channel> click <https://evil.example|okta.com>',
  mentions: '@here @channel @everyone <@U024BE7LH> <#C024BE7LR> <!subteam^S123|ops> <!here>',
  formatting: '*bold* _it_ ~strike~ `code` ```block``` > quote',
  html: '<script>alert(1)</script><img src=x onerror=alert(1)>"\'&amp;',
  headerInjection: 'evil\r\nBcc: victim@example.com\r\nSubject: spoofed\nX-Evil: 1',
  invisible: 'invoice\u202Egnp.exe \u200B\u200C\u200D\u200E\u200F\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069\uFEFF\u00AD\u0000\u0007\u001B[31m\u0085\u2028\u2029\u{E0041}\u3164|',
  links: 'javascript:alert(1) www.evil.example https://evil.example/login hxxp://x mailto:a@b',
  entities: '&lt;!channel&gt; &amp;lt; &#60;',
  long: 'A'.repeat(20_000) + '<!channel>',
};

/** The sample alert with the hostile string in every field that comes from the Okta event. */
export function hostileAlert(s: string): Alert {
  const a = buildSampleAlert();
  a.actor = { id: s, type: s, login: s, displayName: s };
  a.token = { id: s, name: s };
  a.outcome = { result: s, reason: s };
  a.event.displayMessage = s;
  a.client = { ...a.client, ip: s, city: s, region: s, country: s, zone: s, asOrg: s, isp: s, domain: s, userAgent: { raw: s, browser: s, os: s } };
  a.createdByTokenId = s;
  a.originalPrincipal = { id: s, type: s, login: s, displayName: s };
  a.network = { connection: s, includedZones: [s], excludedZones: [s] };
  a.tokenState = { status: 'failed', reason: s, checkedAt: a.createdAt };
  return a;
}

/** Fragments of the hostile strings; none may appear in Slack outside a code span. */
const EVENT_TEXT = /evil|script|onerror|channel|＠here|everyone|bold|strike|block|quote|Bcc|invoice|gnp|AAAAAAAAAA|subteam|lt;|javascript|mailto|U\+/i;
export const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u3164]/u;

/** Every text object in a Slack message, with its kind and where it sits. */
export function slackTexts(m: SlackMessage): Array<{ type: string; text: string; where: string }> {
  const out: Array<{ type: string; text: string; where: string }> = [{ type: 'mrkdwn', text: m.text, where: 'fallback' }];
  const visit = (v: unknown, where: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => visit(x, `${where}[${i}]`));
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ((o.type === 'mrkdwn' || o.type === 'plain_text') && typeof o.text === 'string') out.push({ type: o.type, text: o.text, where });
      else for (const [k, x] of Object.entries(o)) visit(x, `${where}.${k}`);
    }
  };
  visit(m.blocks, 'blocks');
  return out;
}

/** Slack mrkdwn: no markup, mention, link or invisible character; event text only inside code spans; within limits. */
export function assertSlackHarmless(m: SlackMessage, label: string, knownLinks: Set<string>): void {
  assert.ok(m.blocks.length <= SLACK_LIMITS.blocks, `${label}: too many blocks`);
  for (const t of slackTexts(m)) {
    const at = `${label} ${t.where}`;
    // No raw < or > at all: no <!channel>, <@U..>, <#C..> or <url|text> can be formed.
    assert.doesNotMatch(t.text, /[<>]/, `${at}: markup character`);
    assert.doesNotMatch(t.text, /@(here|channel|everyone)\b/i, `${at}: broadcast mention`);
    assert.doesNotMatch(t.text, /:\/\//, `${at}: a URL a client could link`);
    assert.doesNotMatch(t.text, /\bwww\.[a-z]/i, `${at}: a www. host a client could link`);
    assert.doesNotMatch(t.text.replace(/\n/g, ''), INVISIBLE, `${at}: invisible or control character`);
    // Every & starts an entity we wrote: &amp; &lt; &gt;.
    assert.doesNotMatch(t.text.replace(/&(amp|lt|gt);/g, ''), /&/, `${at}: bare ampersand`);
    if (t.type === 'mrkdwn') {
      assert.equal((t.text.match(/`/g) ?? []).length % 2, 0, `${at}: unbalanced code span`);
      // Outside code spans only our own words: nothing of the event's text.
      const outside = t.text.split('`').filter((_, i) => i % 2 === 0).join(' ');
      assert.doesNotMatch(outside, EVENT_TEXT, `${at}: event text outside a code span`);
      assert.ok(t.text.length <= SLACK_LIMITS.sectionText, `${at}: too long`);
    } else {
      assert.ok(t.text.length <= SLACK_LIMITS.header, `${at}: header too long`);
    }
  }
  const urls = JSON.stringify(m.blocks).match(/"url":"[^"]*"/g) ?? [];
  for (const u of urls) assert.ok(knownLinks.has(JSON.parse(`{${u}}`).url as string), `${label}: unexpected button URL ${u}`);
  for (const b of m.blocks) if (Array.isArray(b.fields)) assert.ok(b.fields.length <= SLACK_LIMITS.fields, `${label}: too many fields`);
}

const HTML_TAGS = new Set(['!doctype', 'html', 'head', 'meta', 'title', 'body', 'p', 'strong', 'h2', 'h3', 'table', 'tr', 'th', 'td', 'a', 'ul', 'li', 'code']);
const MESSAGE_ID = /^<[A-Za-z0-9._-]+@okta-token-watch>$/;

/** Email: one-line bounded subject, header values and Message-IDs of a fixed alphabet, only our tags and links, no invisible characters. */
export function assertEmailHarmless(m: EmailMessage, label: string, knownLinks: Set<string>): void {
  assert.doesNotMatch(m.subject, /[\r\n]/, `${label}: CR/LF in subject`);
  assert.doesNotMatch(m.subject, INVISIBLE, `${label}: invisible character in subject`);
  assert.ok(m.subject.length <= 200, `${label}: subject too long`);
  for (const v of Object.values(m.headers)) assert.match(v, /^[A-Za-z0-9._-]+$/, `${label}: header value`);
  assert.match(m.messageId, MESSAGE_ID);
  if (m.inReplyTo !== undefined) assert.match(m.inReplyTo, MESSAGE_ID);
  if (m.references !== undefined) assert.match(m.references, MESSAGE_ID);

  const tags = [...m.html.matchAll(/<\/?([!a-zA-Z0-9]+)/g)].map((x) => (x[1] ?? '').toLowerCase());
  for (const t of tags) assert.ok(HTML_TAGS.has(t), `${label}: unexpected HTML tag <${t}>`);
  const hrefs = [...m.html.matchAll(/href="([^"]*)"/g)].map((x) => (x[1] ?? '').replace(/&amp;/g, '&'));
  for (const h of hrefs) assert.ok(knownLinks.has(h), `${label}: unexpected link ${h}`);
  for (const tag of m.html.match(/<[^>]*>/g) ?? []) assert.doesNotMatch(tag, /\son[a-z]+=|javascript:/i, `${label}: script in a tag: ${tag}`);
  assert.doesNotMatch(m.html, INVISIBLE, `${label}: invisible character in HTML`);

  let text = m.text;
  for (const l of knownLinks) text = text.split(l).join('');
  assert.doesNotMatch(text, /:\/\//, `${label}: linkable URL in the text part`);
  assert.doesNotMatch(text.replace(/\n/g, ''), INVISIBLE, `${label}: invisible character in the text part`);
  for (const line of m.text.split('\n')) assert.doesNotMatch(line, /^(Bcc|Subject|X-Evil):/, `${label}: a line that looks like a header`);
}

/** JSON for machines (webhook body, console line): one line, no raw markup or invisible character, parses back. */
export function assertJsonHarmless(body: string, label: string): unknown {
  assert.doesNotMatch(body, /[<>&\u2028\u2029\r\n]/, `${label}: raw markup or line break in the body`);
  assert.doesNotMatch(body, INVISIBLE, `${label}: raw invisible character in the body`);
  return JSON.parse(body);
}
