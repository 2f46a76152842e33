import crypto from 'node:crypto';
import { usableUuid } from '../okta/log-event';
import { obj } from './fields';

/**
 * An event as Okta sent it, kept safely: its dedupe key and its raw JSON, bounded. Nothing here
 * trusts the entry's shape or types (it may not even be an object), and nothing here throws.
 */

/** The most raw JSON stored for one event; a real event is a few kilobytes. */
export const MAX_RAW_CHARS = 256 * 1024;

/** Bounds for the bounded serialiser: depth, items per array or object, characters per string. */
const MAX_DEPTH = 32;
const MAX_ITEMS = 1000;
const MAX_STRING = 16 * 1024;
const CUT = '"…"';

/**
 * The dedupe key of one System Log entry: its uuid when usable, else `unreadable-<hash>` of its
 * content, so the same entry read again (a cursor fallback, a backfill overlap) is recognised and
 * never alerted twice.
 */
export function entryKey(entry: unknown): string {
  const uuid = obj(entry)?.uuid;
  if (usableUuid(uuid)) return uuid;
  let basis: string | undefined;
  try {
    basis = JSON.stringify(entry);
  } catch {
    // Too deeply nested for JSON.stringify: the bounded form is deterministic too.
    basis = boundedJson(entry, 4 * MAX_RAW_CHARS);
  }
  return `unreadable-${crypto.createHash('sha256').update(basis ?? String(entry)).digest('hex').slice(0, 40)}`;
}

/**
 * The JSON kept in the events table: the entry exactly as parsed when it fits in MAX_RAW_CHARS,
 * else the bounded form (still valid JSON, long parts cut and marked `…`).
 */
export function rawJson(entry: unknown): string {
  try {
    const s = JSON.stringify(entry);
    if (s !== undefined && s.length <= MAX_RAW_CHARS) return s;
  } catch {
    // Deeper than JSON.stringify's stack allows: fall through to the bounded form.
  }
  return boundedJson(entry, MAX_RAW_CHARS);
}

/** Cuts a string to `max` UTF-16 units without leaving half a surrogate pair, marking the cut. */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  let c = s.slice(0, Math.max(0, max - 1));
  if (/[\uD800-\uDBFF]$/.test(c)) c = c.slice(0, -1);
  return `${c}…`;
}

/**
 * Valid JSON of any value, about `maxChars` long at most: depth, items and strings are bounded, and
 * once the budget is spent the remaining items become `"…"`. Recursion stops at MAX_DEPTH, so an
 * entry nested 100,000 deep (which JSON.parse accepts and JSON.stringify cannot write) is fine.
 */
export function boundedJson(value: unknown, maxChars: number): string {
  const parts: string[] = [];
  let used = 0;
  const push = (s: string): void => {
    parts.push(s);
    used += s.length;
  };
  const write = (v: unknown, depth: number): void => {
    if (v === null || typeof v === 'boolean') return push(String(v));
    if (typeof v === 'number') return push(Number.isFinite(v) ? String(v) : 'null');
    if (typeof v === 'string') return push(JSON.stringify(cut(v, Math.max(1, Math.min(MAX_STRING, maxChars - used)))));
    if (typeof v !== 'object') return push('null');
    if (depth >= MAX_DEPTH) return push(CUT);
    if (Array.isArray(v)) {
      push('[');
      for (let i = 0; i < v.length; i++) {
        if (i > 0) push(',');
        if (i >= MAX_ITEMS || used >= maxChars) {
          push(CUT);
          break;
        }
        write(v[i], depth + 1);
      }
      return push(']');
    }
    push('{');
    let i = 0;
    for (const k of Object.keys(v)) {
      if (i > 0) push(',');
      if (i >= MAX_ITEMS || used >= maxChars) {
        push(`${CUT}:${CUT}`);
        break;
      }
      push(JSON.stringify(cut(k, 200)));
      push(':');
      write((v as Record<string, unknown>)[k], depth + 1);
      i++;
    }
    return push('}');
  };
  write(value, 0);
  return parts.join('');
}
