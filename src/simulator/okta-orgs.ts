import { FakeOkta, type FakeOktaOptions } from './okta-simulator';

/**
 * Many fake Okta orgs for the many-orgs soak and bench: one `FakeOkta` per org, each on its own
 * 127.0.0.1 port (a real org is its own host), with one request log across them that says which org
 * was asked, when, and by which process (the label of the SSWS token the process used; see
 * `addToken`).
 */

/** One request an org received, as the scale checks read it. */
export interface OrgRequest {
  org: string;
  /** Epoch ms when it arrived, and when it was answered (null: never, e.g. the org hung). */
  at: number;
  answeredAt: number | null;
  /** The label of the token that asked (a daemon process), or null for an unlabelled token. */
  who: string | null;
  path: string;
  /** A polling or follow read of the System Log (GET /api/v1/logs), as opposed to other APIs. */
  systemLog: boolean;
  status: number;
}

/** A set of named fake orgs. */
export class FakeOktaOrgs {
  readonly orgs = new Map<string, FakeOkta>();

  constructor(
    readonly names: readonly string[],
    private readonly opts: FakeOktaOptions = {},
  ) {
    if (new Set(names).size !== names.length) throw new Error('org names must be unique');
  }

  /** Starts every org's server; resolves when all listen. */
  async start(): Promise<void> {
    for (const name of this.names) this.orgs.set(name, new FakeOkta(this.opts));
    await Promise.all([...this.orgs.values()].map((o) => o.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.orgs.values()].map((o) => o.stop()));
  }

  /** The org called `name` (throws for an unknown name: a typo in a scenario must not pass silently). */
  org(name: string): FakeOkta {
    const o = this.orgs.get(name);
    if (!o) throw new Error(`no fake org named ${name}`);
    return o;
  }

  /** Every org accepts this SSWS token and records its requests with `who: label`. */
  addToken(token: string, label: string): void {
    for (const o of this.orgs.values()) o.addToken(token, label);
  }

  /** Every request every org received, in arrival order. */
  requestLog(): OrgRequest[] {
    const out: OrgRequest[] = [];
    for (const [org, fake] of this.orgs) {
      for (const r of fake.requests) {
        out.push({ org, at: r.at, answeredAt: r.answeredAt, who: r.who, path: r.path, systemLog: r.path === '/api/v1/logs' && r.method === 'GET', status: r.status });
      }
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** System Log requests across all orgs so far (for counting a tick's requests). */
  get systemLogRequests(): number {
    let n = 0;
    for (const o of this.orgs.values()) n += o.logRequests().length;
    return n;
  }
}

/** Org names `org-01` ... (`org-001` ... from 100 on): valid ORGS_FILE names, sorting in order. */
export function orgNames(n: number): string[] {
  const width = Math.max(2, String(n).length);
  return Array.from({ length: n }, (_, i) => `org-${String(i + 1).padStart(width, '0')}`);
}

/**
 * An ORGS_FILE (YAML) for these orgs: each by name and URL, its API token by reference to the
 * environment variable `tokenEnv` (every daemon process gets its own value there, which the fake orgs
 * accept under a label, see `addToken`, so the request log tells the processes apart), and when
 * `hookSecretEnv` is given, its event hook secret by reference too (with ORGS_FILE the env file may
 * not hold EVENT_HOOK_SECRET).
 */
export function orgsFileYaml(orgs: ReadonlyArray<{ name: string; url: string }>, refs: { tokenEnv: string; hookSecretEnv?: string }): string {
  const lines = ['orgs:'];
  for (const o of orgs) {
    lines.push(`  - name: ${o.name}`, `    url: ${o.url}`, `    apiToken: { env: ${refs.tokenEnv} }`);
    if (refs.hookSecretEnv) lines.push(`    eventHook: { secret: { env: ${refs.hookSecretEnv} } }`);
  }
  return lines.join('\n') + '\n';
}
