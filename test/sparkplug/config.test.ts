import { afterAll, describe, expect, it } from 'vitest';
import { configChecks } from '../../gateway/config/checks.js';
import { ConfigError, loadConfig, parseConfig } from '../../gateway/config/load.js';
import { configSchema } from '../../gateway/config/schema.js';
import { ownTopicGuard } from '../../gateway/own-topics.js';
import { killAllGateways, runCli } from '../harness/gateway-process.js';
import { cleanupTmpDirs } from '../harness/tmp.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

function problems(yaml: string): { path: string; message: string }[] {
  try {
    parseConfig(yaml, 'test.yaml', {}, configChecks);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => ({ path: p.path, message: p.message }));
    throw err;
  }
  return [];
}

const head = `gateway: { id: gw1 }
upstream: { url: mqtt://127.0.0.1:1883 }
modbus:
  - name: meters
    tcp: 127.0.0.1:502
    devices: [{ name: m1, points: [{ name: v, fc: 4, address: 0 }] }]
`;

describe('sparkplug config', () => {
  it('is off by default', () => {
    const c = configSchema.parse({ gateway: { id: 'gw1' }, upstream: { url: 'mqtt://127.0.0.1:1883' } });
    expect(c.sparkplug).toMatchObject({ enabled: false, data_qos: 0, sources: [] });
  });

  it('reports unknown keys, bad ids, unknown and repeated sources with their key paths', () => {
    expect(
      problems(`${head}sparkplug: { enabled: true, sources: [{ source: "modbus:meters" }], qos: 1 }`),
    ).toEqual([{ path: 'sparkplug.qos', message: 'unknown key "qos" (typo?)' }]);
    expect(
      problems(
        `${head}sparkplug: { enabled: true, group_id: "a/b", sources: [{ source: "modbus:meters" }] }`,
      ),
    ).toEqual([expect.objectContaining({ path: 'sparkplug.group_id' })]);
    const found = problems(
      `${head}sparkplug: { enabled: true, sources: [{ source: "modbus:meters" }, { source: "modbus:meters" }, { source: "serial:nope" }] }`,
    );
    expect(found.map((p) => p.path)).toEqual(['sparkplug.sources.1.source', 'sparkplug.sources.2.source']);
    expect(found[1]!.message).toMatch(/unknown source "serial:nope" \(known: modbus:meters/);
    expect(problems(`${head}sparkplug: { enabled: true }`)).toEqual([
      expect.objectContaining({ path: 'sparkplug.sources' }),
    ]);
    expect(
      problems(
        `${head}sparkplug: { enabled: true, sources: [{ source: "modbus:meters", report: sometimes }] }`,
      ),
    ).toEqual([expect.objectContaining({ path: 'sparkplug.sources.0.report' })]);
    // writes are for serial sources, each metric once.
    const writes = problems(
      `${head}sparkplug: { enabled: true, sources: [{ source: "modbus:meters", writes: [{ metric: v, payload: "V {value}" }] }] }`,
    );
    expect(writes).toEqual([
      expect.objectContaining({
        path: 'sparkplug.sources.0.writes',
        message: expect.stringMatching(/serial sources/),
      }),
    ]);
    expect(
      problems(
        `${head}sparkplug: { enabled: true, sources: [{ source: "modbus:meters", writes: [{ metric: v, payload: a }, { metric: v, payload: b }] }] }`,
      ),
    ).toEqual([
      expect.objectContaining({ path: 'sparkplug.sources.0.writes', message: 'a metric is listed twice' }),
    ]);
  });

  it("guards the node's births, deaths, commands and the host STATE as the gateway's own topics (not DDATA)", () => {
    const config = configSchema.parse({
      gateway: { id: 'gw1' },
      upstream: { url: 'mqtt://127.0.0.1:1883' },
      sparkplug: { enabled: true, group_id: 'plant', primary_host_id: 'scada', sources: [{ source: 'x' }] },
    });
    const own = ownTopicGuard(() => ({ config, rules: { subscriptions: () => [] } }));
    expect(own('spBv1.0/plant/NCMD/gw1')).toBe(true);
    expect(own('spBv1.0/plant/NDEATH/gw1')).toBe(true);
    expect(own('spBv1.0/plant/DCMD/gw1/m1')).toBe(true);
    expect(own('spBv1.0/plant/DBIRTH/gw1/m1')).toBe(true);
    expect(own('spBv1.0/STATE/scada')).toBe(true);
    expect(own('spBv1.0/plant/DDATA/gw1/m1')).toBe(false);
    expect(own('spBv1.0/plant/NCMD/other')).toBe(false);
  });

  it('the energy meter example loads, and `fieldgate check` accepts it', async () => {
    const c = loadConfig('examples/sparkplug-energy-meter.yaml', {}, configChecks);
    expect(c.sparkplug).toMatchObject({ enabled: true, group_id: 'energy', primary_host_id: 'scada' });
    const { code, out } = await runCli(['check', '-c', 'examples/sparkplug-energy-meter.yaml']);
    expect(out).not.toMatch(/error/i);
    expect(code).toBe(0);
  });
});
