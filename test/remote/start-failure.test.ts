import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { Requester } from './requester.js';

/**
 * A change the gateway cannot even start with (here its HTTP listener on a port another process
 * holds) is rolled back at once, without waiting out remote.confirm_within, and reported.
 */
describe('remote management: a config the gateway does not start with', () => {
  let broker: Mosquitto;
  let gw: GatewayProcess;
  let op: Requester;
  let holder: Server;
  let busyPort: number;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    busyPort = (holder.address() as { port: number }).port;
    const dir = tmpDir('fieldgate-startfail-');
    const file = join(dir, 'fieldgate.yaml');
    writeFileSync(
      file,
      `gateway: { id: gw-s, state_dir: state }
upstream:
  url: ${broker.url}
  reconnect: { min: 100ms, max: 300ms }
http: { enabled: false }
remote: { enabled: true, confirm_within: 10m, info_interval: 1h }
`,
    );
    gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up');
    op = await Requester.connect(broker.url);
  }, 30_000);

  afterAll(async () => {
    await op?.close();
    await killAllGateways();
    await broker?.stop();
    await new Promise((r) => holder?.close(r));
    cleanupTmpDirs();
  });

  it('rolls back at once and reports why', async () => {
    const before = await op.request('gw-s', 'config/get');
    const a = await op.request('gw-s', 'config/set', {
      patch: { http: { enabled: true, listen: `127.0.0.1:${busyPort}` } },
    });
    expect(a.code, a.message).toBe('pending');
    expect(a.body?.confirm_by_s).toBe(600);
    const rolled = await op.waitFor(
      'fieldgate/gw-s/admin/change',
      (j) => j.change_id === a.body?.change_id && j.state === 'rolled_back',
      20_000,
    );
    expect(String(rolled.reason)).toMatch(/did not start with it: .*EADDRINUSE/);
    expect((await op.request('gw-s', 'config/get')).body?.hash).toBe(before.body?.hash);
    expect(gw.lines.some((l) => l.msg === 'gateway failed to start')).toBe(true);
  }, 30_000);
});
