import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Health, healthResponse } from './health.js';
import { hostChecker } from './host-check.js';
import type { Metrics } from './metrics.js';
import { STATUS_PAGE, STATUS_PAGE_CSP } from '../status/page.js';

export interface HttpServerOptions {
  /** Loopback by default: /metrics and /health carry no auth. */
  host?: string;
  /** 0 picks a free port (tests). */
  port: number;
  metrics: Metrics;
  health: () => Health | Promise<Health>;
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** The status page's data (GET /, /api/status, /api/devices); without it those routes are 404. */
  status?: { status(): object; devices(): object };
  /** Basic auth check for every route but /health (http.auth); refused requests get 401. */
  authorize?: (req: IncomingMessage) => boolean;
  /** Counts 401 answers (a refusal is counted). */
  onUnauthorized?: () => void;
  /** Host names besides IP literals, `localhost` and `host` that requests may be addressed to (DNS rebinding). */
  allowedHosts?: readonly string[];
  /** A request addressed to an unknown Host name was refused (403). */
  onForeignHost?: (host: string) => void;
}

export interface HttpServer {
  /** Stops listening and ends open (keep-alive) connections. */
  close(): Promise<void>;
  address(): { host: string; port: number };
}

/** GET /metrics (Prometheus text) and GET /health (JSON, 200 or 503). Resolves once listening; rejects if the bind fails. */
export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const host = opts.host ?? '127.0.0.1';
  const hostAllowed = hostChecker(host, opts.allowedHosts ?? []);
  const server = createServer((req, res) => {
    handle(req, res, opts, hostAllowed).catch((err: unknown) => {
      opts.logger?.warn({ err, url: req.url }, 'http request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  // A scraper that stalls must not hold a socket forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.logger?.warn({ err }, 'http server error'));
  const addr = server.address() as AddressInfo;
  opts.logger?.info(
    { host: addr.address, port: addr.port, auth: opts.authorize !== undefined },
    opts.status
      ? 'http listening (status page /, /api/status, /api/devices, /metrics, /health)'
      : 'http listening (/metrics, /health)',
  );

  return {
    address: () => ({ host: addr.address, port: addr.port }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  opts: HttpServerOptions,
  hostAllowed: (host: string | undefined) => boolean,
): Promise<void> {
  // Before routing: a rebound page learns nothing, not even which paths exist.
  if (!hostAllowed(req.headers.host)) {
    opts.onForeignHost?.(String(req.headers.host).slice(0, 100));
    send(res, 403, 'text/plain; charset=utf-8', 'unknown Host: add the name to http.allowed_hosts\n');
    return;
  }
  const path = (req.url ?? '/').split('?')[0];
  const statusRoutes = opts.status ? ['/', '/api/status', '/api/devices'] : [];
  if (path !== '/metrics' && path !== '/health' && !statusRoutes.includes(path!)) {
    send(res, 404, 'text/plain; charset=utf-8', 'not found: try /, /metrics or /health\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  // /health stays open: probes (systemd, load balancers) read it and it shows no secret.
  if (path !== '/health' && opts.authorize && !opts.authorize(req)) {
    opts.onUnauthorized?.();
    res.setHeader('WWW-Authenticate', 'Basic realm="fieldgate", charset="UTF-8"');
    send(res, 401, 'text/plain; charset=utf-8', 'authentication required\n');
    return;
  }
  const head = req.method === 'HEAD';
  if (opts.status && path === '/') {
    res.setHeader('Content-Security-Policy', STATUS_PAGE_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    send(res, 200, 'text/html; charset=utf-8', STATUS_PAGE, head);
    return;
  }
  if (opts.status && (path === '/api/status' || path === '/api/devices')) {
    const body = path === '/api/status' ? opts.status.status() : opts.status.devices();
    res.setHeader('X-Content-Type-Options', 'nosniff');
    send(res, 200, 'application/json', `${JSON.stringify(body)}\n`, head);
    return;
  }
  if (path === '/metrics') {
    send(res, 200, opts.metrics.contentType, await opts.metrics.text(), req.method === 'HEAD');
    return;
  }
  let health: Health | { error: unknown };
  try {
    health = await opts.health();
  } catch (error) {
    health = { error };
  }
  const { code, body } = healthResponse(health);
  send(res, code, 'application/json', `${JSON.stringify(body)}\n`, req.method === 'HEAD');
}

function send(res: ServerResponse, code: number, type: string, body: string, headOnly = false): void {
  res.writeHead(code, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(headOnly ? undefined : body);
}
