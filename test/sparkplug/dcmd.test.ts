import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRegisters } from '../../adapters/modbus/codec.js';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort } from '../harness/ports.js';
import { PtyPair } from '../harness/socat.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { RtuSlave, SlaveModel } from '../modbus/slave.js';
import { decode, encode } from './decode.js';

const DCMD = 'spBv1.0/plant/DCMD/edge3/meter1';

/**
 * DCMD on the real gateway: a write of a writable metric becomes a Modbus write on the RTU bus (a
 * simulated slave behind a socat pty) through the downlink, and the value reads back in DDATA.
 * Unknown and read-only metrics are refused and counted.
 */
describe('sparkplug DCMD -> Modbus write (real gateway, pty RTU slave, real mosquitto)', () => {
  let broker: Mosquitto;
  let pty: PtyPair;
  let model: SlaveModel;
  let rtu: RtuSlave;
  let sub: Subscriber;
  let gw: GatewayProcess;
  let httpPort: number;
  const ddata = () =>
    sub.messages
      .map(decode)
      .filter((m) => m.verb === 'DDATA')
      .flatMap((m) => m.metrics);
  const dcmd = (metrics: unknown[]) =>
    publishTo(broker.url, DCMD, encode({ timestamp: Date.now(), metrics }), { qos: 0 });
  const metricsText = async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();

  beforeAll(async () => {
    broker = await Mosquitto.start();
    pty = await PtyPair.open(tmpDir());
    model = new SlaveModel();
    rtu = new RtuSlave(pty.sensor, model);
    model.setRegisters(1, 4, 0, encodeRegisters(2301, 'uint16', 'ABCD'));
    model.setRegisters(1, 3, 20, encodeRegisters(100, 'int16', 'ABCD'));
    model.setRegisters(1, 3, 30, encodeRegisters(500, 'uint16', 'ABCD'));
    model.unit(1).coils.set(0, true);
    httpPort = await freePort();
    const dir = tmpDir();
    const file = join(dir, 'gw.yaml');
    writeFileSync(
      file,
      `gateway: { id: edge3, state_dir: ${join(dir, 'state')}, stop_grace: 5s }
upstream: { url: "${broker.url}", keepalive: 5, reconnect: { min: 100ms, max: 300ms } }
http: { listen: 127.0.0.1:${httpPort} }
modbus:
  - name: rs485
    path: ${pty.device}
    baud: 19200
    timeout: 300ms
    devices:
      - name: meter1
        unit: 1
        poll: 100ms
        points:
          - { name: voltage, fc: 4, address: 0, scale: 0.1, unit: V }
          - { name: setpoint, fc: 3, address: 20, type: int16, writable: true }
          - { name: limit, fc: 3, address: 30, scale: 0.1, writable: true }
          - { name: relay, fc: 1, address: 0, writable: true }
sparkplug:
  enabled: true
  group_id: plant
  sources:
    - { source: "modbus:rs485", publish: sparkplug }
`,
    );
    sub = await Subscriber.connect(broker.url, 'spBv1.0/#', { qos: 0 });
    gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up', 20_000);
    await waitFor(() => ddata().some((m) => m.name === 'setpoint'), 'first DDATA', 15_000);
  });

  afterAll(async () => {
    await sub?.close();
    await killAllGateways();
    rtu?.close();
    await pty?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it('writes an Int16 register, a scaled register and a coil; the new values read back in DDATA', async () => {
    await dcmd([
      { name: 'setpoint', type: 'Int16', value: -42 },
      { name: 'limit', type: 'Double', value: 61.5 },
      { name: 'relay', type: 'Boolean', value: false },
    ]);
    await gw.waitForLog('sparkplug: DCMD writes spooled', 10_000);
    await waitFor(() => model.unit(1).holding.get(20) === (-42 & 0xffff), 'register 20 = -42', 10_000);
    await waitFor(() => model.unit(1).holding.get(30) === 615, 'register 30 = 615 (61.5 / 0.1)', 10_000);
    await waitFor(() => model.unit(1).coils.get(0) === false, 'coil 0 off', 10_000);
    await waitFor(
      () => ddata().some((m) => m.name === 'setpoint' && m.value === -42),
      'setpoint -42 in DDATA',
      10_000,
    );
    await waitFor(
      () => ddata().some((m) => m.name === 'limit' && m.value === 61.5),
      'limit 61.5 in DDATA',
      10_000,
    );
    await waitFor(
      () => ddata().some((m) => m.name === 'relay' && m.value === false),
      'relay false in DDATA',
      10_000,
    );
  });

  it('refuses writes to read-only and unknown metrics, and counts them; nothing is written', async () => {
    const before = model.requests.filter((r) => r.fc === 6 || r.fc === 16 || r.fc === 5).length;
    await dcmd([{ name: 'voltage', type: 'Double', value: 1 }]);
    await dcmd([{ name: 'nonesuch', type: 'Int32', value: 1 }]);
    await gw.waitForLog('sparkplug: DCMD write to a read-only metric refused', 10_000);
    await gw.waitForLog('sparkplug: DCMD write to an unknown metric refused', 10_000);
    const text = await metricsText();
    expect(text).toMatch(/fieldgate_messages_dropped_total\{source="sparkplug",reason="dcmd_read_only"\} 1/);
    expect(text).toMatch(
      /fieldgate_messages_dropped_total\{source="sparkplug",reason="dcmd_unknown_metric"\} 1/,
    );
    expect(model.requests.filter((r) => r.fc === 6 || r.fc === 16 || r.fc === 5).length).toBe(before);
  });

  it('shows the session on /metrics', async () => {
    const text = await metricsText();
    expect(text).toMatch(/^fieldgate_sparkplug_session 1$/m);
    expect(text).toMatch(/^fieldgate_sparkplug_connection\{state="connected"\} 1$/m);
    expect(text).toMatch(/^fieldgate_sparkplug_bdseq 0$/m);
    expect(text).toMatch(/^fieldgate_sparkplug_births_total 1$/m);
  });
});
