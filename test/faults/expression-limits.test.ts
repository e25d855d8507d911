import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import { parseUnitLimits } from '../fuzz/unit-limits.js';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { SnClient } from '../mqttsn/client.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

/** The unit's own V8 flags: the heap the gateway really has in production. */
const UNIT_FLAGS = parseUnitLimits(readFileSync('systemd/fieldgate.service', 'utf8')).nodeFlags;

/**
 * The `transform` shape of docs/configuration.md (an object constructor with 2+ entries) around a recursion whose
 * depth the payload picks. JSONata flags such constructors as parallel, and the depth/time guard
 * used to skip every step while that flag was set: payload 100000 aborted the process out of memory.
 */
const RECURSE =
  "{ 'depth': ($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f($number(payload))), 'device': device }";
/** One allocation far past any sane heap: a worker thread's heap limit let it abort the whole process. */
const ALLOCATE = "{ 'len': $length($pad('', $number(payload))), 'device': device }";
/** A built-in that never yields (catastrophic regex backtracking): only a kill from outside stops it. */
const BACKTRACK = "{ 'm': $contains(payload, /^(a+)+$/), 'device': device }";

describe('expressions cannot take the process down (real gateway, unit flags)', () => {
  it('a payload-driven recursion, a blocking regex and a huge allocation fail their reading; the gateway carries on', async () => {
    expect(UNIT_FLAGS).toContain('--max-old-space-size=96');
    const broker = await Mosquitto.start();
    const sn = await freeUdpPort();
    const http = await freePort();
    const file = join(tmpDir(), 'fieldgate.yaml');
    writeFileSync(
      file,
      [
        'gateway: { id: gw-expr, state_dir: state }',
        `upstream: { url: "mqtt://127.0.0.1:${broker.port}" }`,
        `mqttsn: { enabled: true, listen: "127.0.0.1:${sn}" }`,
        `http: { listen: "127.0.0.1:${http}" }`,
        'rules:',
        `  - { match: "sensors/+device/n", transform: ${JSON.stringify(RECURSE)}, publish: "out/{device}/n" }`,
        `  - { match: "sensors/+device/re", transform: ${JSON.stringify(BACKTRACK)}, publish: "out/{device}/re" }`,
        `  - { match: "sensors/+device/pad", transform: ${JSON.stringify(ALLOCATE)}, publish: "out/{device}/pad" }`,
      ].join('\n'),
    );
    const sub = await Subscriber.connect(broker.url, 'out/#');
    const gw = GatewayProcess.start(['run', '-c', file], {}, { flags: UNIT_FLAGS });
    const c = await SnClient.open(sn);
    try {
      await gw.waitForLog('fieldgate up', 20_000);
      expect((await c.connect('rec-1')).returnCode).toBe(0);
      let msgId = 0;
      const register = async (topicName: string) => {
        await c.send({ type: 'register', topicId: 0, msgId: ++msgId, topicName });
        return (await c.expect('regack')).topicId;
      };
      const n = await register('sensors/rec-1/n');
      const re = await register('sensors/rec-1/re');
      const pad = await register('sensors/rec-1/pad');
      const publish = async (topicId: number, text: string) => {
        await c.send({
          type: 'publish',
          flags: flags({ qos: 1 }),
          topicId,
          msgId: ++msgId,
          data: Buffer.from(text),
        });
        return c.expect('puback', 10_000);
      };
      const t0 = Date.now();
      await publish(n, '100000');
      await publish(re, `${'a'.repeat(40)}!`);
      await publish(pad, '200000000');
      // All failed in bounded time (depth guard; kill at the time limit), not after seconds.
      expect(Date.now() - t0).toBeLessThan(5000);
      // Still alive, and expressions still work afterwards (a fresh worker after the kill).
      await publish(n, '3');
      await publish(re, 'aaa');
      await publish(pad, '3');
      await sub.waitForCount(3, 10_000);
      expect(sub.messages.map((m) => [m.topic, JSON.parse(m.payload.toString())])).toEqual([
        ['out/rec-1/n', { depth: 3, device: 'rec-1' }],
        ['out/rec-1/re', { m: true, device: 'rec-1' }],
        ['out/rec-1/pad', { len: 3, device: 'rec-1' }],
      ]);
      const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
      expect(metrics).toMatch(
        /fieldgate_messages_dropped_total\{source="mqttsn",reason="transform_error"\} 3\b/,
      );
      expect(gw.stderr).not.toMatch(/heap out of memory|FATAL/);
    } finally {
      await c.close();
      gw.signal('SIGTERM');
      const exit = await gw.exited();
      await sub.close();
      await broker.stop();
      expect(exit.code).toBe(0);
    }
  }, 60_000);
});
