#!/usr/bin/env node
// Thin shim: the compiled CLI lives in dist/ (built by `npm ci` via the prepare script, or `npm run build`).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/gateway/cli/main.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('fieldgate: not built yet; run `npm run build` (npm ci does it for you)');
  process.exit(1);
}
await import(cli.href);
