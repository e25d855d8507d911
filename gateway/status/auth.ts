import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';

/** Hosts whose listener only this machine can reach: no auth needed there. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * HTTP basic auth from a password file: one `user:password` per line (blank lines and # comments
 * ignored). Read once at start; a missing or empty file fails the start. Compared in constant time
 * (over hashes, so lengths do not leak); the password is never logged or shown.
 */
export function loadBasicAuth(file: string): (req: IncomingMessage) => boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`http.auth.password_file ${file}: ${(err as Error).message}`);
  }
  const users = new Map<string, Buffer>();
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const colon = t.indexOf(':');
    if (colon <= 0 || colon === t.length - 1)
      throw new Error(`http.auth.password_file ${file}: expected user:password lines`);
    users.set(t.slice(0, colon), digest(t.slice(colon + 1)));
  }
  if (users.size === 0) throw new Error(`http.auth.password_file ${file}: no user:password line`);
  return (req) => {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return false;
    const want = users.get(decoded.slice(0, colon));
    // Hash even for an unknown user so the timing does not tell which users exist.
    const got = digest(decoded.slice(colon + 1));
    return want !== undefined && timingSafeEqual(want, got);
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();
