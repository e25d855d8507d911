import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { PtyPair } from '../harness/socat.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { Sensor } from '../serial/helpers.js';
import { decode, encode, metric } from './decode.js';

/** Serial fields as Sparkplug metrics: a real pty, the serial adapter, the gateway, real mosquitto. */
describe('serial fields as Sparkplug metrics (real pty, real mosquitto, Tahu decoder)', () => {
  let broker: Mosquitto;
  let pty: PtyPair;
  let sensor: Sensor;
  let gateway: Gateway;
  let logs: { msg?: unknown; commands?: unknown }[];
  let sub: Subscriber;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    pty = await PtyPair.open(tmpDir());
    sensor = await Sensor.open(pty.sensor);
    sub = await Subscriber.connect(broker.url, ['spBv1.0/#', 'wx/#'], { qos: 1 });
    ({ gateway, logs } = await startGateway(`
gateway: { id: gw6, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
serial:
  - { name: wx, path: ${pty.device}, format: kv, device_field: id, topic: "wx/{device}/{field}" }
sparkplug:
  enabled: true
  sources:
    - source: "serial:wx"
      publish: both
      report: every_poll
      writes:
        - { metric: fan, payload: "FAN {device} {value}", datatype: Boolean }
        - { metric: st, payload: "ST {value}" }
http: { enabled: false }
`));
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected upstream');
  });

  afterAll(async () => {
    await gateway?.stop();
    await sub?.close();
    await sensor?.close();
    await pty?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it('a frame is one DDATA of its device with its fields typed from their values; a new field brings a new DBIRTH', async () => {
    await sensor.write('id=roof t=21.5 st=ok\n');
    await waitFor(() => sub.messages.some((m) => m.topic.includes('/DDATA/')), 'DDATA', 10_000);
    await sensor.write('id=roof t=22 st=ok p=1013.2\n');
    await waitFor(
      () => sub.messages.filter((m) => m.topic.includes('/DDATA/')).length >= 2,
      'second DDATA',
      10_000,
    );
    const msgs = sub.messages.filter((m) => m.topic.startsWith('spBv1.0/')).map(decode);
    expect(msgs.map((m) => `${m.verb}:${m.device ?? ''}`)).toEqual([
      'NBIRTH:',
      'DBIRTH:roof',
      'DDATA:roof',
      'DBIRTH:roof',
      'DDATA:roof',
    ]);
    const data = msgs.filter((m) => m.verb === 'DDATA');
    expect(data[0]!.metrics.map((m) => [m.name, m.type, m.value])).toEqual([
      ['id', 'String', 'roof'],
      ['t', 'Double', 21.5],
      ['st', 'String', 'ok'],
    ]);
    // Every birth also declares `fan`, the write-only control from `writes`.
    expect(msgs[1]!.metrics.map((m) => m.name).sort()).toEqual(['fan', 'id', 'st', 't']);
    expect(msgs[3]!.metrics.map((m) => m.name).sort()).toEqual(['fan', 'id', 'p', 'st', 't']);
    // Plain topics beside it (publish: both).
    expect(sub.messages.some((m) => m.topic === 'wx/roof/t')).toBe(true);
  });

  it('a DCMD write of a writable serial metric becomes the configured command on the port; a read-only one is refused', async () => {
    await waitFor(
      () => sub.messages.some((m) => m.topic === 'spBv1.0/fieldgate/DBIRTH/gw6/roof'),
      'roof born',
    );
    // The write-only control is in the birth, with its datatype and no value yet.
    const birth = sub.messages
      .filter((m) => m.topic === 'spBv1.0/fieldgate/DBIRTH/gw6/roof')
      .map(decode)
      .at(-1)!;
    expect(metric(birth, 'fan')).toMatchObject({ type: 'Boolean', value: null });
    const dcmd = (metrics: unknown[]) =>
      publishTo(broker.url, 'spBv1.0/fieldgate/DCMD/gw6/roof', encode({ timestamp: Date.now(), metrics }), {
        qos: 0,
      });
    const before = sensor.received.length;
    await dcmd([
      { name: 'fan', type: 'Boolean', value: true },
      { name: 't', type: 'Double', value: 5 },
      { name: 'st', type: 'String', value: 'reset' },
    ]);
    await waitFor(
      () => sensor.received.subarray(before).toString('latin1').includes('ST reset\n'),
      'the commands on the port',
      10_000,
    );
    const written = sensor.received.subarray(before).toString('latin1');
    expect(written).toBe('FAN roof true\nST reset\n');
    // The journal says what was spooled, as sent.
    const spooledLine = logs.find((l) => l.msg === 'sparkplug: DCMD writes spooled');
    expect(spooledLine?.commands).toEqual(['FAN roof true', 'ST reset']);
    // t is a reading the port reports, not a control: refused and counted.
    const text = await gateway.observability!.metrics.text();
    expect(text).toMatch(/fieldgate_messages_dropped_total\{source="sparkplug",reason="dcmd_read_only"\} 1/);
  });
});
