import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { trackChild } from '../harness/children.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import { Subscriber } from '../harness/subscriber.js';
import { SnClient } from '../mqttsn/client.js';

afterAll(cleanupTmpDirs);

/** What ProcSubset=pid gives the service: a /proc with process directories only. Needs root (mount). */
const PROC_PID_ONLY = 'mount -t proc -o subset=pid proc /proc && test ! -e /proc/meminfo && exec "$0" "$@"';
const canMount =
  spawnSync('unshare', ['--mount', '--pid', '--fork', 'sh', '-c', PROC_PID_ONLY, 'true'], { timeout: 10_000 })
    .status === 0;
if (!canMount) console.warn('SKIP ProcSubset=pid run: needs root and unshare to mount a pid-only /proc');

describe('ProcSubset=pid (unit)', () => {
  it.skipIf(!canMount)(
    'the real gateway starts, transforms a reading and publishes it with only /proc/<pid>',
    async () => {
      const broker = await Mosquitto.start();
      const sn = await freeUdpPort();
      const http = await freePort();
      const dir = tmpDir();
      const file = join(dir, 'fieldgate.yaml');
      writeFileSync(
        file,
        [
          'gateway: { id: gw-proc, state_dir: state }',
          `upstream: { url: "mqtt://127.0.0.1:${broker.port}" }`,
          `mqttsn: { enabled: true, listen: "127.0.0.1:${sn}" }`,
          `http: { listen: "127.0.0.1:${http}" }`,
          // Expressions run in a child process (the sandbox): it must start under the same /proc.
          `rules: [{ match: "sensors/+device/t", transform: "{ 'c': $number(payload), 'd': device }" }]`,
        ].join('\n'),
      );
      const sub = await Subscriber.connect(broker.url, 'sensors/#');
      let out = '';
      const proc = trackChild(
        spawn(
          'unshare',
          [
            ...['--mount', '--pid', '--fork', '--kill-child', 'sh', '-c', PROC_PID_ONLY],
            ...[process.execPath, '--max-semi-space-size=2', '--max-old-space-size=96'],
            ...['--import', 'tsx', 'gateway/cli/main.ts', 'run', '-c', file],
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        ),
      );
      proc.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
      });
      proc.stderr?.on('data', (b: Buffer) => {
        out += b.toString();
      });
      try {
        await waitFor(() => out.includes('fieldgate up'), 'gateway up', 30_000);
        const health = await fetch(`http://127.0.0.1:${http}/health`);
        expect(health.status).toBe(200);
        const c = await SnClient.open(sn);
        try {
          expect((await c.connect('procdev')).returnCode).toBe(0);
          await c.send({ type: 'register', topicId: 0, msgId: 1, topicName: 'sensors/procdev/t' });
          const { topicId } = await c.expect('regack');
          const data = Buffer.from('21.5');
          await c.send({ type: 'publish', flags: flags({ qos: 1 }), topicId, msgId: 2, data });
          expect((await c.expect('puback')).returnCode).toBe(0); // committed to SQLite first
        } finally {
          await c.close();
        }
        const m = await waitFor(
          () => sub.messages.find((x) => x.topic === 'sensors/procdev/t'),
          'reading upstream',
        );
        expect(JSON.parse(m.payload.toString())).toEqual({ c: 21.5, d: 'procdev' });
        expect(out).not.toMatch(/ENOENT|\/proc\//);
      } catch (err) {
        console.error(out);
        throw err;
      } finally {
        const exited = new Promise((r) => proc.once('exit', r));
        if (proc.exitCode === null && proc.signalCode === null) {
          // unshare does not pass SIGTERM on; --kill-child takes the gateway down with it.
          proc.kill('SIGKILL');
          await exited;
        }
        await sub.close();
        await broker.stop();
      }
    },
    60_000,
  );
});
