import type { AppConfig } from '../config';
import { UsageError } from '../errors';
import { DEFAULT_ORG } from './runtime';

/**
 * The org a one-shot command acts on, from `--org NAME`: required when ORGS_FILE lists more than
 * one org (a command that guessed would talk to the wrong Okta), optional with one. Without
 * ORGS_FILE the install is the single org `default`. Decided from the settings alone, before any
 * database or Okta connection is opened. Throws UsageError with one sentence.
 */
export function selectOrg(config: AppConfig, given: string | undefined, command: string): string {
  const names = config.orgs ? config.orgs.map((o) => o.name) : [DEFAULT_ORG];
  if (given === undefined) {
    if (names.length === 1) return names[0]!;
    throw new UsageError(`${command} acts on one org and ORGS_FILE lists ${names.length}: add --org NAME (${listed(names)}; "okta-token-watch check" shows each org)`);
  }
  if (names.includes(given)) return given;
  const where = config.orgs ? `ORGS_FILE has no org named "${clip(given)}"` : `--org "${clip(given)}" is not an org here: without ORGS_FILE the only org is "${DEFAULT_ORG}"`;
  throw new UsageError(`${where} (${listed(names)}; "okta-token-watch check" shows each org)`);
}

function listed(names: readonly string[]): string {
  return names.length <= 10 ? `orgs: ${names.join(', ')}` : `orgs: ${names.slice(0, 10).join(', ')} and ${names.length - 10} more`;
}

/** A name typed on the command line, bounded and without control characters, for the sentence. */
function clip(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 40);
}
