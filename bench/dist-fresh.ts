/** The bench runs the built CLI (dist/): rebuild first when a source file is newer than its output. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCES = ['contracts', 'gateway', 'adapters', 'rules']; // tsconfig.build.json's include

function* tsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** The first source whose dist/*.js is missing or older, or undefined when dist is fresh. */
export function staleSource(): string | undefined {
  for (const dir of SOURCES)
    for (const src of tsFiles(join(ROOT, dir))) {
      const out = join(ROOT, 'dist', relative(ROOT, src).replace(/\.ts$/, '.js'));
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) return relative(ROOT, src);
    }
  return undefined;
}

export function ensureBuilt(): void {
  const stale = staleSource();
  if (!stale) return;
  console.log(`dist/ is stale (${stale} is newer than its output): npm run build`);
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
}
