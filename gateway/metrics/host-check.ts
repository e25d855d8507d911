import { isIP } from 'node:net';

/**
 * DNS rebinding: a web page on evil.example whose name is re-pointed at 127.0.0.1 (or at the
 * gateway's LAN address) can make an operator's browser read the status API, because the browser
 * sees its own origin. The `Host` header still carries the attacker's name, so the listener answers
 * only requests addressed to a name it knows: an IP literal (no name to rebind), `localhost`, the
 * listen host, or a configured `http.allowed_hosts` name. The port is not compared: rebinding hinges
 * on the name, and a tunnel (`ssh -L 8080:127.0.0.1:9464`) legitimately shows another port.
 */
export function hostChecker(
  listenHost: string,
  allowed: readonly string[],
): (host: string | undefined) => boolean {
  const names = new Set(['localhost', listenHost, ...allowed].map(normalName));
  return (header) => {
    // HTTP/1.0 without Host: not a browser request (browsers always send it).
    if (header === undefined) return true;
    const name = hostName(header);
    if (name === undefined) return false;
    return isIP(name) !== 0 || names.has(normalName(name));
  };
}

/** The name (or IP literal, brackets removed) of a Host header value, without the port. */
function hostName(header: string): string | undefined {
  const h = header.trim();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    const rest = h.slice(end + 1);
    return end > 0 && (rest === '' || /^:\d{1,5}$/.test(rest)) ? h.slice(1, end) : undefined;
  }
  const m = /^([^:]+)(?::\d{1,5})?$/.exec(h);
  return m?.[1];
}

/** Names compare case-insensitively, and `localhost.` is `localhost`. */
function normalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
