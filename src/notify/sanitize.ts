/**
 * Making attacker-controlled text harmless. Every string in an Alert that came from Okta (token
 * name, actor, user agent, reason, geo...) may have been chosen by the person who created the
 * token, so each output format gets it only through one of these functions:
 *
 * - `plainText`: the shared first step. Control, format (Cf: zero-width, bidi overrides, BOM, tag
 *   characters), line/paragraph separators and lone surrogates become a visible `<U+XXXX>`; CR, LF
 *   and TAB become a space; URL schemes are defanged (`https[:]//`) so no client turns them into a
 *   link; the result is bounded in length.
 * - `slackCode`: plainText, then wrapped in an inline code span (no bold/italic/strike inside),
 *   backticks replaced so the span cannot be closed early, `&`, `<`, `>` escaped (so `<!channel>`,
 *   `<@U123>` and `<https://x|y>` are shown, not parsed), and `@channel`/`@here`/`@everyone` broken.
 * - `escapeHtml`: for the email's HTML part, after plainText.
 * - `headerText`: for mail headers: plainText with every whitespace run folded to one space.
 */

/** Default bound for one field, in code points. */
export const FIELD_MAX = 256;

// Cc (C0/C1 controls), Cf (format: ZWSP..RLM, LRE..RLO, LRI..PDI, BOM, soft hyphen, tags...),
// Zl/Zp (U+2028/2029), Cs (lone surrogates), and the invisible Hangul fillers, which are letters.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0]/gu;

function codePoint(ch: string): string {
  return `<U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}>`;
}

/** Makes invisible and control characters visible; CR, LF and TAB become a space. */
export function visible(s: string): string {
  return s.replace(INVISIBLE, (ch) => (ch === '\n' || ch === '\r' || ch === '\t' ? ' ' : codePoint(ch)));
}

/** Breaks URL schemes and `www.` so that no client auto-links them. */
export function defang(s: string): string {
  return s.replace(/([a-z][a-z0-9+.-]{0,30}):\/\//gi, '$1[:]//').replace(/\bwww\./gi, 'www[.]');
}

/** Truncates to `max` code points (never splitting a surrogate pair), marking the cut with `…`. */
export function bound(s: string, max: number): string {
  const points = Array.from(s);
  if (points.length <= max) return s;
  return points.slice(0, Math.max(0, max - 1)).join('') + '…';
}

/** The shared first step for any human-readable format; null, undefined and blank become `-`. */
export function plainText(value: unknown, max = FIELD_MAX): string {
  if (value === null || value === undefined) return '-';
  const s = bound(defang(visible(String(value))), max).trim();
  return s === '' ? '-' : s;
}

/** Escapes Slack's three control characters. */
export function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Breaks broadcast mentions that Slack may parse from bare text (`@channel`, `@here`, `@everyone`). */
export function breakMentions(s: string): string {
  return s.replace(/@(?=(channel|here|everyone|group)\b)/gi, '\uFF20');
}

/**
 * One attacker-controlled value as Slack mrkdwn: an inline code span, so no formatting, mention or
 * link can come out of it. `-` (unknown) is left bare.
 */
export function slackCode(value: unknown, max = FIELD_MAX): string {
  const s = plainText(value, max);
  if (value === null || value === undefined || s === '-') return '-';
  // A backtick would close the span; U+02CB looks alike and cannot.
  return '`' + escapeSlack(breakMentions(s.replace(/`/g, '\u02CB'))) + '`';
}

/**
 * Cuts already-escaped mrkdwn to Slack's limit without leaving half an entity (`&am`) behind.
 * Fields are bounded long before this; it is the last line of defence for the 3000-char block limit.
 */
export function fitMrkdwn(s: string, max: number): string {
  if (s.length <= max) return s;
  // Neither half an entity (`&am`) nor half a surrogate pair (a lone surrogate is invalid text).
  const cut = s.slice(0, max - 1).replace(/[\uD800-\uDBFF]$/, '').replace(/&[a-z]{0,4}$/i, '');
  return cut + '…';
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** One value for the email's HTML part. */
export function htmlText(value: unknown, max = FIELD_MAX): string {
  return escapeHtml(plainText(value, max));
}

/** One value for a mail header: one line, no control characters, bounded. */
export function headerText(value: unknown, max = 80): string {
  return bound(plainText(value, max * 4).replace(/\s+/g, ' '), max);
}

/**
 * A link we built ourselves (Okta Admin Console pages), accepted only when it is an absolute https
 * URL (or http on loopback, for tests); anything else is dropped rather than rendered.
 */
export function safeLink(url: string | null | undefined): string | null {
  if (!url || url.length > 2000) return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.username || u.password) return null;
  if (u.protocol === 'https:') return u.toString();
  if (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return u.toString();
  return null;
}

// What `jsonEscape` writes as \u escapes: every character `visible` shows as <U+XXXX> (U+2028/2029
// included: JSON.stringify leaves them raw). A raw TAB, CR or LF in JSON text can only be
// whitespace between tokens (inside strings JSON.stringify escapes them), so indentation stays.
const JSON_INVISIBLE = /(?![\t\n\r])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0]/gu;
const JSON_INVISIBLE_OR_MARKUP = /[<>&]|(?![\t\n\r])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0]/gu;

/**
 * Rewrites JSON text so that no control (C0, C1), format (zero-width, bidi overrides and isolates,
 * BOM, tags), separator or lone-surrogate character is left raw: each becomes a `\uXXXX` escape,
 * which JSON.parse turns back into the exact same string. With `markup`, `<`, `>` and `&` are
 * escaped too, for JSON that may be pasted into HTML. Only valid on JSON text (outside strings,
 * JSON holds none of these characters).
 */
export function jsonEscape(json: string, opts: { markup?: boolean } = {}): string {
  return json.replace(opts.markup ? JSON_INVISIBLE_OR_MARKUP : JSON_INVISIBLE, (ch) => {
    let out = '';
    for (let i = 0; i < ch.length; i++) out += '\\u' + ch.charCodeAt(i).toString(16).padStart(4, '0');
    return out;
  });
}

/**
 * JSON that is safe to embed anywhere: `<`, `>`, `&`, U+2028/2029 and every invisible character are
 * written as \u escapes, so the bytes on the wire carry no markup or bidi trick while JSON.parse
 * gives back exactly the same strings. Strings are bounded to `maxString` code points.
 */
export function safeJson(value: unknown, maxString = 4096): string {
  const bounded = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return bound(v, maxString);
    if (depth > 8 || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.slice(0, 1000).map((x) => bounded(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = bounded(x, depth + 1);
    return out;
  };
  return jsonEscape(JSON.stringify(bounded(value, 0)), { markup: true });
}

/**
 * Text for a terminal: line breaks are kept, and on each line every control, format and separator
 * character (ESC and so every escape sequence, C1 CSI, bidi overrides, zero-width characters) is
 * shown as `<U+XXXX>` exactly as `plainText` shows it, so nothing written can clear the screen,
 * retitle the window, hide a link or reorder what the reader sees.
 */
export function terminalText(s: string): string {
  return s.split('\n').map(visible).join('\n');
}
