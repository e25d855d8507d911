import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRegisters } from '../../adapters/modbus/codec.js';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SlaveModel, TcpSlave } from '../modbus/slave.js';
import { big, decode, encode, metric } from './decode.js';

/**
 * The real gateway process as a Sparkplug B edge node: Modbus TCP meters (simulated slave) in, a
 * real mosquitto out, every message decoded with Tahu's decoder (not the gateway's codec).
 */
describe('sparkplug edge node (real gateway, real mosquitto, Tahu decoder)', () => {
  let broker: Mosquitto;
  let model: SlaveModel;
  let slave: TcpSlave;
  let sub: Subscriber;
  let plain: Subscriber;
  let gw: GatewayProcess;
  let file: string;
  const msgs = () => sub.messages.map(decode);

  beforeAll(async () => {
    broker = await Mosquitto.start();
    model = new SlaveModel();
    slave = await TcpSlave.start(model);
    for (const unit of [1, 2, 3]) {
      model.setRegisters(unit, 4, 0, encodeRegisters(2301, 'uint16', 'ABCD'));
      model.setRegisters(unit, 4, 10, encodeRegisters(123456, 'uint32', 'ABCD'));
      model.setRegisters(unit, 3, 20, encodeRegisters(-7, 'int16', 'ABCD'));
      model.unit(unit).coils.set(0, true);
    }
    const dir = tmpDir();
    file = join(dir, 'gw.yaml');
    const device = (n: number) => `
      - name: meter${n}
        unit: ${n}
        poll: 40ms
        points:
          - { name: voltage, fc: 4, address: 0, scale: 0.1, unit: V, low: 0, high: 300, ha: { device_class: voltage } }
          - { name: energy, fc: 4, address: 10, type: uint32, scale: 0.01, unit: kWh }
          - { name: setpoint, fc: 3, address: 20, type: int16, writable: true }
          - { name: relay, fc: 1, address: 0, writable: true }`;
    writeFileSync(
      file,
      `gateway: { id: edge1, state_dir: ${join(dir, 'state')}, stop_grace: 5s }
upstream: { url: "${broker.url}", keepalive: 5, reconnect: { min: 100ms, max: 300ms } }
http: { enabled: false }
homeassistant: { enabled: true }
modbus:
  - name: meters
    tcp: 127.0.0.1:${slave.port}
    timeout: 200ms
    retries: 0
    backoff_max: 200ms
    topic: plain/{device}/{point}
    qos: 0
    devices:${device(1)}${device(2)}${device(3)}
sparkplug:
  enabled: true
  group_id: plant
  sources:
    - { source: "modbus:meters", publish: both, report: every_poll }
`,
    );
    sub = await Subscriber.connect(broker.url, 'spBv1.0/#', { qos: 0 });
    plain = await Subscriber.connect(broker.url, ['plain/#', 'homeassistant/#'], { qos: 0 });
    gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up', 20_000);
  });

  afterAll(async () => {
    await sub?.close();
    await plain?.close();
    await killAllGateways();
    await slave?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it('NBIRTH first with seq 0, bdSeq and Node Control/Rebirth; DBIRTHs with every metric, typed, with units', async () => {
    await waitFor(() => msgs().filter((m) => m.verb === 'DDATA').length >= 3, 'DDATA', 15_000);
    const all = msgs();
    const nbirth = all[0]!;
    expect(nbirth.verb).toBe('NBIRTH');
    expect(nbirth.topic).toBe('spBv1.0/plant/NBIRTH/edge1');
    expect(nbirth.seq).toBe(0);
    expect(metric(nbirth, 'bdSeq')?.type).toBe('Int64');
    expect(big(metric(nbirth, 'bdSeq')?.value)).toBe(0n);
    expect(metric(nbirth, 'Node Control/Rebirth')).toMatchObject({ type: 'Boolean', value: false });
    const dbirth = all.find((m) => m.verb === 'DBIRTH' && m.device === 'meter1')!;
    expect(dbirth.topic).toBe('spBv1.0/plant/DBIRTH/edge1/meter1');
    expect(dbirth.metrics.map((m) => [m.name, m.type])).toEqual([
      ['voltage', 'Double'],
      ['energy', 'Double'],
      ['setpoint', 'Int16'],
      ['relay', 'Boolean'],
    ]);
    const voltage = metric(dbirth, 'voltage')!;
    expect(voltage.properties?.engUnit).toEqual({ type: 'String', value: 'V' });
    expect(voltage.properties?.engHigh).toEqual({ type: 'Double', value: 300 });
    expect(metric(dbirth, 'energy')!.properties?.engUnit?.value).toBe('kWh');
    // One DDATA per poll (the per-point readings of a poll share their fields), typed as in the DBIRTH.
    await waitFor(
      () =>
        new Set(
          msgs()
            .filter((m) => m.verb === 'DDATA' && m.device === 'meter1')
            .flatMap((m) => m.metrics.map((x) => x.name)),
        ).size === 4,
      'every metric of meter1 in DDATA',
      10_000,
    );
    const data = msgs()
      .filter((m) => m.verb === 'DDATA' && m.device === 'meter1')
      .flatMap((m) => m.metrics);
    const first = (name: string) => data.find((x) => x.name === name)!;
    expect(first('voltage')).toMatchObject({ type: 'Double', value: 230.1 });
    expect(first('energy')).toMatchObject({ type: 'Double', value: 1234.56 });
    expect(first('setpoint')).toMatchObject({ type: 'Int16', value: -7 });
    expect(first('relay')).toMatchObject({ type: 'Boolean', value: true });
    // Read after this session's NBIRTH: live, not historical.
    expect(data.filter((x) => x.name === 'voltage').at(-1)!.isHistorical ?? false).toBe(false);
    expect(Math.abs(first('voltage').ts! - Date.now())).toBeLessThan(60_000);
    // Plain topics and Home Assistant discovery keep working beside Sparkplug (publish: both).
    await plain.waitForCount(1, 10_000, 'plain/meter1/voltage');
    const discovery = await plain.waitForCount(1, 10_000, 'homeassistant/sensor/edge1/meter1_voltage/config');
    expect(JSON.parse(discovery[0]!.payload.toString())).toMatchObject({
      state_topic: 'plain/meter1/voltage',
    });
  });

  it('a DBIRTH comes before any DDATA of its device; seq is continuous and wraps at 255', async () => {
    await waitFor(() => msgs().length > 300, '300 Sparkplug messages', 30_000);
    const all = msgs();
    const born = new Set<string>();
    for (const m of all) {
      if (m.verb === 'DBIRTH') born.add(m.device!);
      if (m.verb === 'DDATA')
        expect(born.has(m.device!), `DDATA of ${m.device} before its DBIRTH`).toBe(true);
    }
    const seqs = all.map((m) => m.seq!);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe((seqs[i - 1]! + 1) % 256);
    expect(seqs).toContain(255);
    expect(seqs.indexOf(0, 1)).toBeGreaterThan(seqs.indexOf(255));
  });

  it('DDEATH when the device goes offline, DBIRTH when it is back', async () => {
    model.silent.add(2);
    await waitFor(
      () => msgs().some((m) => m.verb === 'DDEATH' && m.device === 'meter2'),
      'DDEATH meter2',
      15_000,
    );
    const all = msgs();
    const death = all.findIndex((m) => m.verb === 'DDEATH' && m.device === 'meter2');
    expect(all[death]!.seq).toBe((all[death - 1]!.seq! + 1) % 256);
    model.silent.delete(2);
    await waitFor(
      () =>
        msgs()
          .slice(death)
          .some((m) => m.verb === 'DBIRTH' && m.device === 'meter2'),
      'DBIRTH meter2 again',
      15_000,
    );
    const after = msgs().slice(death + 1);
    const rebirth = after.findIndex((m) => m.verb === 'DBIRTH' && m.device === 'meter2');
    const firstData = after.findIndex((m) => m.verb === 'DDATA' && m.device === 'meter2');
    expect(firstData === -1 || firstData > rebirth).toBe(true);
  });

  it('NCMD Node Control/Rebirth = true republishes NBIRTH (same bdSeq, seq 0) and every DBIRTH', async () => {
    const from = sub.messages.length;
    await publishTo(
      broker.url,
      'spBv1.0/plant/NCMD/edge1',
      encode({
        timestamp: Date.now(),
        metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }],
      }),
      { qos: 0 },
    );
    await waitFor(
      () =>
        sub.messages
          .slice(from)
          .map(decode)
          .some((m) => m.verb === 'NBIRTH'),
      'NBIRTH again',
      10_000,
    );
    const after = sub.messages.slice(from).map(decode);
    const i = after.findIndex((m) => m.verb === 'NBIRTH');
    expect(after[i]!.seq).toBe(0);
    expect(big(metric(after[i]!, 'bdSeq')?.value)).toBe(0n);
    await waitFor(
      () =>
        new Set(
          sub.messages
            .slice(from)
            .map(decode)
            .slice(i)
            .filter((m) => m.verb === 'DBIRTH')
            .map((m) => m.device),
        ).size === 3,
      'three DBIRTHs after the rebirth',
      10_000,
    );
    const seqs = sub.messages
      .slice(from)
      .map(decode)
      .slice(i)
      .map((m) => m.seq);
    expect(seqs).toEqual(seqs.map((_, k) => k % 256));
  });

  it('NDEATH is the will with the NBIRTH bdSeq (SIGKILL); a restart comes back with the next bdSeq, births first', async () => {
    const from = sub.messages.length;
    await gw.kill();
    await waitFor(
      () =>
        sub.messages
          .slice(from)
          .map(decode)
          .some((m) => m.verb === 'NDEATH'),
      'NDEATH (will)',
      20_000,
    );
    const death = sub.messages
      .slice(from)
      .map(decode)
      .find((m) => m.verb === 'NDEATH')!;
    expect(big(metric(death, 'bdSeq')?.value)).toBe(0n);
    expect(death.seq).toBeUndefined();
    const restartFrom = sub.messages.length;
    gw = GatewayProcess.start(['run', '-c', file]);
    await waitFor(
      () =>
        sub.messages
          .slice(restartFrom)
          .map(decode)
          .some((m) => m.verb === 'DDATA'),
      'data again',
      20_000,
    );
    const after = sub.messages.slice(restartFrom).map(decode);
    expect(after[0]!.verb).toBe('NBIRTH');
    expect(big(metric(after[0]!, 'bdSeq')?.value)).toBe(1n);
  });

  it('a clean stop publishes NDEATH itself, with the session bdSeq', async () => {
    const from = sub.messages.length;
    gw.signal('SIGTERM');
    await gw.exited();
    await waitFor(
      () =>
        sub.messages
          .slice(from)
          .map(decode)
          .some((m) => m.verb === 'NDEATH'),
      'NDEATH on stop',
      10_000,
    );
    const deaths = sub.messages
      .slice(from)
      .map(decode)
      .filter((m) => m.verb === 'NDEATH');
    expect(deaths).toHaveLength(1);
    expect(big(metric(deaths[0]!, 'bdSeq')?.value)).toBe(1n);
  });
});
