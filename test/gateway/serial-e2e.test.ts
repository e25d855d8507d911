import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameEncoder } from '../../adapters/serial/framing/encode.js';
import type { Gateway } from '../../gateway/gateway.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { PtyPair } from '../harness/socat.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { Sensor } from '../serial/helpers.js';
import { startGateway } from './start.js';

const PORTS = ['slp', 'bin', 'idl', 'rr'] as const;

/** Each framing and payload format, from a real pty to a real broker subscriber; commands with replies; reload. */
describe('serial sensors end to end', () => {
  let broker: Mosquitto;
  const ptys = new Map<string, PtyPair>();
  const ends = new Map<string, Sensor>();
  let gateway: Gateway;
  let file: string;
  let sub: Subscriber;
  let yaml: string;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    for (const name of PORTS) {
      const pty = await PtyPair.open(tmpDir());
      ptys.set(name, pty);
      ends.set(name, await Sensor.open(pty.sensor));
    }
    sub = await Subscriber.connect(broker.url, ['e/#', 'res/#', 'renamed/#'], { qos: 1 });
    const dev = (n: string) => ptys.get(n)!.device;
    yaml = `
gateway: { id: gw2, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
serial:
  - { name: slp, path: ${dev('slp')}, framing: slip, format: json, device_field: id, topic: "e/{device}" }
  - { name: bin, path: ${dev('bin')}, framing: length-crc16, format: csv, columns: [a, b], topic: "e/{device}/{field}" }
  - { name: idl, path: ${dev('idl')}, framing: idle-timeout, idle: 30ms, format: raw, raw_encoding: hex, topic: "e/{device}/raw" }
  - name: rr
    path: ${dev('rr')}
    format: kv
    topic: "e/{device}/{field}"
    commands: { reply_pattern: "^OK (?<value>\\\\d+)$", reply_timeout: 3s }
commands:
  - subscribe: cmd/{gateway}/+device
    to: serial:rr
    result_topic: res/{device}
http: { enabled: false }
`;
    ({ gateway, file } = await startGateway(yaml));
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected upstream');
  });

  afterAll(async () => {
    await gateway?.stop();
    await sub?.close();
    for (const e of ends.values()) await e.close();
    for (const p of ptys.values()) await p.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it('SLIP frames with JSON: device id from a field, one JSON message per frame', async () => {
    await ends
      .get('slp')!
      .write(frameEncoder('slip', Buffer.alloc(0))(Buffer.from('{"id":"node7","t":1.5}')));
    const [m] = await sub.waitForCount(1, 5000, 'e/node7');
    expect(JSON.parse(m!.payload.toString())).toMatchObject({ t: 1.5 });
  });

  it('length-prefixed frames with CRC-16 and CSV columns: one message per field; garbage in between is skipped', async () => {
    const frame = frameEncoder('length-crc16', Buffer.alloc(0))(Buffer.from('20.5,3'));
    await ends.get('bin')!.write(Buffer.concat([Buffer.from('noise!'), frame]));
    expect((await sub.waitForCount(1, 5000, 'e/bin/a'))[0]?.payload.toString()).toBe('20.5');
    expect((await sub.waitForCount(1, 5000, 'e/bin/b'))[0]?.payload.toString()).toBe('3');
  });

  it('idle-timeout frames published raw as hex', async () => {
    await ends.get('idl')!.write(Buffer.from([0x01, 0x02, 0xfe]));
    expect((await sub.waitForCount(1, 5000, 'e/idl/raw'))[0]?.payload.toString()).toBe('0102fe');
  });

  it('a command from the broker is written to the port; the device reply is published as its result', async () => {
    await publishTo(broker.url, 'cmd/gw2/rr', 'READ', { qos: 1 });
    const end = ends.get('rr')!;
    await waitFor(() => end.text().includes('READ\n'), 'command on the pty');
    await end.write('OK 42\n');
    const results = await sub.waitForCount(2, 5000, 'res/rr');
    const bodies = results.map((r) => JSON.parse(r.payload.toString()) as Record<string, unknown>);
    expect(bodies.map((b) => b.outcome)).toEqual(['delivered', 'replied']);
    expect(bodies[1]).toMatchObject({ reply: 'OK 42', groups: { value: '42' }, device: 'rr' });
  });

  it('SIGHUP reload applies new rules atomically and keeps the old ones when the new file is invalid', async () => {
    writeFileSync(file, `${yaml}rules:\n  - match: e/+device/#rest\n    publish: renamed/{device}/{rest}\n`);
    await gateway.reload(file);
    await ends.get('bin')!.write(frameEncoder('length-crc16', Buffer.alloc(0))(Buffer.from('7,8')));
    expect((await sub.waitForCount(1, 5000, 'renamed/bin/a'))[0]?.payload.toString()).toBe('7');

    writeFileSync(file, `${readFileSync(file, 'utf8')}  - match: x\n    publish: y/{nope}\n`);
    await expect(gateway.reload(file)).rejects.toThrow(/nope/);
    await ends.get('bin')!.write(frameEncoder('length-crc16', Buffer.alloc(0))(Buffer.from('9,10')));
    await sub.waitForCount(2, 5000, 'renamed/bin/a'); // still the reloaded rules, not the broken ones
    await sleep(100);
    expect(sub.messages.filter((m) => m.topic === 'renamed/bin/a').map((m) => m.payload.toString())).toEqual([
      '7',
      '9',
    ]);
  });
});
