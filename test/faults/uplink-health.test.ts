import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { MqttProxy } from '../upstream/proxy.js';

/** The gateway reaches a real mosquitto through a proxy that can cut the link or swallow acks. */
describe('/health degraded: a flapping uplink, an outbox that does not drain', () => {
  let broker: Mosquitto;
  let proxy: MqttProxy;
  let sub: Subscriber;
  let gateway: Gateway | undefined;
  let httpPort: number;
  let snPort: number;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    proxy = await MqttProxy.start(Number(new URL(broker.url).port));
    sub = await Subscriber.connect(broker.url, ['up/#'], { qos: 1 });
    httpPort = await freePort();
    snPort = await freeUdpPort();
    ({ gateway } = await startGateway(`
gateway: { id: uh, state_dir: state }
upstream: { url: ${proxy.url}, reconnect: { min: 50ms, max: 100ms } }
mqttsn: { enabled: true, listen: "127.0.0.1:${snPort}", predefined_topics: { 1: up/t } }
rules:
  - match: up/#
    qos: 1
http:
  listen: "127.0.0.1:${httpPort}"
  health: { flap_disconnects: 3, flap_window: 3s, stall_after: 700ms }
availability: { enabled: false } # the row counts below are the device's readings only
`));
  });

  afterAll(async () => {
    await gateway?.stop();
    await sub?.close();
    await proxy?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  const health = async () => {
    const r = await fetch(`http://127.0.0.1:${httpPort}/health`);
    return { code: r.status, body: (await r.json()) as { status: string; reason?: string } };
  };
  const metric = async (name: string) => {
    const text = await gateway!.observability!.metrics.text();
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  };
  const connected = () => gateway!.observability!.health().upstream === 'connected';

  it('3 disconnects within the window: 200 "degraded" with the reason, ok again once the window passes; reconnects counted, the first connect not', async () => {
    await waitFor(connected, 'first connect');
    expect(await metric('fieldgate_upstream_reconnects_total')).toBe(0);
    expect((await health()).body.status).toBe('ok');
    for (let i = 1; i <= 3; i++) {
      proxy.cut();
      await waitFor(() => !connected(), `disconnect ${i} seen`);
      await waitFor(connected, `reconnect ${i}`);
    }
    const h = await health();
    expect(h.code).toBe(200);
    expect(h.body.status).toBe('degraded');
    expect(h.body.reason).toMatch(/uplink flapping: 3 disconnects in the last 3s/);
    expect(await metric('fieldgate_upstream_reconnects_total')).toBe(3);
    expect(await metric('fieldgate_health_status\\{status="degraded"\\}')).toBe(1);
    expect(gateway!.observability!.health().serving).toBe(true); // the watchdog stays fed
    await waitFor(async () => (await health()).body.status === 'ok', 'flapping forgotten', 8000);
  });

  it('connected, rows waiting, no broker ack: "degraded: outbox not draining"; ok once acks flow again', async () => {
    await waitFor(async () => (await health()).body.status === 'ok', 'healthy start', 8000);
    proxy.drop = (dir, p) => dir === 'down' && p.cmd === 'puback'; // the broker's acks never arrive
    const dev = await SnClient.open(snPort);
    try {
      expect((await dev.connect('stalldev')).returnCode).toBe(0);
      await dev.send({
        type: 'publish',
        flags: flags({ qos: 1, topicIdType: 1 }),
        topicId: 1,
        msgId: 1,
        data: Buffer.from('stuck'),
      });
      await dev.expect('puback');
      await sub.waitForCount(1, 5000, 'up/t'); // the broker has it; the gateway never hears so
      const h = await waitFor(async () => {
        const r = await health();
        return r.body.status === 'degraded' ? r : undefined;
      }, 'degraded: not draining');
      expect(h.code).toBe(200);
      expect(h.body.reason).toMatch(
        /outbox not draining: 1 rows waiting, no broker ack for \d+s while connected/,
      );
      expect(connected()).toBe(true);

      // Acks flow again: a new connection resends the row, the broker acks it, the outbox drains.
      proxy.drop = undefined;
      proxy.cut();
      await waitFor(() => gateway!.observability!.health().outbox.rows === 0, 'outbox drained');
      expect((await health()).body.status).toBe('ok');
    } finally {
      proxy.drop = undefined;
      await dev.close();
    }
  });
});
