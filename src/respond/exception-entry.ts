import { stringify } from 'yaml';
import type { Alert } from '../detect/alert';
import { matchExceptions, parseExceptions } from '../detect/exceptions';
import { MAX_GLOB_PATTERN_CHARS } from '../detect/glob';
import type { OktaLogEvent } from '../okta/log-event';

/** The exceptions-file entry that would suppress an alert's source, or why there is none. */
export type ExceptionEntryOffer =
  | {
      /** One `exceptions:` list item in YAML, indented to paste under `exceptions:` (values double-quoted and escaped). */
      yaml: string;
      /** The same entry as a plain object (for a JSON exceptions file). */
      entry: { reason: string; actor: string; tokenName?: string };
    }
  | { yaml: null; why: string };

const MAX_REASON = 500;

/**
 * Builds the entry for an alert marked Expected: the alert's actor (login, else id) and, when the
 * token has a usable name, that name as `tokenName`, with the analyst's reason. It only offers
 * text; the file is never edited. Every value is event text, so the entry is written by the YAML
 * library with double-quoted, escaped scalars (a newline or a `#` in a token name cannot add a key
 * or end the value), and then read back through the exceptions parser and matched against the
 * event itself: an entry that would not load, or would not suppress this very event, is never
 * offered.
 */
export function exceptionEntryFor(alert: Alert, rawEvent: OktaLogEvent | null, reason: string, by: string, now: Date): ExceptionEntryOffer {
  const actor = alert.actor.login ?? alert.actor.id;
  if (!actor) return { yaml: null, why: 'the alert names no actor, so no exception can describe its source' };
  const note = ` (marked expected by ${by} on ${now.toISOString().slice(0, 10)}, alert ${alert.id})`;
  const fullReason = Array.from(`${reason}`).slice(0, Math.max(1, MAX_REASON - Array.from(note).length)).join('') + note;
  const entry: { reason: string; actor: string; tokenName?: string } = { reason: fullReason.slice(0, MAX_REASON), actor };
  const name = alert.token?.name ?? null;
  // A name made only of wildcards would match every name, and the parser refuses it; a long one is
  // cut to the glob's limit with a trailing `*` (still matching this name). `*` and `?` in a name
  // stay wildcards (the format has no escape), so the entry may match a little more than this name.
  if (name !== null && /[^*?\s]/.test(name)) {
    // The file's values are trimmed when read: white space at either end becomes a `*`.
    const core = name.trim();
    const cps = Array.from(`${name === name.trimStart() ? '' : '*'}${core}${name === name.trimEnd() ? '' : '*'}`);
    entry.tokenName = cps.length > MAX_GLOB_PATTERN_CHARS ? cps.slice(0, MAX_GLOB_PATTERN_CHARS - 1).join('') + '*' : cps.join('');
  }
  const yaml = stringify([entry], { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', doubleQuotedAsJSON: true, lineWidth: 0 })
    .trimEnd()
    // Every value is double-quoted, so any control, format (bidi, zero-width) or unassigned
    // character left is inside one: written as a YAML escape, the entry survives a terminal (which
    // would show such characters as markers) and is copied exactly.
    .replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/gu, (c) => (c === '\n' ? c : yamlEscape(c)))
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
  const parsed = parseExceptions(`exceptions:\n${yaml}\n`, 'yaml');
  if (!parsed.set) return { yaml: null, why: `no valid entry can be written for this source (${parsed.problems[0] ?? 'unknown problem'})` };
  if (rawEvent && !matchExceptions(parsed.set, rawEvent, now)) return { yaml: null, why: 'no entry built from the alert matches its event (the event is unreadable in part)' };
  return { yaml, entry };
}

function yamlEscape(c: string): string {
  const cp = c.codePointAt(0)!;
  return cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
}
