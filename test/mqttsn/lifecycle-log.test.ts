import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { freeUdpPort } from '../harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { SnClient } from './client.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

describe('mqttsn: connect/disconnect lines cannot flood the journal', () => {
  it('200 CONNECT/DISCONNECT pairs write a handful of lifecycle lines, not 400', async () => {
    const dir = tmpDir('fieldgate-lifelog-');
    const port = await freeUdpPort();
    const file = join(dir, 'fieldgate.yaml');
    writeFileSync(
      file,
      `gateway: { id: gw1, state_dir: ${join(dir, 'state')} }
upstream: { url: "mqtt://127.0.0.1:1" }
mqttsn: { enabled: true, listen: "127.0.0.1:${port}" }
http: { enabled: false }
`,
    );
    const gw = GatewayProcess.start(['run', '-c', file, '-l', 'info']);
    try {
      await gw.waitForLog('mqttsn listening', 30_000);
      const c = await SnClient.open(port);
      for (let i = 0; i < 200; i++) {
        expect((await c.connect(`pair-${i}`)).returnCode).toBe(0);
        await c.send({ type: 'disconnect' });
        await c.expect('disconnect');
      }
      await c.close();
      const lifecycle = gw.lines.filter((l) => /^mqttsn client (connected|disconnect)/.test(String(l.msg)));
      // One line per kind per 10 s (the next one says how many it held back).
      expect(lifecycle.length).toBeGreaterThanOrEqual(2);
      expect(lifecycle.length).toBeLessThanOrEqual(6);
      expect(gw.lines.length).toBeLessThan(40);
      gw.signal('SIGTERM');
      expect((await gw.exited()).code).toBe(0);
    } finally {
      await gw.kill();
    }
  }, 60_000);
});
