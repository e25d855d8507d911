import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { PtyPair } from '../harness/socat.js';
import { Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { Sensor } from '../serial/helpers.js';

/** Counters that must count what happened: serial frame drops, lost MQTT-SN devices. */
describe('counters on real parts', () => {
  let broker: Mosquitto;
  let sub: Subscriber;
  let pty: PtyPair;
  let sensor: Sensor;
  let gateway: Gateway | undefined;
  let snPort: number;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    sub = await Subscriber.connect(broker.url, ['ct/#'], { qos: 1 });
    pty = await PtyPair.open(tmpDir());
    sensor = await Sensor.open(pty.sensor);
    snPort = await freeUdpPort();
    ({ gateway } = await startGateway(`
gateway: { id: ct, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
serial:
  - { name: wx, path: ${pty.device}, format: json, max_length: 32, topic: "ct/wx/{field}" }
mqttsn: { enabled: true, listen: "127.0.0.1:${snPort}" }
http: { enabled: false }
`));
  });

  afterAll(async () => {
    await gateway?.stop();
    await sensor?.close();
    await pty?.close();
    await sub?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  const metrics = () => gateway!.observability!.metrics.text();
  const value = async (series: string) => {
    const line = (await metrics()).split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('serial frame drops reach fieldgate_serial_frames_dropped_total{port,reason}', async () => {
    await waitFor(
      async () => (await value('fieldgate_serial_ports{port="serial:wx",state="open"}')) === 1,
      'serial port open',
    );
    await waitFor(() => gateway!.observability!.health().upstream === 'connected', 'upstream connected');
    await sensor.write('{"t": 1, "this line is far longer than 32 bytes": 1}\n');
    await sensor.write('{not json\n');
    await sensor.write('also not json}\n');
    await sensor.write('{"t": 21.5}\n');
    // The good frame came after the bad ones on the same port: once it arrived, they were handled.
    await sub.waitForCount(1, 10_000, 'ct/wx/t');
    const series = (reason: string) =>
      `fieldgate_serial_frames_dropped_total{port="serial:wx",reason="${reason}"}`;
    expect(await value(series('too_long'))).toBe(1);
    expect(await value(series('unparsable'))).toBe(2);
    expect(await value(series('crc'))).toBe(0);
  });

  it('fieldgate_mqttsn_devices{state="lost"}: a device that misses its keep-alive is counted, and leaves when it reconnects', async () => {
    const lost = 'fieldgate_mqttsn_devices{state="lost"}';
    const dev = await SnClient.open(snPort);
    try {
      expect((await dev.connect('lossy', { duration: 1 })).returnCode).toBe(0);
      expect(await value(lost)).toBe(0);
      // Silent for 1.5 x keep-alive: the sweep declares it lost.
      await waitFor(async () => (await value(lost)) === 1, 'device counted lost', 6000);
      expect((await dev.connect('lossy', { duration: 60 })).returnCode).toBe(0);
      expect(await value(lost)).toBe(0);
      expect(await value('fieldgate_mqttsn_devices{state="active"}')).toBe(1);
    } finally {
      await dev.close();
    }
  });
});
