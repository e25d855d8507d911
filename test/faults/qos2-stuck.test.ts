import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/gateway.js';
import type { LogLine } from '../harness/gateway-process.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { MqttProxy } from '../upstream/proxy.js';
import { snPublish } from '../upstream/sn-device.js';

/**
 * A broker that never answers QoS 2 PUBLISHes (the proxy swallows its PUBRECs): the QoS 2 window
 * fills, and must hold back only the device whose QoS 2 rows wait.
 */
describe('a QoS 2 row that is never acknowledged', () => {
  let broker: Mosquitto;
  let proxy: MqttProxy;
  let sub: Subscriber;
  let gateway: Gateway;
  let logs: LogLine[];
  let snPort: number;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    proxy = await MqttProxy.start(broker.port);
    sub = await Subscriber.connect(broker.url, ['st/#'], { qos: 2 });
    snPort = await freeUdpPort();
    ({ gateway, logs } = await startGateway(`
gateway: { id: st, state_dir: state }
upstream: { url: ${proxy.url}, max_inflight_qos2: 2, reconnect: { min: 50ms, max: 100ms } }
mqttsn:
  enabled: true
  listen: "127.0.0.1:${snPort}"
  predefined_topics: { 1: st/q2/a, 2: st/q1/b, 3: st/q0/c, 4: st/q2/d }
rules:
  - match: st/q2/#
    qos: 2
  - match: st/q1/#
    qos: 1
  - match: st/q0/#
    qos: 0
http: { enabled: false, health: { stall_after: 1s } }
availability: { enabled: false }
`));
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected');
  });

  afterAll(async () => {
    await gateway?.stop();
    await sub?.close();
    await proxy?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it("fills the QoS 2 window, yet other devices' QoS 0/1 readings flow; /health and the log say which message waits; all arrive once the link is renewed", async () => {
    proxy.drop = (dir, p) => dir === 'down' && p.cmd === 'pubrec';
    const q2 = await SnClient.open(snPort);
    const q2b = await SnClient.open(snPort);
    const q1 = await SnClient.open(snPort);
    const q0 = await SnClient.open(snPort);
    try {
      for (const [dev, id] of [
        [q2, 'q2dev'],
        [q2b, 'q2bdev'],
        [q1, 'q1dev'],
        [q0, 'q0dev'],
      ] as const)
        expect((await dev.connect(id)).returnCode).toBe(0);
      // Two QoS 2 devices fill the window of 2; the first one's later readings wait behind it.
      await snPublish(q2, 1, 1, 2, 'a:1');
      await snPublish(q2b, 4, 1, 2, 'd:1');
      await snPublish(q2, 1, 2, 2, 'a:2');
      await snPublish(q2, 1, 3, 2, 'a:3');
      for (let i = 1; i <= 20; i++) {
        await snPublish(q1, 2, i, 1, `b:${i}`);
        if (i <= 5) await snPublish(q0, 3, 0, 0, `c:${i}`);
      }
      await sub.waitForCount(20, 10_000, 'st/q1/b');
      const got = (topic: string) =>
        sub.messages.filter((m) => m.topic === topic).map((m) => m.payload.toString());
      await waitFor(() => got('st/q0/c').length === 5, 'QoS 0 readings');
      expect(got('st/q1/b')).toEqual(Array.from({ length: 20 }, (_, i) => `b:${i + 1}`));
      expect(got('st/q0/c')).toEqual(['c:1', 'c:2', 'c:3', 'c:4', 'c:5']);
      // The QoS 2 rows are still in the outbox: nothing was lost or completed without its PUBCOMP.
      await waitFor(() => gateway.observability!.health().outbox.rows === 4, 'only the 4 QoS 2 rows left');

      const degraded = await waitFor(() => {
        const d = gateway.observability!.health().degraded ?? [];
        return d.find((r) => r.startsWith('QoS 2 stuck')) ? d : undefined;
      }, 'degraded: QoS 2 stuck');
      expect(degraded.join('; ')).toMatch(/QoS 2 stuck: 2 QoS 2 messages in flight, the oldest awaiting/);
      await waitFor(
        () => logs.some((l) => /a QoS 2 message has waited \d+ s/.test(String(l.msg))),
        'a warning that names the waiting message',
      );
      const warned = logs.filter((l) => /a QoS 2 message has waited/.test(String(l.msg)));
      expect(warned.map((l) => (l as { device?: string }).device).sort()).toEqual(['q2bdev', 'q2dev']);
      expect(warned.every((l) => l.level === 40)).toBe(true);

      // MQTT allows no resend on a live connection; a new one resends them, and the broker answers.
      proxy.drop = undefined;
      proxy.cut();
      await waitFor(() => gateway.observability!.health().outbox.rows === 0, 'outbox drained', 15_000);
      await waitFor(() => got('st/q2/a').length >= 3 && got('st/q2/d').length >= 1, 'QoS 2 readings');
      expect(got('st/q2/a')).toEqual(['a:1', 'a:2', 'a:3']);
      expect(got('st/q2/d')).toEqual(['d:1']);
      expect(
        (gateway.observability!.health().degraded ?? []).filter((r) => r.startsWith('QoS 2 stuck')),
      ).toEqual([]);
    } finally {
      proxy.drop = undefined;
      for (const d of [q2, q2b, q1, q0]) await d.close();
    }
  });
});
