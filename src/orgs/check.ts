import fs from 'node:fs';
import type { CheckLine } from '../check';
import type { OrgConfig, OrgReference } from './config';

/**
 * The `check` lines of ORGS_FILE: one per org with its URL, how it authenticates and from where,
 * and whether each of its references still resolves (a variable set and not empty, a file
 * readable and not empty). Local only: no request to Okta, and never a value.
 */
export function orgCheckLines(orgs: readonly OrgConfig[], env: Record<string, string | undefined> = process.env): CheckLine[] {
  return orgs.map((org) => {
    const credential = org.references.find((r) => r.field === 'apiToken' || r.field === 'oauth.privateKey');
    const auth = credential?.field === 'apiToken' ? 'API token' : 'OAuth service app';
    const from = credential ? ` from ${describeRef(credential)}` : '';
    const failed = org.references.map((r) => ({ r, why: unresolved(r, env) })).filter((x) => x.why !== null);
    const routing = `notifiers ${org.config.notify.enabled.join(', ')}`;
    const hook = org.config.eventHook ? `, event hook ${org.config.eventHook.path}` : '';
    return failed.length === 0
      ? { name: `org ${org.name}`, ok: true, detail: `${org.url}, ${auth}${from}, ${routing}${hook}; ${org.references.length} reference(s) resolve` }
      : { name: `org ${org.name}`, ok: false, detail: `${org.url}: ${failed.map((x) => `${describeRef(x.r)} ${x.why}`).join('; ')}` };
  });
}

function describeRef(r: OrgReference): string {
  return 'env' in r.ref ? `${r.field} (env ${r.ref.env})` : `${r.field} (file ${r.ref.file})`;
}

/** Why a reference no longer gives a value, or null when it does. */
function unresolved(r: OrgReference, env: Record<string, string | undefined>): string | null {
  if ('env' in r.ref) {
    const v = env[r.ref.env];
    return v === undefined ? 'is not set' : v.trim() === '' ? 'is empty' : null;
  }
  try {
    return fs.readFileSync(r.ref.file, 'utf8').trim() === '' ? 'is empty' : null;
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}
