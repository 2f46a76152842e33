/**
 * Transpiles src/, bench/ and test/helpers/ to plain JavaScript in bench/.build/ (gitignored), so the
 * contenders run as deployed (`node file.js`), without the tsx loader, whose ~35 MB of RSS would
 * otherwise be counted against them. Type checking is `npx tsc --noEmit`'s job, not this one's.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');
export const BUILD_DIR = path.join(__dirname, '.build');

function tsFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'results') out.push(...tsFiles(p));
    else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Builds everything and returns the path of the compiled file for `relTs` (e.g. "bench/contender.ts"). */
export function buildJs(relTs: string): string {
  fs.rmSync(BUILD_DIR, { recursive: true, force: true });
  const files = [...tsFiles(path.join(ROOT, 'src')), ...tsFiles(path.join(ROOT, 'bench')), ...tsFiles(path.join(ROOT, 'test', 'helpers'))];
  for (const file of files) {
    const rel = path.relative(ROOT, file);
    const out = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
      fileName: rel,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        resolveJsonModule: true,
      },
    });
    const dest = path.join(BUILD_DIR, rel.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, out.outputText);
  }
  // The program finds its package files (package.json, migrations/, examples/) above src/
  // (src/package-root.ts): give the build the same layout.
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(BUILD_DIR, 'package.json'));
  for (const d of ['migrations', 'examples']) {
    if (fs.existsSync(path.join(ROOT, d))) fs.cpSync(path.join(ROOT, d), path.join(BUILD_DIR, d), { recursive: true });
  }
  return path.join(BUILD_DIR, relTs.replace(/\.ts$/, '.js'));
}
