import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planReads } from '../../adapters/modbus/planner.js';
import { resolvePoints } from '../../adapters/modbus/points.js';
import { configChecks } from '../../gateway/config/checks.js';
import { parseConfig } from '../../gateway/config/load.js';

/** The README's worked example is a config `fieldgate check` accepts, and plans the reads it claims. */
describe('adapters/modbus/README.md worked example', () => {
  it('parses, and polls the SDM630 map in 4 requests', () => {
    const readme = readFileSync(new URL('../../adapters/modbus/README.md', import.meta.url), 'utf8');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const example = blocks.find((b) => b.includes('main-meter'))!;
    const config = parseConfig(
      `gateway: { id: gw, state_dir: /tmp/x }\nupstream: { url: mqtt://127.0.0.1:1883 }\n${example}`,
      'README.md',
      {},
      configChecks,
    );
    const bus = config.modbus[0]!;
    const plans = planReads(resolvePoints(bus.devices[0]!), bus.max_registers, bus.merge_gap);
    expect(plans.map((p) => [p.address, p.count])).toEqual([
      [0x00, 18],
      [0x34, 2],
      [0x46, 6],
      [0x156, 2],
    ]);
    const commands = blocks.find((b) => b.startsWith('commands:'))!;
    expect(() =>
      parseConfig(
        `gateway: { id: gw, state_dir: /tmp/x }\nupstream: { url: mqtt://127.0.0.1:1883 }\n${example}${commands}`,
        'README.md',
        {},
        configChecks,
      ),
    ).not.toThrow();
  });
});
