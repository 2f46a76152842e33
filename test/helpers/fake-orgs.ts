import fs from 'node:fs';
import path from 'node:path';
import { FakeOktaOrgs } from '../../src/simulator/okta-orgs';
import { tmpDir } from './harness';

/**
 * Fake orgs on 127.0.0.1 that accept `token` (recorded as `label`), and an ORGS_FILE in a new
 * temporary directory listing them, each reading its API token from the variable OTW_TOKEN.
 */
export async function fakeOrgsWithFile(names: string[], token: string, label = 'me'): Promise<{ fakes: FakeOktaOrgs; dir: string; file: string }> {
  const fakes = new FakeOktaOrgs(names);
  await fakes.start();
  fakes.addToken(token, label);
  const dir = tmpDir();
  const file = path.join(dir, 'orgs.yaml');
  fs.writeFileSync(file, `orgs:\n${names.map((n) => `  - name: ${n}\n    url: ${fakes.org(n).origin}\n    apiToken: { env: OTW_TOKEN }\n`).join('')}`);
  return { fakes, dir, file };
}
