import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redactUrl, urlCredentials } from '../../gateway/upstream/url.js';
import { GatewayProcess, killAllGateways, runCli } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort } from '../harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { makeClient, nextEvent, openTestStore } from './helpers.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

const PASSWORD = 'p@ss:w/rd-s3cret';

describe('credentials in upstream.url', () => {
  it('redacts and decodes userinfo (pure)', () => {
    expect(redactUrl('mqtts://gw:secret@broker:8883')).toBe('mqtts://***@broker:8883');
    expect(redactUrl('mqtt://broker:1883')).toBe('mqtt://broker:1883');
    expect(urlCredentials(`mqtt://gw:${encodeURIComponent(PASSWORD)}@h:1`)).toEqual({
      username: 'gw',
      password: PASSWORD,
    });
  });

  it('are used to log in, and appear in no log line of the client or of a running gateway', async () => {
    const broker = await Mosquitto.start({ users: { gw: PASSWORD } });
    const url = `mqtt://gw:${encodeURIComponent(PASSWORD)}@127.0.0.1:${broker.port}`;
    const store = openTestStore();
    const { client, lines, events } = makeClient(store, { url });
    const connected = nextEvent(client.events$, 'connected');
    await client.start();
    await connected;
    expect(events.some((e) => e.type === 'refused')).toBe(false);
    await client.stop();
    store.close();
    const logged = JSON.stringify(lines);
    expect(logged).toContain(`***@127.0.0.1:${broker.port}`);
    expect(logged).not.toContain('s3cret');
    expect(logged).not.toContain(encodeURIComponent(PASSWORD));

    const dir = tmpDir();
    const file = join(dir, 'gw.yaml');
    writeFileSync(
      file,
      [
        'gateway: { id: gw-cred, state_dir: state }',
        `upstream: { url: "${url}" }`,
        `http: { listen: "127.0.0.1:${await freePort()}" }`,
      ].join('\n'),
    );
    const gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('upstream: connected');
    await gw.waitForLog('fieldgate up');
    gw.signal('SIGTERM');
    await gw.exited();
    expect(gw.stdout + gw.stderr).not.toContain('s3cret');
    expect(gw.stdout + gw.stderr).not.toContain(encodeURIComponent(PASSWORD));
    await broker.stop();
  }, 30_000);

  it("a password with an '@' (mqtt://fg:p@ss@host) leaks into no log line, /api/status or metric label", async () => {
    // The userinfo ends at the last '@', as the connection parses it; a textual cut at the first
    // '@' used to show `***@ss@127.0.0.1:…`.
    expect(redactUrl('mqtt://fg:p@ss@host:1883')).toBe('mqtt://***@host:1883');
    expect(redactUrl('mqtt://fg:p@ss@[::1]:1883/')).toBe('mqtt://***@[::1]:1883/');
    const broker = await Mosquitto.start({ users: { fg: 'p@ss' } });
    const http = await freePort();
    const file = join(tmpDir(), 'gw.yaml');
    writeFileSync(
      file,
      [
        'gateway: { id: gw-at, state_dir: state }',
        `upstream: { url: "mqtt://fg:p@ss@127.0.0.1:${broker.port}" }`,
        `http: { listen: "127.0.0.1:${http}" }`,
      ].join('\n'),
    );
    const gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('upstream: connected'); // the URL's credentials logged in
    await gw.waitForLog('fieldgate up');
    const get = async (path: string) => (await fetch(`http://127.0.0.1:${http}${path}`)).text();
    const status = await get('/api/status');
    const metrics = await get('/metrics');
    gw.signal('SIGTERM');
    await gw.exited();
    expect(metrics).toContain(`fieldgate_upstream_broker{url="mqtt://***@127.0.0.1:${broker.port}"} 1`);
    expect(status).toContain(`mqtt://***@127.0.0.1:${broker.port}`);
    for (const text of [gw.stdout + gw.stderr, status, metrics]) {
      expect(text).not.toContain('ss@');
      expect(text).not.toContain('p%40ss');
    }
    await broker.stop();
  }, 30_000);

  it('check refuses a tls block with an mqtt:// url, with its key path and line', async () => {
    const file = join(tmpDir(), 'tls.yaml');
    writeFileSync(
      file,
      ['gateway: { id: gw1 }', 'upstream:', '  url: mqtt://127.0.0.1:1883', '  tls: { ca: ca.pem }'].join(
        '\n',
      ),
    );
    const { code, out } = await runCli(['check', '-c', file]);
    expect(code).toBe(1);
    expect(out).toMatch(/line 4: upstream\.tls: .*mqtts:\/\//);
  });
});
