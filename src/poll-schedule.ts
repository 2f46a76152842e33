import cron from 'node-cron';

// node-cron's field names, with what a person calls them and the numbers they allow.
const FIELDS: Record<string, { label: string; min: number; max: number }> = {
  second: { label: 'second', min: 0, max: 59 },
  minute: { label: 'minute', min: 0, max: 59 },
  hour: { label: 'hour', min: 0, max: 23 },
  dayOfMonth: { label: 'day-of-month', min: 1, max: 31 },
  month: { label: 'month', min: 1, max: 12 },
  dayOfWeek: { label: 'day-of-week', min: 0, max: 7 },
};

const SHAPE = 'five fields (or six, with seconds first), like */5 * * * *';

/**
 * What is wrong with a POLL_SCHEDULE value, as one sentence naming the variable and the field
 * (never the value), or null when node-cron accepts it. node-cron decides validity; this only
 * says which kind of mistake it is: the number of fields, a number outside a field's range, or
 * a field that is not cron syntax.
 */
export function pollScheduleProblem(expression: string): string | null {
  const result = cron.validateDetailed(expression);
  if (result.valid) return null;
  const e = result.errors[0];
  const spec = e ? FIELDS[e.field] : undefined;
  if (!e || !spec) {
    const count = expression.trim() === '' ? 0 : expression.trim().split(/\s+/).length;
    if (count !== 5 && count !== 6) return `POLL_SCHEDULE must have ${SHAPE}; it has ${count}.`;
    return `POLL_SCHEDULE is not a cron expression: use ${SHAPE}.`;
  }
  if (/impossible/.test(e.message)) return `POLL_SCHEDULE would never run: its ${spec.label} field names a day the month does not have.`;
  // Numbers outside the field's range, not counting a step's divisor (`*/90` is a step problem).
  const numbers = (e.value ?? '').replace(/\/\d+/g, '').match(/\d+/g) ?? [];
  if (numbers.some((n) => Number(n) < spec.min || Number(n) > spec.max)) {
    return `POLL_SCHEDULE is out of range in its ${spec.label} field: use ${spec.min}-${spec.max}.`;
  }
  return `POLL_SCHEDULE has an invalid ${spec.label} field: use *, a number (${spec.min}-${spec.max}), a range a-b, a list a,b or a step */n.`;
}
