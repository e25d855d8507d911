import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { LogLine } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { publishTo } from '../harness/subscriber.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { httpBase, startStatusGateway } from './gateway.js';

interface Row {
  id: string;
  problems: Record<string, number>;
  last_problem: { reason: string; at: number } | null;
}

/**
 * Through the whole gateway and a real mosquitto: a device that does not take its messages, sends out
 * of state and sends oversize datagrams is named at warn and shown with its problems on the status page.
 */
describe('status page: devices that misbehave', () => {
  let broker: Mosquitto;
  let gateway: Gateway;
  let logs: LogLine[];
  let base: string;
  let snPort: number;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    snPort = await freeUdpPort();
    ({ gateway, logs } = await startStatusGateway(`
gateway: { id: gw-problems, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn:
  enabled: true
  listen: 127.0.0.1:${snPort}
  max_packet_size: 64
  retry_interval: 200ms
  retry_count: 1
  open_subscriptions: true # the device subscribes; no acl in this test
http: { listen: 127.0.0.1:${await freePort()} }
`));
    base = httpBase(gateway);
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected upstream');
  });

  afterAll(async () => {
    await gateway?.stop();
    await broker?.stop();
    cleanupTmpDirs();
  });

  const devices = async (): Promise<Row[]> =>
    ((await (await fetch(`${base}/api/devices`)).json()) as { devices: Row[] }).devices;

  it('counts delivery_failed, out_of_state and oversize next to the device, and warns naming it', async () => {
    const deaf = await SnClient.open(snPort);
    const good = await SnClient.open(snPort);
    try {
      expect((await deaf.connect('deaf-dev')).returnCode).toBe(0);
      expect((await good.connect('good-dev')).returnCode).toBe(0);
      await deaf.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 1, topic: 'down/deaf' });
      await deaf.expect('suback');
      // The gateway subscribes upstream for the device; the cloud side publishes; the device never acks.
      await waitFor(
        async () => {
          await publishTo(broker.url, 'down/deaf', 'hello', { qos: 1 });
          return deaf.inbox.some((p) => p.type === 'publish');
        },
        'the downlink reaches the device',
        10_000,
        300,
      );
      await deaf.send({ type: 'puback', topicId: 1, msgId: 4242, returnCode: 0 }); // acks nothing sent: out of state
      await deaf.sendRaw(Buffer.concat([Buffer.from([80, 0x0c, 0, 0, 1, 0, 1]), Buffer.alloc(73)]));

      const row = await waitFor(
        async () => {
          const d = (await devices()).find((r) => r.id === 'deaf-dev');
          return d?.problems.delivery_failed && d.problems.oversize && d.problems.out_of_state
            ? d
            : null;
        },
        'deaf-dev problems on /api/devices',
        10_000,
        100,
      );
      expect(row.last_problem).toEqual({ reason: expect.any(String), at: expect.any(Number) });
      expect((await devices()).find((r) => r.id === 'good-dev')).toMatchObject({
        problems: {},
        last_problem: null,
      });
      for (const reason of ['delivery_failed', 'out_of_state', 'oversize'])
        expect(
          logs.filter((l) => l.level === 40 && l.reason === reason && l.device === 'deaf-dev'),
          reason,
        ).toHaveLength(1);
    } finally {
      await deaf.close();
      await good.close();
    }
  });
});
