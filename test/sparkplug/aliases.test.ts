import { afterAll, describe, expect, it } from 'vitest';
import { encodeRegisters } from '../../adapters/modbus/codec.js';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SlaveModel, TcpSlave } from '../modbus/slave.js';
import { big, decode, encode } from './decode.js';

afterAll(cleanupTmpDirs);

const NAMES = [
  'voltage_l1',
  'voltage_l2',
  'voltage_l3',
  'current_l1',
  'current_l2',
  'current_l3',
  'frequency',
  'import_energy',
];

/** One meter polled every 50 ms with every value changing, published with and without aliases. */
async function run(
  aliases: boolean,
  write?: (url: string, birthAliases: Map<string, number>, model: SlaveModel) => Promise<void>,
) {
  const broker = await Mosquitto.start();
  const model = new SlaveModel();
  const slave = await TcpSlave.start(model);
  let n = 0;
  const step = setInterval(() => {
    n++;
    for (let i = 0; i < NAMES.length; i++)
      model.setRegisters(1, 4, i * 2, encodeRegisters(200 + n + i / 10, 'float32', 'ABCD'));
  }, 50);
  const sub = await Subscriber.connect(broker.url, 'spBv1.0/#', { qos: 0 });
  let gateway: Gateway | undefined;
  try {
    ({ gateway } = await startGateway(`
gateway: { id: gwa, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
http: { enabled: false }
modbus:
  - name: meters
    tcp: 127.0.0.1:${slave.port}
    devices:
      - name: sdm
        poll: 50ms
        points:
${NAMES.map((name, i) => `          - { name: ${name}, fc: 4, address: ${i * 2}, type: float32 }`).join('\n')}
          - { name: demand_period, fc: 3, address: 100, type: uint16, writable: true }
sparkplug: { enabled: true, aliases: ${aliases}, sources: [{ source: "modbus:meters", report: every_poll }] }
`));
    await waitFor(
      () => sub.messages.filter((m) => m.topic.includes('/DDATA/')).length >= 20,
      '20 DDATA',
      15_000,
    );
    const birth = decode(sub.messages.find((m) => m.topic.includes('/DBIRTH/'))!);
    const birthAliases = new Map(birth.metrics.map((m) => [m.name, Number(big(m.alias))]));
    if (write) await write(broker.url, birthAliases, model);
    const data = sub.messages.filter((m) => m.topic.includes('/DDATA/')).slice(0, 20);
    return {
      birth,
      data: data.map(decode),
      bytes: data.reduce((s, m) => s + m.payload.length, 0) / data.length,
    };
  } finally {
    clearInterval(step);
    await gateway?.stop();
    await sub.close();
    await slave.close();
    await broker.stop();
  }
}

describe('sparkplug aliases (in-process gateway, Modbus TCP slave, real mosquitto, Tahu decoder)', () => {
  it('births declare name and alias, DDATA carries the alias alone, a DCMD may name a metric by its alias; measured size', async () => {
    const plain = await run(false);
    expect(plain.data[0]!.metrics.every((m) => typeof m.name === 'string' && m.alias === undefined)).toBe(
      true,
    );
    let written = false;
    const aliased = await run(true, async (url, birthAliases, model) => {
      const alias = birthAliases.get('demand_period')!;
      await publishTo(
        url,
        'spBv1.0/fieldgate/DCMD/gwa/sdm',
        encode({ timestamp: Date.now(), metrics: [{ alias, type: 'UInt16', value: 30 }] }),
        { qos: 0 },
      );
      await waitFor(() => model.unit(1).holding.get(100) === 30, 'DCMD by alias wrote register 100', 10_000);
      written = true;
    });
    expect(written).toBe(true);
    const aliases = aliased.birth.metrics.map((m) => Number(big(m.alias)));
    expect(new Set(aliases).size).toBe(aliases.length);
    expect(aliased.birth.metrics.every((m) => typeof m.name === 'string')).toBe(true);
    for (const m of aliased.data) {
      for (const x of m.metrics) {
        expect(x.name).toBeFalsy();
        expect(aliases).toContain(Number(big(x.alias)));
      }
    }
    console.log(
      `DDATA of ${NAMES.length} Float metrics: ${plain.bytes.toFixed(0)} bytes with names, ${aliased.bytes.toFixed(0)} with aliases`,
    );
    expect(aliased.bytes).toBeLessThan(plain.bytes * 0.8);
  }, 90_000);
});
