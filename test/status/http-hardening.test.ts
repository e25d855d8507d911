import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort } from '../harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

/** GET with a chosen Host header (fetch does not let a caller set it; a rebinding browser does). */
function get(
  port: number,
  path: string,
  host: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, ...headers } }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => {
        body += b.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** A real `fieldgate run` with the given http section, config file in its own directory. */
async function startGateway(broker: Mosquitto, http: string): Promise<{ gw: GatewayProcess; dir: string }> {
  const dir = tmpDir();
  const file = join(dir, 'fieldgate.yaml');
  writeFileSync(
    file,
    [
      'gateway: { id: gw-http, state_dir: state }',
      `upstream: { url: "mqtt://127.0.0.1:${broker.port}" }`,
      http,
    ].join('\n'),
  );
  writeFileSync(join(dir, 'http-passwords'), 'ops:s3cret\n');
  const gw = GatewayProcess.start(['run', '-c', file]);
  await gw.waitForLog('fieldgate up', 20_000);
  return { gw, dir };
}

describe('http listener', () => {
  it('answers only requests addressed to a name it knows (DNS rebinding)', async () => {
    const broker = await Mosquitto.start();
    const port = await freePort();
    const { gw } = await startGateway(
      broker,
      `http: { listen: "127.0.0.1:${port}", allowed_hosts: [fieldgate.lan] }`,
    );
    try {
      // A page on evil.example re-pointed at 127.0.0.1 through an `ssh -L` tunnel.
      for (const path of ['/api/devices', '/api/status', '/metrics', '/', '/health']) {
        const r = await get(port, path, `evil.example:${port}`);
        expect(r.status, path).toBe(403);
        expect(r.body).toContain('http.allowed_hosts');
      }
      expect((await get(port, '/api/devices', 'localhost.evil.example')).status).toBe(403);
      expect((await get(port, '/api/devices', `127.0.0.1.nip.io:${port}`)).status).toBe(403);
      for (const host of [
        `localhost:${port}`,
        `127.0.0.1:${port}`,
        `[::1]:${port}`,
        'localhost:8080', // a tunnel to another local port
        `FieldGate.lan:${port}`, // configured, any case
      ])
        expect((await get(port, '/api/devices', host)).status, host).toBe(200);
      const refused = await gw.waitForLog('http request refused: unknown Host (DNS rebinding?)');
      expect(refused.host).toBe(`evil.example:${port}`);
      const metrics = await get(port, '/metrics', 'localhost');
      expect(metrics.body).toMatch(
        /fieldgate_messages_dropped_total\{source="http",reason="foreign_host"\} 7\b/,
      );
      // Rate-limited: seven refusals, one line.
      expect(gw.lines.filter((l) => l.msg?.startsWith('http request refused: unknown Host'))).toHaveLength(1);
    } finally {
      gw.signal('SIGTERM');
      await gw.exited();
      await broker.stop();
    }
  }, 40_000);

  it("resolves a relative http.auth.password_file against the config file's directory", async () => {
    const broker = await Mosquitto.start();
    const port = await freePort();
    // The gateway runs in the repository (its working directory), the file sits beside the config.
    const { gw } = await startGateway(
      broker,
      `http: { listen: "127.0.0.1:${port}", auth: { password_file: http-passwords } }`,
    );
    try {
      expect((await get(port, '/api/status', 'localhost')).status).toBe(401);
      const ok = await get(port, '/api/status', 'localhost', { authorization: basic('ops', 's3cret') });
      expect(ok.status).toBe(200);
      expect(ok.body).not.toContain('s3cret');
    } finally {
      gw.signal('SIGTERM');
      await gw.exited();
      await broker.stop();
    }
  }, 40_000);
});
