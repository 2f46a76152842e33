import type { EnvReader } from '../config';

/**
 * Settings of the notifiers. (Spine version: only `console`; the notifier issue extends this slice.)
 */
export interface NotifyConfig {
  /** Names of the enabled notifiers, in order. Never empty. */
  enabled: string[];
  /** True when nothing was configured and console was chosen by default (start-up warns). */
  defaulted: boolean;
}

/** Parses the notifier settings, recording problems on the reader. */
export function parseNotifyConfig(r: EnvReader): NotifyConfig {
  const list = r.get('NOTIFIERS');
  if (list === undefined) return { enabled: ['console'], defaulted: true };
  const names = list.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const n of names) {
    if (n !== 'console') r.problem(`NOTIFIERS names an unknown notifier "${n.replace(/[^a-z0-9_-]/g, '?').slice(0, 20)}": use console.`);
  }
  return { enabled: names.length ? [...new Set(names)] : ['console'], defaulted: names.length === 0 };
}
