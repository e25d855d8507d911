import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { CommandDevice, commandUntilReceived, spooled } from './device.js';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await killAllGateways();
  cleanupTmpDirs();
});

describe('the command spool is bounded', () => {
  it('rejects commands for a device that does not answer beyond spool_max_per_device, and reports why; other devices are served', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const port = await freeUdpPort();
    const dir = tmpDir('fieldgate-spool-bound-');
    const state = join(dir, 'state');
    const file = join(dir, 'gw.yaml');
    writeFileSync(
      file,
      `gateway: { id: gwb, state_dir: ${state} }
upstream: { url: "${broker.url}", reconnect: { min: 100ms, max: 300ms } }
store: { spool_max_per_device: 3 }
mqttsn: { enabled: true, listen: "127.0.0.1:${port}" }
commands:
  - subscribe: cmd/{gateway}/+device
    to: mqttsn
    topic: cm
    qos: 1
    result_topic: res/{device}
http: { enabled: false }
`,
    );
    const gw = GatewayProcess.start(['run', '-c', file]);
    cleanups.push(() => gw.kill());
    await gw.waitForLog('fieldgate up', 20_000);
    await gw.waitForLog('upstream: connected');
    const results = await Subscriber.connect(broker.url, 'res/#');
    cleanups.push(() => results.close());

    // A device that never acks: its first command holds its queue, the rest wait in the spool.
    const silent = await CommandDevice.connect(port, 's1', { acking: false, cleanSession: false });
    cleanups.push(() => silent.close());
    await commandUntilReceived(broker.url, 'cmd/gwb/s1', 'c0', silent);
    for (let i = 1; i <= 6; i++) await publishTo(broker.url, 'cmd/gwb/s1', `c${i}`, { qos: 1 });
    await waitFor(
      () => results.messages.filter((m) => m.payload.toString().includes('spool_full')).length >= 4,
      'four rejections',
      10_000,
    );
    // The bound holds in the store: three rows for s1 (the one being delivered and two waiting).
    expect(spooled(state, 's1').length).toBe(3);
    const rejected = results.messages
      .map((m) => JSON.parse(m.payload.toString()) as Record<string, unknown>)
      .filter((r) => r.reason === 'spool_full');
    expect(rejected.every((r) => r.outcome === 'rejected' && r.device === 's1')).toBe(true);
    await gw.waitForLog(/^command spool full/);

    // Another device is not held by s1's full spool.
    const other = await CommandDevice.connect(port, 's2', { acking: true, cleanSession: false });
    cleanups.push(() => other.close());
    await commandUntilReceived(broker.url, 'cmd/gwb/s2', 'hello', other);
    expect(other.got).toContain('hello');
  });
});
