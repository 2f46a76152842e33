import fs from 'node:fs';
import path from 'node:path';

/**
 * The package's root directory (where package.json, migrations/ and examples/ live), whether the
 * code runs from src/ through tsx or from dist/src/ after the build.
 */
export function packageRoot(): string {
  for (const candidate of [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')]) {
    if (fs.existsSync(path.join(candidate, 'migrations')) && fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
  }
  throw new Error('cannot find the okta-token-watch package files (migrations/) next to the program; reinstall it.');
}
