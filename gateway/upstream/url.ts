/**
 * upstream.url may carry credentials (mqtt://user:pass@host). They are used when username/password
 * are not set on their own, and never logged: every log line shows redactUrl(url).
 */

/** User name and password from the URL's userinfo (percent-decoded), where present. */
export function urlCredentials(url: string): { username?: string; password?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return {};
  }
  const out: { username?: string; password?: string } = {};
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  return out;
}

/**
 * The URL without its userinfo (replaced by ***), safe to log. Parsed, not matched: in
 * `mqtt://fg:p@ss@host` the userinfo ends at the last '@' of the authority, as it does for the
 * connection itself, so no part of a password with an '@' in it is shown.
 */
export function redactUrl(url: string): string {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    // A URL that does not parse: cut at the last '@' before the path, still never the first.
  }
  if (u) {
    if (!u.username && !u.password) return url;
    return `${u.protocol}//***@${u.host}${u.pathname}${u.search}${u.hash}`;
  }
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0] ?? '';
  const rest = url.slice(scheme.length);
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const at = authority.lastIndexOf('@');
  return at < 0 ? url : `${scheme}***@${rest.slice(at + 1)}`;
}
