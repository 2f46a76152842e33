import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { formatDuration, parseDuration } from '../duration';
import type { OktaLogEvent } from '../okta/log-event';
import { parseCron, previousOccurrence, type CronSchedule } from './cron';
import { obj, pick } from './fields';
import { fileReadProblem } from '../file-problem';
import { compileGlob, MAX_GLOB_PATTERN_CHARS, type GlobMatcher } from './glob';

/**
 * Known benign sources, from EXCEPTIONS_FILE (YAML or JSON). The format is part of the product's
 * interface (docs-snippets/exceptions.md). Validation is strict on purpose: an unknown key is
 * refused because a typo (`tokename:`) would otherwise drop a condition and silently widen what an
 * entry suppresses, and an entry with no match field at all is refused because it would suppress
 * every alert.
 */

/** One `exceptions:` entry, compiled. Every match field present must match. */
export interface ExceptionEntry {
  kind: 'exception';
  /** 1-based position in the `exceptions:` list. */
  number: number;
  line: number | null;
  reason: string;
  actor?: string;
  tokenName?: string;
  ip?: string;
  userAgent?: string;
  /** The exception stops matching at this instant. */
  expires?: Date;
  tokenNameGlob?: GlobMatcher;
  ipBlock?: net.BlockList;
}

/** One `maintenance:` window, compiled. */
export interface MaintenanceWindow {
  kind: 'maintenance';
  number: number;
  line: number | null;
  reason: string;
  /** Only these actors (ids or logins); every actor when absent. */
  actors?: string[];
  window: { type: 'cron'; cron: CronSchedule; durationMs: number } | { type: 'once'; start: Date; end: Date };
}

/** Everything EXCEPTIONS_FILE holds. */
export interface ExceptionSet {
  exceptions: ExceptionEntry[];
  maintenance: MaintenanceWindow[];
}

export const EMPTY_EXCEPTIONS: ExceptionSet = Object.freeze({ exceptions: [], maintenance: [] }) as ExceptionSet;

/** What suppressed an event. */
export interface ExceptionMatch {
  entry: ExceptionEntry | MaintenanceWindow;
  /** `<reason> (exception #2: actor, ip)` or `<reason> (maintenance #1: cron 0 2 * * * for 4h)`. */
  text: string;
}

/** One line of `status`: an exception or window and whether it is still in force. */
export interface ExceptionStatus {
  kind: 'exception' | 'maintenance';
  number: number;
  line: number | null;
  reason: string;
  /** Short description of what it matches. */
  matches: string;
  expires: string | null;
  expired: boolean;
}

/** The most an exceptions file may hold; more is almost certainly a mistake. */
const MAX_FILE_BYTES = 1_000_000;
const MAX_ENTRIES = 1000;
/** The longest maintenance window: anything longer should be an exception with `expires`. */
const MAX_WINDOW_MS = 31 * 86_400_000;

const EXCEPTION_KEYS = ['reason', 'actor', 'tokenName', 'ip', 'userAgent', 'expires'] as const;
const MATCH_KEYS = ['actor', 'tokenName', 'ip', 'userAgent'] as const;
const MAINTENANCE_KEYS = ['reason', 'cron', 'duration', 'start', 'end', 'actors'] as const;

/** Reads and validates the file; returns the set or one sentence per problem, each naming EXCEPTIONS_FILE. */
export function loadExceptionsFile(file: string): { set: ExceptionSet; problems: [] } | { set: null; problems: string[] } {
  let textContent: string;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) return fail(['EXCEPTIONS_FILE is not a regular file: give the path of a YAML or JSON exceptions file.']);
    if (stat.size > MAX_FILE_BYTES) return fail([`EXCEPTIONS_FILE is larger than ${MAX_FILE_BYTES / 1_000_000} MB: an exceptions file should be small; check the path.`]);
    textContent = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return fail([fileReadProblem('EXCEPTIONS_FILE', file, err)]);
  }
  return parseExceptions(textContent, path.extname(file).toLowerCase() === '.json' ? 'json' : 'yaml');
}

function fail(problems: string[]): { set: null; problems: string[] } {
  return { set: null, problems };
}

/** Parses and validates exceptions text (YAML, or JSON, which is read with the same line positions). */
export function parseExceptions(source: string, format: 'yaml' | 'json'): { set: ExceptionSet; problems: [] } | { set: null; problems: string[] } {
  const problems: string[] = [];
  const lc = new LineCounter();
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined): number | null =>
    node?.range ? lc.linePos(node.range[0]).line : null;
  const at = (line: number | null): string => (line === null ? 'EXCEPTIONS_FILE' : `EXCEPTIONS_FILE line ${line}`);

  if (format === 'json') {
    try {
      JSON.parse(source);
    } catch (err) {
      return fail([`${at(jsonErrorLine(source, err))}: the file is not valid JSON; fix the syntax there (or use YAML).`]);
    }
  }
  const doc = parseDocument(source, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, version: '1.2', schema: 'core' });
  if (doc.errors.length > 0) {
    for (const e of doc.errors.slice(0, 5)) {
      const line = lc.linePos(e.pos[0]).line;
      const what = e.code === 'DUPLICATE_KEY' ? 'a key appears twice in the same entry; keep one' : `the file is not valid ${format === 'json' ? 'JSON' : 'YAML'} (${e.message.split('\n')[0]!.slice(0, 120)})`;
      problems.push(`${at(line)}: ${what}.`);
    }
    return fail(problems);
  }

  const set: ExceptionSet = { exceptions: [], maintenance: [] };
  const root = doc.contents as YamlNode | null;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return { set, problems: [] };
  if (!isMap(root)) return fail([`${at(lineOf(root))}: the file must be a mapping with the keys exceptions and maintenance.`]);

  // Anchors and aliases are refused: they would let one entry change another out of sight.
  const alias = findAlias(root);
  if (alias) return fail([`${at(lineOf(alias))}: YAML aliases (*name) are not supported in the exceptions file; write each entry out in full.`]);

  for (const pair of root.items) {
    const key = keyName(pair);
    const line = lineOf(pair.key as YamlNode);
    const value = pair.value as YamlNode | null;
    if (key !== 'exceptions' && key !== 'maintenance') {
      problems.push(`${at(line)}: unknown top-level key ${describeKey(key)}; only exceptions and maintenance are allowed.`);
      continue;
    }
    if (value === null || (isScalar(value) && value.value === null)) continue;
    if (!isSeq(value)) {
      problems.push(`${at(line)}: ${key} must be a list of entries (each starting with "- ").`);
      continue;
    }
    if (value.items.length > MAX_ENTRIES) {
      problems.push(`${at(line)}: ${key} has more than ${MAX_ENTRIES} entries; merge them.`);
      continue;
    }
    value.items.forEach((item, i) => {
      const node = item as YamlNode;
      const entryLine = lineOf(node) ?? line;
      if (!isMap(node)) {
        problems.push(`${at(entryLine)}: ${key} entry #${i + 1} must be a mapping of keys to values.`);
        return;
      }
      if (key === 'exceptions') {
        const e = compileException(node, i + 1, entryLine, lineOf, at, problems);
        if (e) set.exceptions.push(e);
      } else {
        const w = compileWindow(node, i + 1, entryLine, lineOf, at, problems);
        if (w) set.maintenance.push(w);
      }
    });
  }
  return problems.length > 0 ? fail(problems) : { set, problems: [] };
}

/** The first alias node anywhere under n, or null. */
function findAlias(n: unknown): YamlNode | null {
  if (isAlias(n)) return n;
  if (isSeq(n)) {
    for (const item of n.items) {
      const a = findAlias(item);
      if (a) return a;
    }
  }
  if (isMap(n)) {
    for (const pair of n.items) {
      const a = findAlias(pair.key) ?? findAlias(pair.value);
      if (a) return a;
    }
  }
  return null;
}

type LineOf = (node: { range?: [number, number, number] | null } | null | undefined) => number | null;
type At = (line: number | null) => string;

/** Reads an entry's fields: strings only; reports unknown keys and non-text values. */
function readFields(
  node: YamlNode,
  allowed: readonly string[],
  label: string,
  entryLine: number | null,
  lineOf: LineOf,
  at: At,
  problems: string[],
): { values: Map<string, { value: unknown; line: number | null }>; ok: boolean } {
  const values = new Map<string, { value: unknown; line: number | null }>();
  let ok = true;
  if (!isMap(node)) return { values, ok: false };
  for (const pair of node.items) {
    const key = keyName(pair);
    const line = lineOf(pair.key as YamlNode) ?? entryLine;
    if (key === null || !allowed.includes(key)) {
      const hint = key !== null ? suggestion(key, allowed) : '';
      problems.push(`${at(line)}: ${label} has an unknown key ${describeKey(key)}${hint}; allowed keys are ${allowed.join(', ')}.`);
      ok = false;
      continue;
    }
    const v = pair.value as YamlNode | null;
    if (isSeq(v)) {
      values.set(key, { value: v.items.map((x) => (isScalar(x) ? x.value : x)), line });
    } else if (isScalar(v)) {
      values.set(key, { value: v.value, line });
    } else {
      values.set(key, { value: v === null ? null : v, line });
    }
  }
  return { values, ok };
}

function compileException(node: YamlNode, n: number, entryLine: number | null, lineOf: LineOf, at: At, problems: string[]): ExceptionEntry | null {
  const label = `exception #${n}`;
  const before = problems.length;
  const { values, ok } = readFields(node, EXCEPTION_KEYS, label, entryLine, lineOf, at, problems);
  const entry: ExceptionEntry = { kind: 'exception', number: n, line: entryLine, reason: '' };
  const reason = requiredText(values, 'reason', label, entryLine, at, problems);
  if (reason !== null) entry.reason = reason;

  for (const key of MATCH_KEYS) {
    const f = values.get(key);
    if (!f) continue;
    const v = textValue(f.value);
    if (v === null) {
      problems.push(`${at(f.line)}: ${label}: ${key} must be non-empty text (quote it if it looks like a number or date).`);
      continue;
    }
    if (key === 'actor') entry.actor = v;
    if (key === 'userAgent') entry.userAgent = v;
    if (key === 'tokenName') {
      if (/^[*?]+$/.test(v)) {
        problems.push(`${at(f.line)}: ${label}: tokenName must contain some literal text; a pattern of only * and ? matches every token.`);
        continue;
      }
      if (Array.from(v).length > MAX_GLOB_PATTERN_CHARS) {
        // Bounds the matcher's work per event (see glob.ts); no real token name needs more.
        problems.push(`${at(f.line)}: ${label}: tokenName is longer than ${MAX_GLOB_PATTERN_CHARS} characters; shorten the pattern (use * for the parts that vary).`);
        continue;
      }
      entry.tokenName = v;
      entry.tokenNameGlob = compileGlob(v);
    }
    if (key === 'ip') {
      const block = parseIpOrCidr(v);
      if (typeof block === 'string') {
        problems.push(`${at(f.line)}: ${label}: ip ${block}.`);
        continue;
      }
      entry.ip = v;
      entry.ipBlock = block;
    }
  }
  if (!MATCH_KEYS.some((k) => values.has(k))) {
    problems.push(`${at(entryLine)}: ${label} has no match field; give at least one of ${MATCH_KEYS.join(', ')} (an entry without one would suppress every alert).`);
  }
  const exp = values.get('expires');
  if (exp) {
    const d = parseWhen(exp.value);
    if (d === null) problems.push(`${at(exp.line)}: ${label}: expires must be a date like 2027-03-31 or a time like 2027-03-31T18:00:00Z.`);
    else entry.expires = d;
  }
  return ok && problems.length === before ? entry : null;
}

function compileWindow(node: YamlNode, n: number, entryLine: number | null, lineOf: LineOf, at: At, problems: string[]): MaintenanceWindow | null {
  const label = `maintenance #${n}`;
  const before = problems.length;
  const { values, ok } = readFields(node, MAINTENANCE_KEYS, label, entryLine, lineOf, at, problems);
  const reason = requiredText(values, 'reason', label, entryLine, at, problems) ?? '';
  const has = (k: string): boolean => values.has(k);
  let window: MaintenanceWindow['window'] | null = null;

  if (has('cron') && (has('start') || has('end'))) {
    problems.push(`${at(entryLine)}: ${label} mixes cron with start/end; use cron and duration for a recurring window, or start and end for a one-off.`);
  } else if (has('cron') || has('duration')) {
    const c = values.get('cron');
    const d = values.get('duration');
    if (!c || !d) {
      problems.push(`${at(entryLine)}: ${label} needs both cron and duration for a recurring window.`);
    } else {
      const cronText = textValue(c.value);
      let schedule: CronSchedule | null = null;
      try {
        if (cronText === null) throw new Error('cron must be text, like "0 2 * * 6"');
        schedule = parseCron(cronText);
      } catch (err) {
        problems.push(`${at(c.line)}: ${label}: ${(err as Error).message} (five fields, evaluated in UTC).`);
      }
      const durText = textValue(d.value);
      const ms = durText === null ? null : parseDuration(durText);
      if (ms === null || ms <= 0 || ms > MAX_WINDOW_MS) {
        problems.push(`${at(d.line)}: ${label}: duration must be a length like 30m, 4h or 2d, at most 31d.`);
      } else if (schedule) {
        window = { type: 'cron', cron: schedule, durationMs: ms };
      }
    }
  } else if (has('start') || has('end')) {
    const s = values.get('start');
    const e = values.get('end');
    if (!s || !e) {
      problems.push(`${at(entryLine)}: ${label} needs both start and end for a one-off window.`);
    } else {
      const start = parseWhen(s.value);
      const end = parseWhen(e.value);
      if (start === null) problems.push(`${at(s.line)}: ${label}: start must be a time with a zone, like 2026-12-05T00:00:00Z.`);
      if (end === null) problems.push(`${at(e.line)}: ${label}: end must be a time with a zone, like 2026-12-07T00:00:00Z.`);
      if (start && end) {
        if (end.getTime() <= start.getTime()) problems.push(`${at(e.line)}: ${label}: end must be after start.`);
        else if (end.getTime() - start.getTime() > MAX_WINDOW_MS) problems.push(`${at(e.line)}: ${label}: a window may last at most 31 days; use an exception with expires for longer.`);
        else window = { type: 'once', start, end };
      }
    }
  } else {
    problems.push(`${at(entryLine)}: ${label} has no window; give cron and duration, or start and end.`);
  }

  let actors: string[] | undefined;
  const a = values.get('actors');
  if (a) {
    const list = Array.isArray(a.value) ? a.value.map(textValue) : [textValue(a.value)];
    if (list.length === 0 || list.some((x) => x === null)) {
      problems.push(`${at(a.line)}: ${label}: actors must be a non-empty list of actor ids or logins, like [ops-admin@example.com].`);
    } else {
      actors = list as string[];
    }
  }
  if (!ok || problems.length !== before || window === null) return null;
  return { kind: 'maintenance', number: n, line: entryLine, reason, ...(actors ? { actors } : {}), window };
}

function requiredText(values: Map<string, { value: unknown; line: number | null }>, key: string, label: string, entryLine: number | null, at: At, problems: string[]): string | null {
  const f = values.get(key);
  const v = f ? textValue(f.value) : null;
  if (v === null) {
    problems.push(`${at(f?.line ?? entryLine)}: ${label} needs a ${key}: say in words why these events are expected.`);
    return null;
  }
  if (v.length > 500) {
    problems.push(`${at(f?.line ?? entryLine)}: ${label}: ${key} is longer than 500 characters; shorten it.`);
    return null;
  }
  return v;
}

/** Text (trimmed, non-empty), or null; numbers are not silently turned into text. */
function textValue(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const t = v.trim();
  return t === '' ? null : t;
}

function keyName(pair: Pair): string | null {
  const k = pair.key;
  if (isScalar(k) && typeof k.value === 'string') return k.value;
  return null;
}

/** A key from the file, shown only when it is a plain identifier (never arbitrary file text). */
function describeKey(key: string | null): string {
  return key !== null && /^[A-Za-z0-9_-]{1,40}$/.test(key) ? `"${key}"` : '(not a plain name)';
}

function suggestion(key: string, allowed: readonly string[]): string {
  const k = key.toLowerCase();
  const near = allowed.find((a) => editDistance(a.toLowerCase(), k) <= 2);
  return near ? ` (did you mean ${near}?)` : '';
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || b.length > 40) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * A date (`2027-03-31`, meaning 00:00 UTC of that day) or a date-time with an explicit zone.
 * A time without a zone is refused: it would depend on the server's time zone.
 */
export function parseWhen(v: unknown): Date | null {
  if (typeof v !== 'string') return null;
  const t = v.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
    const d = new Date(`${t}T00:00:00.000Z`);
    return Number.isFinite(d.getTime()) && d.toISOString().startsWith(t) ? d : null;
  }
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(t)) {
    const d = new Date(t.replace(' ', 'T'));
    return Number.isFinite(d.getTime()) ? d : null;
  }
  return null;
}

/** A BlockList holding one address or CIDR block (v4 or v6), or a reason it is not one. */
export function parseIpOrCidr(v: string): net.BlockList | string {
  const [addrRaw, prefixRaw, extra] = v.split('/');
  if (extra !== undefined) return 'must be one address or CIDR block, like 203.0.113.0/24 or 2001:db8::/32';
  const addr = normaliseIp(addrRaw ?? '');
  const family = net.isIP(addr);
  if (family === 0) return 'must be an IPv4 or IPv6 address or CIDR block, like 203.0.113.0/24 or 2001:db8::/32';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const block = new net.BlockList();
  if (prefixRaw === undefined) {
    block.addAddress(addr, type);
    return block;
  }
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixRaw) || Number(prefixRaw) > max) return `has a prefix length outside 1-${max}`;
  if (Number(prefixRaw) === 0) return 'has prefix length 0, which matches every address; give a narrower block';
  block.addSubnet(addr, Number(prefixRaw), type);
  return block;
}

/** IPv4-mapped IPv6 (`::ffff:192.0.2.1`) is compared as the IPv4 address it carries. */
function normaliseIp(ip: string): string {
  const t = ip.trim();
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(t);
  return m ? m[1]! : t;
}

function ipMatches(block: net.BlockList, ip: string | null): boolean {
  if (ip === null) return false;
  const addr = normaliseIp(ip);
  const family = net.isIP(addr);
  if (family === 0) return false;
  try {
    return block.check(addr, family === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** An actor setting (id, or login compared case-insensitively) against the event's actor. */
function actorMatches(want: string, event: OktaLogEvent): boolean {
  const id = str(pick(event, 'actor', 'id'));
  const login = str(pick(event, 'actor', 'alternateId'));
  return (id !== null && id === want) || (login !== null && login.toLowerCase() === want.toLowerCase());
}

/** Which match fields of an exception the event satisfies, or null when one of them fails. */
function exceptionMatches(e: ExceptionEntry, event: OktaLogEvent): string[] | null {
  const matched: string[] = [];
  if (e.actor !== undefined) {
    if (!actorMatches(e.actor, event)) return null;
    matched.push('actor');
  }
  if (e.tokenNameGlob) {
    // The full name, not the bounded copy an alert shows: a long name must not match by truncation.
    const target: unknown = Array.isArray(event.target) ? event.target.find((t) => obj(t)?.type === 'Token') : undefined;
    const name = str(obj(target)?.displayName);
    if (name === null || !e.tokenNameGlob.test(name)) return null;
    matched.push('tokenName');
  }
  if (e.ipBlock) {
    if (!ipMatches(e.ipBlock, str(pick(event, 'client', 'ipAddress')))) return null;
    matched.push('ip');
  }
  if (e.userAgent !== undefined) {
    const ua = str(pick(event, 'client', 'userAgent', 'rawUserAgent'));
    if (ua === null || !ua.includes(e.userAgent)) return null;
    matched.push('userAgent');
  }
  // An entry always has at least one match field (validated); this guards hand-built sets.
  return matched.length > 0 ? matched : null;
}

function windowMatches(w: MaintenanceWindow, event: OktaLogEvent): boolean {
  if (w.actors && !w.actors.some((a) => actorMatches(a, event))) return false;
  const published = Date.parse(str(event.published) ?? '');
  if (!Number.isFinite(published)) return false;
  if (w.window.type === 'once') return published >= w.window.start.getTime() && published < w.window.end.getTime();
  // In the window when the latest occurrence at or before `published` began less than `duration` ago.
  return previousOccurrence(w.window.cron, new Date(published), new Date(published - w.window.durationMs)) !== null;
}

function describeWindow(w: MaintenanceWindow): string {
  const who = w.actors ? `, actors ${w.actors.join(', ')}` : '';
  return w.window.type === 'cron'
    ? `cron ${w.window.cron.source} for ${formatDuration(w.window.durationMs)}${who}`
    : `${w.window.start.toISOString()} to ${w.window.end.toISOString()}${who}`;
}

/**
 * The first exception or maintenance window that covers the event, or null. Exceptions are
 * checked against `now` for expiry; windows against the event's `published` time, so a late or
 * backfilled event is judged by when it happened.
 */
export function matchExceptions(set: ExceptionSet, event: OktaLogEvent, now: Date): ExceptionMatch | null {
  for (const e of set.exceptions) {
    if (e.expires && now.getTime() >= e.expires.getTime()) continue;
    const fields = exceptionMatches(e, event);
    if (fields) return { entry: e, text: `${e.reason} (exception #${e.number}: ${fields.join(', ')})` };
  }
  for (const w of set.maintenance) {
    if (windowMatches(w, event)) return { entry: w, text: `${w.reason} (maintenance #${w.number}: ${describeWindow(w)})` };
  }
  return null;
}

/** Every exception and window, with whether it is still in force, for `status`. */
export function exceptionsStatus(set: ExceptionSet, now: Date): ExceptionStatus[] {
  const out: ExceptionStatus[] = [];
  for (const e of set.exceptions) {
    const parts: string[] = [];
    if (e.actor !== undefined) parts.push(`actor ${e.actor}`);
    if (e.tokenName !== undefined) parts.push(`tokenName ${e.tokenName}`);
    if (e.ip !== undefined) parts.push(`ip ${e.ip}`);
    if (e.userAgent !== undefined) parts.push(`userAgent contains ${e.userAgent}`);
    out.push({
      kind: 'exception',
      number: e.number,
      line: e.line,
      reason: e.reason,
      matches: parts.join('; '),
      expires: e.expires ? e.expires.toISOString() : null,
      expired: e.expires !== undefined && now.getTime() >= e.expires.getTime(),
    });
  }
  for (const w of set.maintenance) {
    const end = w.window.type === 'once' ? w.window.end : null;
    out.push({
      kind: 'maintenance',
      number: w.number,
      line: w.line,
      reason: w.reason,
      matches: describeWindow(w),
      expires: end ? end.toISOString() : null,
      expired: end !== null && now.getTime() >= end.getTime(),
    });
  }
  return out;
}

/** The line a JSON.parse error points at (newer Node names a line or position; Node 20 often neither). */
function jsonErrorLine(source: string, err: unknown): number | null {
  const msg = err instanceof Error ? err.message : '';
  const line = /line (\d+)/.exec(msg);
  if (line) return Number(line[1]);
  const pos = /position (\d+)/.exec(msg);
  const offset = pos ? Number(pos[1]) : jsonErrorOffset(source);
  return offset === null ? null : source.slice(0, offset).split('\n').length;
}

/** Where a small recursive-descent JSON reader first fails, or null when it does not. */
function jsonErrorOffset(src: string): number | null {
  let i = 0;
  const ws = (): void => {
    while (i < src.length && /[ \t\r\n]/.test(src[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const lit = (word: string): void => {
    if (src.startsWith(word, i)) i += word.length;
    else fail();
  };
  const str = (): void => {
    i++;
    while (i < src.length && src[i] !== '"') {
      if (src[i] === '\\') i++;
      else if (src.charCodeAt(i) < 0x20) fail();
      i++;
    }
    if (i >= src.length) fail();
    i++;
  };
  const value = (depth: number): void => {
    if (depth > 200) fail();
    ws();
    const c = src[i];
    if (c === '{') {
      i++;
      ws();
      if (src[i] === '}') return void i++;
      for (;;) {
        ws();
        if (src[i] !== '"') fail();
        str();
        ws();
        if (src[i] !== ':') fail();
        i++;
        value(depth + 1);
        ws();
        if (src[i] === ',') i++;
        else if (src[i] === '}') return void i++;
        else fail();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (src[i] === ']') return void i++;
      for (;;) {
        value(depth + 1);
        ws();
        if (src[i] === ',') i++;
        else if (src[i] === ']') return void i++;
        else fail();
      }
    } else if (c === '"') str();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i, i + 400));
      if (!m) fail();
      i += m![0].length;
    }
  };
  try {
    value(0);
    ws();
    return i < src.length ? i : null;
  } catch (at) {
    return typeof at === 'number' ? Math.min(at, src.length) : null;
  }
}
