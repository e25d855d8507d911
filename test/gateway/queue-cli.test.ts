import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { storeConfigSchema } from '../../gateway/store/config.js';
import { openStore } from '../../gateway/store/open.js';
import { ROW_OVERHEAD } from '../../gateway/store/outbox-totals.js';
import { killAllGateways, runCli } from '../harness/gateway-process.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

describe('fieldgate queue', () => {
  it('shows stats, peeks the oldest rows, and purges only with --yes', async () => {
    const dir = tmpDir();
    const file = join(dir, 'gw.yaml');
    writeFileSync(file, 'gateway: { id: q, state_dir: state }\nupstream: { url: "mqtt://127.0.0.1:1" }\n');
    const store = openStore({
      dir: join(dir, 'state'),
      durability: 'power-loss',
      limits: storeConfigSchema.parse({}),
      logger: pino({ level: 'silent' }),
    });
    await store.outbox.enqueue(
      [1, 2, 3].map((i) => ({
        source: 'serial:w',
        device: 'w',
        topic: `t/${i}`,
        payload: Buffer.from(`v${i}`),
        qos: 1 as const,
        retain: false,
        receivedAt: Date.now(),
      })),
    );
    store.close();

    const stats = await runCli(['queue', 'stats', '-c', file]);
    expect(stats.code).toBe(0);
    // Each row: 'serial:w', 'w', 't/N', 'vN' and the overhead (what max_bytes counts).
    const bytes = 3 * (8 + 1 + 3 + 2 + ROW_OVERHEAD);
    expect(stats.out).toMatch(
      new RegExp(`outbox\\s+3 rows, ${bytes} bytes \\(max_bytes counts these\\), 0 QoS 2 in flight`),
    );

    const peek = await runCli(['queue', 'peek', '-c', file, '-n', '2']);
    const rows = peek.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { topic: string; payload: string });
    expect(rows.map((r) => [r.topic, r.payload])).toEqual([
      ['t/1', 'v1'],
      ['t/2', 'v2'],
    ]);

    const refused = await runCli(['queue', 'purge', '-c', file]); // no TTY, no --yes: nothing happens
    expect(refused.code).toBe(1);
    expect((await runCli(['queue', 'stats', '-c', file])).out).toMatch(/3 rows/);

    const purged = await runCli(['queue', 'purge', '-c', file, '--yes']);
    expect(purged.out).toMatch(/purged 3 outbox rows, 0 inbox rows/);
    expect((await runCli(['queue', 'stats', '-c', file])).out).toMatch(/outbox\s+0 rows/);
  });
});
