#!/usr/bin/env node
// Thin shim: the compiled CLI lives in dist/ (built by `npm ci` via the prepare script, or `npm run build`).
import('../dist/gateway/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/gateway/cli.js')) {
    console.error('fieldgate: not built yet; run `npm run build` (npm ci does it for you)');
    process.exit(1);
  }
  throw err;
});
