import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configChecks } from '../../gateway/config/checks.js';
import { ConfigError, parseConfig } from '../../gateway/config/load.js';
import { killAllGateways, runCli } from '../harness/gateway-process.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

function problems(lines: string[]): { path: string; line: number | null; message: string }[] {
  try {
    parseConfig(lines.join('\n'), 'test.yaml', {}, configChecks);
  } catch (err) {
    if (err instanceof ConfigError)
      return err.problems.map((p) => ({ path: p.path, line: p.line, message: p.message }));
    throw err;
  }
  return [];
}

const head = ['gateway: { id: gw1 }', 'upstream:', '  url: mqtt://127.0.0.1:1883'];

describe('load-time checks of values that used to fail only at run time', () => {
  it('refuses client_id "" with MQTT 3.1.1 (no session could persist), accepts it with 5', () => {
    const bad = problems([...head, '  client_id: ""', "  protocol: '3.1.1'"]);
    expect(bad).toEqual([expect.objectContaining({ path: 'upstream.client_id', line: 4 })]);
    expect(bad[0]!.message).toMatch(/protocol 5/);
    expect(problems([...head, '  client_id: ""'])).toEqual([]);
    expect(problems([...head, '  client_id: gw', "  protocol: '3.1.1'"])).toEqual([]);
  });

  it('refuses MQTT-SN predefined topics the broker would refuse, and reserved topic ids', () => {
    const found = problems([
      ...head,
      'mqttsn:',
      '  predefined_topics:',
      "    1: 'ok/topic'",
      "    2: 'bad/+/wildcard'",
      "    0: 'reserved/id'",
      "    65535: 'reserved/id'",
      '  client_topics:',
      '    dev1:',
      "      3: '$SYS/broker'",
      "      4: ''",
    ]);
    const byPath = Object.fromEntries(found.map((p) => [p.path, p.message]));
    expect(Object.keys(byPath).sort()).toEqual(
      [
        'mqttsn.predefined_topics.2',
        'mqttsn.predefined_topics.0',
        'mqttsn.predefined_topics.65535',
        'mqttsn.client_topics.dev1.3',
        'mqttsn.client_topics.dev1.4',
      ].sort(),
    );
    expect(byPath['mqttsn.predefined_topics.2']).toMatch(/wildcard/);
    expect(byPath['mqttsn.predefined_topics.0']).toMatch(/1 to 65534/);
    expect(byPath['mqttsn.client_topics.dev1.3']).toMatch(/reserved/);
    expect(byPath['mqttsn.client_topics.dev1.4']).toMatch(/empty/);
  });

  it('fieldgate check reports the predefined topic with its line', async () => {
    const file = join(tmpDir(), 'sn.yaml');
    writeFileSync(file, [...head, 'mqttsn:', '  predefined_topics:', "    7: 'a/#'"].join('\n'));
    const { code, out } = await runCli(['check', '-c', file]);
    expect(code).toBe(1);
    expect(out).toMatch(/line 6: mqttsn\.predefined_topics\.7: .*wildcard/);
  });

  it('refuses an mqttsn.multicast group that is not multicast, a bad interface, and the listen port', () => {
    const sn = (...lines: string[]) => problems([...head, 'mqttsn:', '  listen: 0.0.0.0:1884', ...lines]);
    expect(sn('  multicast: { group: 225.1.1.1, port: 10000, interface: 192.168.7.2 }')).toEqual([]);
    expect(sn('  multicast: { group: 239.255.0.1, port: 10000 }')).toEqual([]);
    const notGroup = sn('  multicast: { group: 192.168.1.10, port: 10000 }');
    expect(notGroup).toEqual([expect.objectContaining({ path: 'mqttsn.multicast.group' })]);
    expect(notGroup[0]!.message).toMatch(/multicast address \(224\.0\.0\.0 to 239\.255\.255\.255\)/);
    expect(sn('  multicast: { group: ff02::1, port: 10000 }')).toEqual([
      expect.objectContaining({ path: 'mqttsn.multicast.group' }),
    ]);
    expect(sn('  multicast: { group: 225.1.1.1, port: 10000, interface: eth0 }')).toEqual([
      expect.objectContaining({ path: 'mqttsn.multicast.interface' }),
    ]);
    expect(sn('  multicast: { group: 225.1.1.1, port: 1884 }')).toEqual([
      expect.objectContaining({
        path: 'mqttsn.multicast.port',
        message: expect.stringMatching(/listen port/),
      }),
    ]);
    expect(
      problems([
        ...head,
        'mqttsn:',
        "  listen: '[::]:1884'",
        '  multicast: { group: 225.1.1.1, port: 10000 }',
      ]),
    ).toEqual([
      expect.objectContaining({ path: 'mqttsn.multicast', message: expect.stringMatching(/IPv4 listen/) }),
    ]);
    expect(sn('  multicast: { group: 225.1.1.1, port: 10000, ttl: 4 }')).toEqual([
      expect.objectContaining({ path: expect.stringMatching(/^mqttsn\.multicast/) }),
    ]);
  });

  it('fieldgate check reports a non-multicast group with its key path', async () => {
    const file = join(tmpDir(), 'mc.yaml');
    writeFileSync(
      file,
      [...head, 'mqttsn:', '  multicast:', '    group: 10.0.0.1', '    port: 10000'].join('\n'),
    );
    const { code, out } = await runCli(['check', '-c', file]);
    expect(code).toBe(1);
    expect(out).toMatch(/line 6: mqttsn\.multicast\.group: .*multicast address/);
  });
});
