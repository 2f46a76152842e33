/**
 * A five-field cron expression (minute hour day-of-month month day-of-week), evaluated in UTC, for
 * maintenance windows. node-cron only schedules forwards and exposes no "previous occurrence", so
 * windows are matched with this small matcher instead. Supported: `*`, numbers, ranges `a-b`,
 * steps `*` + `/n` and `a-b/n`, lists `a,b`, month and weekday names (JAN, MON), 7 as Sunday.
 * As in Vixie cron, when both day-of-month and day-of-week are restricted a day matching either
 * one matches.
 */
export interface CronSchedule {
  readonly source: string;
  minutes: Set<number>;
  hours: Set<number>;
  daysOfMonth: Set<number>;
  months: Set<number>;
  daysOfWeek: Set<number>;
  domStar: boolean;
  dowStar: boolean;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Value the first name stands for. */
  nameBase?: number;
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, nameBase: 0 },
];

/** Parses an expression; throws an Error whose message says which field is wrong (never echoes it). */
export function parseCron(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 || parts[0] === '') {
    throw new Error(`cron must have five fields (minute hour day-of-month month day-of-week), found ${parts[0] === '' ? 0 : parts.length}`);
  }
  const sets = parts.map((p, i) => parseField(p, FIELDS[i]!));
  const dow = sets[4]!;
  if (dow.has(7)) {
    dow.delete(7);
    dow.add(0);
  }
  return {
    source: expression.trim(),
    minutes: sets[0]!,
    hours: sets[1]!,
    daysOfMonth: sets[2]!,
    months: sets[3]!,
    daysOfWeek: dow,
    domStar: parts[2]!.startsWith('*'),
    dowStar: parts[4]!.startsWith('*'),
  };
}

function parseField(field: string, spec: FieldSpec): Set<number> {
  const out = new Set<number>();
  const bad = (why: string): Error => new Error(`the cron ${spec.name} field ${why}`);
  for (const item of field.split(',')) {
    const m = /^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/.exec(item);
    if (!m) throw bad('is not a number, range, list or step');
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1 || step > spec.max) throw bad(`has a step outside 1-${spec.max}`);
    let lo: number;
    let hi: number;
    if (m[1] === '*') {
      lo = spec.min;
      hi = spec.name === 'day of week' ? 6 : spec.max;
    } else {
      const [a, b] = m[1]!.split('-');
      lo = value(a!, spec, bad);
      // `5/15` means 5-max/15, as in Vixie cron.
      hi = b !== undefined ? value(b, spec, bad) : m[2] !== undefined ? spec.max : lo;
      if (hi < lo) throw bad('has a range that ends before it starts');
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function value(token: string, spec: FieldSpec, bad: (why: string) => Error): number {
  let n: number;
  if (/^\d+$/.test(token)) n = Number(token);
  else {
    const i = spec.names?.indexOf(token.toUpperCase()) ?? -1;
    if (i < 0) throw bad('has a name that is not a month or weekday');
    n = i + (spec.nameBase ?? 0);
  }
  if (n < spec.min || n > spec.max) throw bad(`has a value outside ${spec.min}-${spec.max}`);
  return n;
}

/** True when the schedule fires at this minute (UTC; seconds ignored). */
export function cronMatches(s: CronSchedule, d: Date): boolean {
  return s.minutes.has(d.getUTCMinutes()) && s.hours.has(d.getUTCHours()) && dayMatches(s, d);
}

function dayMatches(s: CronSchedule, d: Date): boolean {
  if (!s.months.has(d.getUTCMonth() + 1)) return false;
  const dom = s.daysOfMonth.has(d.getUTCDate());
  const dow = s.daysOfWeek.has(d.getUTCDay());
  if (s.domStar && s.dowStar) return true;
  if (s.domStar) return dow;
  if (s.dowStar) return dom;
  return dom || dow;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * The latest time the schedule fires at or before `at`, looking back no further than `after`
 * (exclusive), or null. Walks back minute by minute, skipping whole hours and days that cannot
 * match, so even a month-long look-back stays cheap.
 */
export function previousOccurrence(s: CronSchedule, at: Date, after: Date): Date | null {
  let t = Math.floor(at.getTime() / MINUTE) * MINUTE;
  const stop = after.getTime();
  while (t > stop) {
    const d = new Date(t);
    if (!dayMatches(s, d)) {
      // Jump to the last minute of the previous day.
      t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - MINUTE;
      continue;
    }
    if (!s.hours.has(d.getUTCHours())) {
      t = Math.floor(t / HOUR) * HOUR - MINUTE;
      continue;
    }
    if (s.minutes.has(d.getUTCMinutes())) return d;
    t -= MINUTE;
  }
  return null;
}
