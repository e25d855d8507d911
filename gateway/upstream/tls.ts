import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { type ConnectionOptions, checkServerIdentity as checkIdentity } from 'node:tls';
import type { UpstreamConfig } from './config.js';

/**
 * TLS options for tls.connect from the `tls` config block. Files are read at each
 * connect so a renewed certificate is picked up without a restart.
 * verify_server=false skips only the host name check; the chain is still verified
 * against `ca` (or the system roots), so an unknown broker is still refused.
 */
export function tlsOptions(host: string, tls: UpstreamConfig['tls']): ConnectionOptions {
  const opts: ConnectionOptions = { rejectUnauthorized: true };
  const servername = tls?.servername ?? (isIP(host) ? undefined : host);
  if (servername) opts.servername = servername;
  if (tls?.ca) opts.ca = readFileSync(tls.ca);
  if (tls?.cert) opts.cert = readFileSync(tls.cert);
  if (tls?.key) opts.key = readFileSync(tls.key);
  if (tls && !tls.verify_server) opts.checkServerIdentity = () => undefined;
  else if (tls?.servername) {
    // Check the certificate against the configured name, not the address dialled.
    const name = tls.servername;
    opts.checkServerIdentity = (_host, cert) => checkIdentity(name, cert);
  }
  return opts;
}
