import type { EnvReader } from '../config';
import { EMPTY_EXCEPTIONS, loadExceptionsFile, type ExceptionSet } from './exceptions';
import type { TokenLookupConfig, TokenLookupMode } from './token-lookup';

/** Settings of the detection. */
export interface DetectConfig {
  /** Outcomes that alert; null means every outcome (the rule watches attempts). */
  alertOutcomes: string[] | null;
  /** EXCEPTIONS_FILE, loaded and validated; empty when the setting is unset. */
  exceptions: ExceptionSet;
  /** The path EXCEPTIONS_FILE named, or null. */
  exceptionsFile: string | null;
  tokenLookup: TokenLookupConfig;
}

/** Parses the detection settings, recording problems on the reader. */
export function parseDetectConfig(r: EnvReader): DetectConfig {
  return {
    alertOutcomes: parseOutcomes(r),
    ...parseExceptionsSetting(r),
    tokenLookup: {
      mode: parseLookupMode(r),
      timeoutMs: lookupTimeout(r),
      maxPerPage: r.integer('TOKEN_LOOKUP_MAX', 20, 1, 1000),
    },
  };
}

function parseOutcomes(r: EnvReader): string[] | null {
  const raw = r.get('ALERT_OUTCOMES');
  if (raw === undefined) return null;
  const list = raw.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (list.length === 0 || list.some((o) => !/^[A-Z_]+$/.test(o))) {
    r.problem('ALERT_OUTCOMES must be a comma list of Okta outcomes like SUCCESS,FAILURE (default: every outcome).');
    return null;
  }
  return list;
}

/** Loaded here, at start-up, so a bad file stops the program (exit 78) with the line and the reason. */
function parseExceptionsSetting(r: EnvReader): { exceptions: ExceptionSet; exceptionsFile: string | null } {
  const file = r.get('EXCEPTIONS_FILE');
  if (file === undefined) return { exceptions: EMPTY_EXCEPTIONS, exceptionsFile: null };
  const loaded = loadExceptionsFile(file);
  for (const p of loaded.problems) r.problem(p);
  return { exceptions: loaded.set ?? EMPTY_EXCEPTIONS, exceptionsFile: file };
}

function parseLookupMode(r: EnvReader): TokenLookupMode {
  const raw = r.get('TOKEN_LOOKUP');
  if (raw === undefined || /^auto$/i.test(raw)) return 'auto';
  if (/^(1|true|yes|on)$/i.test(raw)) return 'on';
  if (/^(0|false|no|off)$/i.test(raw)) return 'off';
  r.problem('TOKEN_LOOKUP must be auto, true or false (default auto: try, and stop after Okta answers 403).');
  return 'auto';
}

function lookupTimeout(r: EnvReader): number {
  const ms = r.duration('TOKEN_LOOKUP_TIMEOUT', '5s');
  if (ms > 30_000) {
    r.problem('TOKEN_LOOKUP_TIMEOUT must be at most 30s: the lookup holds back the alerts of its page (default 5s).');
    return 5_000;
  }
  return ms;
}
