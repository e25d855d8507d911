import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import { metricMapSchema } from '../../gateway/sparkplug/config.js';
import { mapTopic } from '../../gateway/sparkplug/topic-map.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { decode, encode } from './decode.js';

describe('MQTT-SN topics mapped to Sparkplug metrics', () => {
  it('mapTopic: +device names the device, the name defaults to the last level, first match wins', () => {
    const maps = [
      metricMapSchema.parse({ topic: 'sensors/+device/temp', name: 'temperature', datatype: 'Float' }),
      metricMapSchema.parse({ topic: 'sensors/+/+', datatype: 'Int32' }),
      metricMapSchema.parse({ topic: 'status/#', datatype: 'String' }),
    ];
    expect(mapTopic(maps, 'sensors/boiler/temp', 'client1')).toMatchObject({
      device: 'boiler',
      name: 'temperature',
    });
    expect(mapTopic(maps, 'sensors/boiler/rpm', 'client1')).toMatchObject({ device: 'client1', name: 'rpm' });
    expect(mapTopic(maps, 'status/a/b', 'c')).toMatchObject({ device: 'c', name: 'b' });
    expect(mapTopic(maps, 'sensors/boiler', 'c')).toBeUndefined();
    expect(mapTopic(maps, 'other/x', 'c')).toBeUndefined();
  });

  describe('through the gateway: real UDP MQTT-SN device, real mosquitto, Tahu decoder', () => {
    let broker: Mosquitto;
    let gateway: Gateway;
    let sub: Subscriber;
    let port: number;

    beforeAll(async () => {
      broker = await Mosquitto.start();
      port = await freeUdpPort();
      sub = await Subscriber.connect(broker.url, ['spBv1.0/#', 'sensors/#'], { qos: 1 });
      ({ gateway } = await startGateway(`
gateway: { id: gw5, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn: { enabled: true, listen: 127.0.0.1:${port} }
http: { enabled: false }
sparkplug:
  enabled: true
  group_id: site
  sources:
    - source: mqttsn
      publish: sparkplug
      metrics:
        - { topic: "sensors/+device/temp", name: temperature, datatype: Float, unit: "°C" }
        - { topic: "sensors/+device/count", name: count, datatype: UInt32 }
        - { topic: "sensors/+device/door", name: door, datatype: Boolean }
        - { topic: "sensors/+device/setpoint", name: setpoint, datatype: Int32, command_topic: "set/{device}/setpoint" }
`));
      await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected upstream');
    });

    afterAll(async () => {
      await gateway?.stop();
      await sub?.close();
      await broker?.stop();
      cleanupTmpDirs();
    });

    it('each mapped topic is a typed metric of the device +device names; unmapped topics and bad values are not published', async () => {
      const c = await SnClient.open(port);
      expect((await c.connect('node7')).returnCode).toBe(0);
      let msgId = 1;
      const publish = async (topic: string, value: string) => {
        await c.send({ type: 'register', topicId: 0, msgId: msgId++, topicName: topic });
        const { topicId } = await c.expect('regack');
        await c.send({
          type: 'publish',
          flags: flags({ qos: 1 }),
          topicId,
          msgId: msgId++,
          data: Buffer.from(value),
        });
        await c.expect('puback');
      };
      await publish('sensors/boiler/temp', '21.5');
      await publish('sensors/boiler/door', 'on');
      await publish('sensors/boiler/other', '1');
      await publish('sensors/boiler/temp', 'warm');
      await publish('sensors/boiler/temp', '22');
      await waitFor(
        () => sub.messages.map(decode).filter((m) => m.verb === 'DDATA').length >= 3,
        'three DDATA',
        10_000,
      );
      const msgs = sub.messages.filter((m) => m.topic.startsWith('spBv1.0/')).map(decode);
      expect(sub.messages.some((m) => m.topic.startsWith('sensors/'))).toBe(false); // publish: sparkplug
      const data = msgs.filter((m) => m.verb === 'DDATA');
      expect(data.every((m) => m.topic === 'spBv1.0/site/DDATA/gw5/boiler')).toBe(true);
      expect(data.flatMap((m) => m.metrics.map((x) => [x.name, x.type, x.value]))).toEqual([
        ['temperature', 'Float', 21.5],
        ['door', 'Boolean', true],
        ['temperature', 'Float', 22],
      ]);
      // A DBIRTH before the first DDATA, and again when a metric it did not have appears.
      const births = msgs.filter((m) => m.verb === 'DBIRTH');
      expect(births.length).toBeGreaterThanOrEqual(2);
      const last = births.at(-1)!;
      expect(last.metrics.map((x) => x.name).sort()).toEqual(['door', 'temperature']);
      expect(last.metrics.find((x) => x.name === 'temperature')?.properties?.engUnit?.value).toBe('°C');
      const order = msgs.map((m) => m.verb);
      expect(order.indexOf('DBIRTH')).toBeLessThan(order.indexOf('DDATA'));
      await c.close();
    });

    it('a DCMD write of a mapped metric with a command_topic goes to the device that reports it; others are read-only', async () => {
      const c = await SnClient.open(port);
      expect((await c.connect('node8')).returnCode).toBe(0);
      await c.send({ type: 'register', topicId: 0, msgId: 1, topicName: 'sensors/tank/setpoint' });
      const { topicId } = await c.expect('regack');
      await c.send({ type: 'publish', flags: flags({ qos: 1 }), topicId, msgId: 2, data: Buffer.from('20') });
      await c.expect('puback');
      await waitFor(
        () => sub.messages.some((m) => m.topic === 'spBv1.0/site/DDATA/gw5/tank'),
        'DDATA of tank',
        10_000,
      );
      await publishTo(
        broker.url,
        'spBv1.0/site/DCMD/gw5/tank',
        encode({ timestamp: Date.now(), metrics: [{ name: 'setpoint', type: 'Int32', value: -3 }] }),
        { qos: 0 },
      );
      const reg = await c.expect('register', 10_000);
      expect(reg.topicName).toBe('set/tank/setpoint');
      await c.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
      const pub = await c.expect('publish', 10_000);
      expect(pub.data.toString()).toBe('-3');
      if (pub.flags.qos === 1)
        await c.send({ type: 'puback', topicId: pub.topicId, msgId: pub.msgId, returnCode: 0 });
      await c.close();
    });
  });
});
