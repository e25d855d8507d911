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

/** The URL without its userinfo (credentials replaced by ***), safe to log. */
export function redactUrl(url: string): string {
  // Textual, so even a URL that does not parse never leaks what is before the '@'.
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}
