import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../gateway/config/load.js';
import type { Gateway } from '../../gateway/gateway.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { SnClient } from '../mqttsn/client.js';
import { httpBase, startStatusGateway } from './gateway.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** GET /api/status and /api/devices (docs/operations.md documents their shape) and basic auth from a password file. */
describe('status JSON API and auth', () => {
  let broker: Mosquitto;
  let gateway: Gateway;
  let base: string;
  let snPort: number;
  const auth = { authorization: basic('ops', 'pa:ss w0rd') };

  beforeAll(async () => {
    broker = await Mosquitto.start();
    snPort = await freeUdpPort();
    const dir = tmpDir();
    const passwords = join(dir, 'http-passwords');
    writeFileSync(passwords, '# user:password\nops:pa:ss w0rd\n');
    ({ gateway } = await startStatusGateway(`
gateway: { id: gw-api, state_dir: state }
upstream: { url: "mqtt://user:topsecret@127.0.0.1:${broker.port}", reconnect: { min: 100ms, max: 400ms } }
mqttsn: { enabled: true, listen: 127.0.0.1:${snPort} }
http: { listen: 127.0.0.1:${await freePort()}, auth: { password_file: ${passwords} } }
`));
    base = httpBase(gateway);
  });

  afterAll(async () => {
    await gateway?.stop();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it('refuses every route but /health without the right user and password', async () => {
    for (const path of ['/', '/api/status', '/api/devices', '/metrics']) {
      const none = await fetch(base + path);
      expect(none.status, path).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm="fieldgate"/);
      expect((await fetch(base + path, { headers: { authorization: basic('ops', 'wrong') } })).status).toBe(
        401,
      );
      expect(
        (await fetch(base + path, { headers: { authorization: basic('root', 'pa:ss w0rd') } })).status,
      ).toBe(401);
    }
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const page = await fetch(`${base}/`, { headers: auth });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'.*script-src 'sha256-/);
    // Nothing fetched from elsewhere: no src/href but data:, no CSS url(), no import().
    expect(await page.text()).not.toMatch(/(src|href)=(?!["']?data:)|url\(|import\(/);
  });

  it('/api/status has the documented shape and never shows a secret', async () => {
    const c = await SnClient.open(snPort);
    try {
      expect((await c.connect('api-dev')).returnCode).toBe(0);
    } finally {
      await c.close();
    }
    const res = await fetch(`${base}/api/status`, { headers: auth });
    const text = await res.text();
    expect(text).not.toContain('topsecret');
    expect(text).not.toContain('w0rd');
    const s = JSON.parse(text);
    expect(s.gateway).toMatchObject({
      id: 'gw-api',
      version: expect.any(String),
      uptime_s: expect.any(Number),
    });
    expect(s.uplink).toMatchObject({
      state: 'connected',
      since: expect.any(Number),
      reconnects: 0,
      last_error: null,
    });
    expect(s.uplink.broker).toBe(`mqtt://***@127.0.0.1:${broker.port}`);
    expect(s.outbox).toMatchObject({
      rows: expect.any(Number),
      bytes: expect.any(Number),
      oldest_age_s: expect.any(Number),
      drain_per_s: expect.any(Number),
      set_aside: 0,
      dropped: {},
    });
    // Disk writes per day from /proc/self/io (Linux): the store wrote at start, so more than nothing.
    expect(s.disk.written_per_day).toBeGreaterThan(0);
    const metrics = await (await fetch(`${base}/metrics`, { headers: auth })).text();
    const written = /^fieldgate_store_bytes_written_total (\d+)/m.exec(metrics);
    expect(Number(written?.[1])).toBeGreaterThan(0);
    expect(s.rates.in).toHaveLength(600);
    expect(s.rates.out).toHaveLength(600);
    expect(s.devices).toEqual({ total: 1, online: 1, asleep: 0, offline: 0, lost: 0 });
    expect(Array.isArray(s.logs)).toBe(true);
  });

  it('/api/devices lists each device with its state and counters', async () => {
    const res = await fetch(`${base}/api/devices`, { headers: auth });
    const { devices } = await res.json();
    expect(devices).toEqual([
      {
        id: 'api-dev',
        source: 'mqttsn',
        transport: 'mqttsn',
        state: 'online',
        state_since: expect.any(Number),
        last_seen: expect.any(Number),
        messages: 0,
        last_topic: null,
        last_payload: null,
        drops: 0,
        problems: {},
        last_problem: null,
      },
    ]);
  });

  it('warnings reach the recent-log list: a stopped broker shows as the last error', async () => {
    await broker.stop();
    let s: { uplink: { state: string; last_error: { message: string } | null }; logs: { level: string }[] } =
      { uplink: { state: '', last_error: null }, logs: [] };
    for (let i = 0; i < 100 && !(s.uplink.last_error && s.logs.length); i++) {
      s = await (await fetch(`${base}/api/status`, { headers: auth })).json();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(s.uplink.state).toBe('disconnected');
    expect(s.uplink.last_error?.message).toMatch(/disconnected|connect failed/);
    expect(s.logs[0]?.level).toMatch(/warn|error/);
  });
});

describe('http auth config', () => {
  const yaml = (http: string) =>
    `gateway: { id: g }\nupstream: { url: mqtt://127.0.0.1:1883 }\nhttp: ${http}\n`;

  it('listening beyond loopback without http.auth is a config error naming http.listen', () => {
    let err: unknown;
    try {
      parseConfig(yaml('{ listen: 0.0.0.0:9464 }'), 'f.yaml', {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/http\.listen.*needs http\.auth\.password_file/);
    expect(() => parseConfig(yaml('{ listen: 127.0.0.1:9464 }'), 'f.yaml', {})).not.toThrow();
    expect(() =>
      parseConfig(
        yaml('{ listen: 0.0.0.0:9464, auth: { password_file: /etc/fieldgate/http-users } }'),
        'f.yaml',
        {},
      ),
    ).not.toThrow();
  });

  it('a gateway whose password file is missing refuses to start', async () => {
    await expect(
      startStatusGateway(`
gateway: { id: gw-nopw, state_dir: state }
upstream: { url: mqtt://127.0.0.1:1 }
http: { listen: 127.0.0.1:0, auth: { password_file: /nonexistent/http-users } }
`),
    ).rejects.toThrow(/http\.auth\.password_file \/nonexistent\/http-users/);
  });
});
