import type { EnvReader } from '../config';

/** Settings of the detection. (Spine version; the detection issue extends this slice.) */
export interface DetectConfig {
  /** Outcomes that alert; null means every outcome (the rule watches attempts). */
  alertOutcomes: string[] | null;
}

/** Parses the detection settings, recording problems on the reader. */
export function parseDetectConfig(r: EnvReader): DetectConfig {
  const raw = r.get('ALERT_OUTCOMES');
  if (raw === undefined) return { alertOutcomes: null };
  const list = raw.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (list.length === 0 || list.some((o) => !/^[A-Z_]+$/.test(o))) {
    r.problem('ALERT_OUTCOMES must be a comma list of Okta outcomes like SUCCESS,FAILURE (default: every outcome).');
    return { alertOutcomes: null };
  }
  return { alertOutcomes: list };
}
