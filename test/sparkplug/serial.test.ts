import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { PtyPair } from '../harness/socat.js';
import { Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { Sensor } from '../serial/helpers.js';
import { decode } from './decode.js';

/** Serial fields as Sparkplug metrics: a real pty, the serial adapter, the gateway, real mosquitto. */
describe('serial fields as Sparkplug metrics (real pty, real mosquitto, Tahu decoder)', () => {
  let broker: Mosquitto;
  let pty: PtyPair;
  let sensor: Sensor;
  let gateway: Gateway;
  let sub: Subscriber;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    pty = await PtyPair.open(tmpDir());
    sensor = await Sensor.open(pty.sensor);
    sub = await Subscriber.connect(broker.url, ['spBv1.0/#', 'wx/#'], { qos: 1 });
    ({ gateway } = await startGateway(`
gateway: { id: gw6, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
serial:
  - { name: wx, path: ${pty.device}, format: kv, device_field: id, topic: "wx/{device}/{field}" }
sparkplug:
  enabled: true
  sources: [{ source: "serial:wx", publish: both, report: every_poll }]
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
    expect(msgs[3]!.metrics.map((m) => m.name).sort()).toEqual(['id', 'p', 'st', 't']);
    // Plain topics beside it (publish: both).
    expect(sub.messages.some((m) => m.topic === 'wx/roof/t')).toBe(true);
  });
});
