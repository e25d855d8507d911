import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { PtyPair } from '../harness/socat.js';
import { Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { Sensor } from '../serial/helpers.js';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanupTmpDirs();
});

describe('Sparkplug turned off with readings still in its lane', () => {
  it('says at start how many wait, and why', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const pty = await PtyPair.open(tmpDir());
    cleanups.push(() => pty.close());
    const sensor = await Sensor.open(pty.sensor);
    cleanups.push(() => sensor.close());
    const sub = await Subscriber.connect(broker.url, 'wx/#', { qos: 1 });
    cleanups.push(() => sub.close());
    const state = join(tmpDir(), 'state');
    const config = (sparkplug: string) => `
gateway: { id: gwo, state_dir: ${state} }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
serial:
  - { name: wx, path: ${pty.device}, format: kv, device_field: id, topic: "wx/{device}/{field}" }
${sparkplug}
http: { enabled: false }
`;
    // The primary host never says online: the node's rows wait in their lane.
    const on = await startGateway(
      config(
        'sparkplug: { enabled: true, primary_host_id: scada, sources: [{ source: "serial:wx", publish: both }] }',
      ),
    );
    for (const t of [20, 21, 22]) await sensor.write(`id=roof t=${t}\n`);
    // The plain topics went (publish: both), so the Sparkplug rows of the same readings are stored.
    await waitFor(() => sub.messages.filter((m) => m.topic === 'wx/roof/t').length >= 3, 'plain readings');
    expect(on.logs.some((l) => l.msg?.toString().startsWith('Sparkplug readings wait'))).toBe(false);
    await on.gateway.stop();

    const off = await startGateway(config(''));
    cleanups.push(() => off.gateway.stop());
    const line = off.logs.find(
      (l) =>
        l.msg ===
        'Sparkplug readings wait in the outbox but sparkplug is off: they are sent when it is on again, or dropped by store.max_age',
    );
    expect(line).toMatchObject({ rows: 3, level: 40 });
  });
});
