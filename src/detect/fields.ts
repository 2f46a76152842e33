import type { OktaLogEvent } from '../okta/log-event';

/** The longest text copied from an event into an alert. */
export const MAX_TEXT = 1000;

/**
 * Event text, bounded, or null. Every field of an Okta event may be missing, null or of an odd
 * type (a hostile or buggy producer can send anything), so nothing here trusts the declared type.
 * Numbers and booleans become text; objects and arrays do not.
 */
export function text(value: unknown, max = MAX_TEXT): string | null {
  let s: string;
  if (typeof value === 'string') s = value;
  else if (typeof value === 'number' && Number.isFinite(value)) s = String(value);
  else if (typeof value === 'boolean') s = String(value);
  else return null;
  if (s.length <= max) return s;
  let cut = s.slice(0, Math.max(0, max - 1));
  // Never leave half of a surrogate pair at the cut.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** A plain object, or null (arrays and primitives are not objects here). */
export function obj(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/**
 * A string holding JSON (`["nzo1"]`, `{...}`) parsed; anything else as it is. Okta writes some
 * debugData values as JSON text; a long or broken one stays text.
 */
export function parseJsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (!/^[[{]/.test(t) || t.length > 20_000) return value;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return value;
  }
}

/** A whole number (or a string of digits), or null. */
export function integer(value: unknown): number | null {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^\d{1,15}$/.test(value.trim())) return Number(value.trim());
  return null;
}

/** A boolean (or the text true/false), or null. */
export function bool(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    if (/^true$/i.test(value.trim())) return true;
    if (/^false$/i.test(value.trim())) return false;
  }
  return null;
}

/** A field of a nested object, tolerating anything on the way. */
export function pick(root: unknown, ...keys: string[]): unknown {
  let cur: unknown = root;
  for (const k of keys) {
    const o = obj(cur);
    if (!o) return undefined;
    cur = o[k];
  }
  return cur;
}

/**
 * The target whose type is `Token`, looked up by type and never by position (Okta does not
 * promise an order), or null when the event has none.
 */
export function tokenTarget(event: OktaLogEvent): { id: string | null; name: string | null } | null {
  const targets: unknown = event.target;
  if (!Array.isArray(targets)) return null;
  for (const t of targets) {
    const o = obj(t);
    if (o && o.type === 'Token') return { id: text(o.id, 200), name: text(o.displayName) };
  }
  return null;
}

/** The shape Okta gives API token ids; only such ids are ever put into a URL path. */
export const TOKEN_ID_PATTERN = /^00T[A-Za-z0-9]{10,30}$/;
