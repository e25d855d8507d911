import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRegisters } from '../../adapters/modbus/codec.js';
import { BYTE_ORDERS, type PointType } from '../../adapters/modbus/config.js';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { PtyPair } from '../harness/socat.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { RtuSlave, SlaveModel, TcpSlave } from './slave.js';

const TYPED: [PointType, number | bigint, string][] = [
  ['int32', -123456789, '-123456789'],
  ['uint32', 4000000000, '4000000000'],
  ['float32', 230.1, '230.1'],
  ['int64', -(2n ** 62n), '-4611686018427387904'],
  ['uint64', 2n ** 64n - 1n, '18446744073709551615'],
  ['float64', 12345.678901234, '12345.678901234'],
];

/**
 * Whole gateway, real mosquitto: an RTU bus (simulated slave behind a socat pty) and a Modbus TCP
 * bus (simulated slave on 127.0.0.1). Every type in every byte order arrives upstream as text;
 * a write command from the broker reaches the slave's register and its result is published.
 */
describe('modbus end to end', () => {
  let broker: Mosquitto;
  let pty: PtyPair;
  let rtuModel: SlaveModel;
  let rtu: RtuSlave;
  let tcpModel: SlaveModel;
  let tcp: TcpSlave;
  let gateway: Gateway;
  let sub: Subscriber;
  const expected = new Map<string, string>();

  beforeAll(async () => {
    broker = await Mosquitto.start();
    pty = await PtyPair.open(tmpDir());
    rtuModel = new SlaveModel();
    rtu = new RtuSlave(pty.sensor, rtuModel);
    tcpModel = new SlaveModel();
    tcp = await TcpSlave.start(tcpModel);

    // Unit 1: each typed value in each byte order, laid out back to back from address 0.
    const points: string[] = [];
    let address = 0;
    let inputAddress = 100; // fc 4 is its own address space
    for (const order of BYTE_ORDERS) {
      for (const [type, value, text] of TYPED) {
        const words = encodeRegisters(value, type, order);
        rtuModel.setRegisters(1, 3, address, words);
        const name = `${type}_${order}`;
        points.push(`{ name: ${name}, fc: 3, address: ${address}, type: ${type}, order: ${order} }`);
        expected.set(`m/meter/${name}`, text);
        address += words.length;
      }
      const w16 = encodeRegisters(-2, 'int16', order);
      rtuModel.setRegisters(1, 4, inputAddress, w16);
      points.push(`{ name: int16_${order}, fc: 4, address: ${inputAddress}, type: int16, order: ${order} }`);
      expected.set(`m/meter/int16_${order}`, '-2');
      inputAddress += 1;
    }
    rtuModel.setRegisters(1, 4, 200, encodeRegisters(123456, 'uint32', 'ABCD'));
    points.push(
      '{ name: energy, fc: 4, address: 200, type: uint32, scale: 0.01, unit: kWh, ha: { device_class: energy, state_class: total_increasing } }',
    );
    expected.set('m/meter/energy', '1234.56');
    rtuModel.setRegisters(1, 4, 210, encodeRegisters('SDM630', 'string', 'ABCD', 4));
    points.push('{ name: model, fc: 4, address: 210, type: string, length: 4 }');
    expected.set('m/meter/model', 'SDM630');
    rtuModel.setRegisters(1, 3, 300, [65535]);
    points.push('{ name: u16, fc: 3, address: 300 }');
    expected.set('m/meter/u16', '65535');
    rtuModel.unit(1).coils.set(5, true);
    points.push('{ name: relay, fc: 1, address: 5, writable: true, ha: { component: binary_sensor } }');
    expected.set('m/meter/relay', 'true');
    rtuModel.unit(1).discrete.set(0, false);
    points.push('{ name: door, fc: 2, address: 0 }');
    expected.set('m/meter/door', 'false');
    rtuModel.setRegisters(1, 3, 400, [100]);
    points.push('{ name: setpoint, fc: 3, address: 400, type: int16, scale: 0.1, writable: true }');
    expected.set('m/meter/setpoint', '10');

    tcpModel.setRegisters(255, 4, 0, encodeRegisters(49.98, 'float32', 'ABCD'));
    tcpModel.setRegisters(255, 4, 2, encodeRegisters(7, 'uint16', 'ABCD'));

    sub = await Subscriber.connect(broker.url, ['m/#', 't/#', 'res/#', 'homeassistant/#'], { qos: 1 });
    ({ gateway } = await startGateway(`
gateway: { id: gw, state_dir: ${tmpDir()} }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
modbus:
  - name: rtu
    path: ${pty.device}
    timeout: 400ms
    gap: 5ms
    topic: m/{device}/{point}
    devices:
      - name: meter
        unit: 1
        poll: 200ms
        points:
          - ${points.join('\n          - ')}
  - name: plant
    tcp: 127.0.0.1:${tcp.port}
    topic: t/{device}
    devices:
      - { name: inverter, unit: 255, poll: 200ms, points: [{ name: hz, fc: 4, address: 0, type: float32, ha: { device_class: frequency, unit: Hz } }, { name: mode, fc: 4, address: 2 }] }
commands:
  - subscribe: cmd/{gateway}/+device/+point
    to: modbus:rtu
    payload: '{"point":"{point}","value":{payload}}'
    result_topic: res/{device}/{point}
homeassistant: { enabled: true }
http: { enabled: false }
`));
  });

  afterAll(async () => {
    await gateway?.stop();
    await sub?.close();
    rtu?.close();
    await pty?.close();
    await tcp?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it('every type in every byte order arrives upstream as its value in text', async () => {
    const latest = (topic: string) =>
      sub.messages
        .filter((m) => m.topic === topic)
        .at(-1)
        ?.payload.toString();
    await waitFor(
      () => [...expected.keys()].every((t) => latest(t) !== undefined),
      'every point published',
      10_000,
    );
    for (const [topic, text] of expected)
      expect({ topic, value: latest(topic) }).toEqual({ topic, value: text });
    // The planner merged the 24 adjacent typed points (80 registers) into one read, the 4 int16 into
    // another: fc 3 at 0, 300, 400; fc 4 at 100, 200, 210; fc 1; fc 2.
    const reads = new Set(rtuModel.requests.filter((r) => r.unit === 1).map((r) => `${r.fc}:${r.address}`));
    expect([...reads].sort()).toEqual(['1:5', '2:0', '3:0', '3:300', '3:400', '4:100', '4:200', '4:210']);
  });

  it('Home Assistant discovery covers points with ha: (per-point topics and one JSON per poll)', async () => {
    const config = async (topic: string) =>
      JSON.parse((await sub.waitForCount(1, 5000, topic))[0]!.payload.toString()) as Record<string, unknown>;
    const energy = await config('homeassistant/sensor/gw/meter_energy/config');
    expect(energy).toMatchObject({
      unique_id: 'fieldgate_gw_meter_energy',
      state_topic: 'm/meter/energy',
      value_template: '{{ value }}',
      device_class: 'energy',
      state_class: 'total_increasing',
      unit_of_measurement: 'kWh', // the point's unit
      device: { name: 'meter', model: 'modbus:rtu device', via_device: 'fieldgate_gw' },
    });
    const relay = await config('homeassistant/binary_sensor/gw/meter_relay/config');
    expect(relay).toMatchObject({ state_topic: 'm/meter/relay', payload_on: 'true', payload_off: 'false' });
    const hz = await config('homeassistant/sensor/gw/inverter_hz/config');
    expect(hz).toMatchObject({
      state_topic: 't/inverter',
      value_template: "{{ value_json['hz'] }}",
      unit_of_measurement: 'Hz',
    });
    // The state topics are where the values really arrive; points without ha: get no entity.
    expect((await sub.waitForCount(1, 5000, 'm/meter/energy'))[0]!.payload.toString()).toBe('1234.56');
    expect(JSON.parse((await sub.waitForCount(1, 5000, 't/inverter'))[0]!.payload.toString()).hz).toBeCloseTo(
      49.98,
      2,
    );
    expect(sub.messages.some((m) => m.topic.includes('meter_u16') || m.topic.includes('inverter_mode'))).toBe(
      false,
    );
  });

  it('Modbus TCP: one JSON message per poll without {point}', async () => {
    const [m] = await sub.waitForCount(1, 5000, 't/inverter');
    expect(m!.payload.toString()).toBe('{"hz":49.98,"mode":7}');
  });

  it('a write command from the broker reaches the register; its result is published', async () => {
    await publishTo(broker.url, 'cmd/gw/meter/setpoint', '21.5', { qos: 1 });
    await waitFor(() => rtuModel.unit(1).holding.get(400) === 215, 'register written');
    const [res] = await sub.waitForCount(1, 5000, 'res/meter/setpoint');
    expect(JSON.parse(res!.payload.toString())).toMatchObject({
      outcome: 'delivered',
      target: 'modbus:rtu',
      device: 'meter',
    });
    await waitFor(
      () =>
        sub.messages
          .filter((m) => m.topic === 'm/meter/setpoint')
          .at(-1)
          ?.payload.toString() === '21.5',
      'new value polled and published',
    );
    await publishTo(broker.url, 'cmd/gw/meter/relay', 'false', { qos: 1 });
    await waitFor(() => rtuModel.unit(1).coils.get(5) === false, 'coil written');
  });

  it('a write for a device that stopped answering waits in the durable inbox and is written when it answers', async () => {
    rtuModel.silent.add(1);
    await publishTo(broker.url, 'cmd/gw/meter/setpoint', '-3', { qos: 1 });
    const queued = await sub.waitForCount(2, 5000, 'res/meter/setpoint');
    expect(JSON.parse(queued[1]!.payload.toString())).toMatchObject({ outcome: 'queued' });
    expect(rtuModel.unit(1).holding.get(400)).toBe(215);
    rtuModel.silent.delete(1);
    await waitFor(
      () => rtuModel.unit(1).holding.get(400) === 0xffe2,
      'written once the meter answers (-30 as int16)',
      5000,
    );
    const results = await sub.waitForCount(3, 5000, 'res/meter/setpoint');
    expect(JSON.parse(results[2]!.payload.toString())).toMatchObject({ outcome: 'delivered' });
  });

  it('Modbus metrics: requests, errors by reason and round trip per device', async () => {
    const text = await gateway.observability!.metrics.text();
    expect(text).toMatch(/fieldgate_modbus_requests_total\{bus="rtu",device="meter"\} [1-9]/);
    expect(text).toMatch(/fieldgate_modbus_round_trip_seconds_count\{bus="plant",device="inverter"\} [1-9]/);
    tcpModel.silent.add(255);
    await waitFor(
      async () =>
        /fieldgate_modbus_errors_total\{bus="plant",device="inverter",reason="timeout"\} [1-9]/.test(
          await gateway.observability!.metrics.text(),
        ),
      'timeout counted',
      5000,
    );
    tcpModel.silent.delete(255);
  });
});
