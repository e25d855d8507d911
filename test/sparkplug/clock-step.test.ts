import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import { FakeClock } from '../clock/faketime.js';
import { killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { decode } from './decode.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

/**
 * The real gateway under libfaketime boots 35 days in the past (a Pi without RTC), stores readings
 * while the primary host is away, then NTP steps the clock. The historical DDATA carry the true
 * time the readings were taken, not the wrong wall time of that moment.
 */
describe('sparkplug historical timestamps across a wall-clock step (libfaketime, real gateway)', () => {
  it('readings stored before a 35-day step go out with their true time', async () => {
    const dir = tmpDir();
    const clock = new FakeClock(dir, '-35d', false);
    const broker = await Mosquitto.start();
    const udp = await freeUdpPort();
    const file = join(dir, 'gw.yaml');
    writeFileSync(
      file,
      `gateway: { id: clk, state_dir: state, stop_grace: 5s, ${clock.gatewayKeys()} }
upstream: { url: "${broker.url}", keepalive: 5, reconnect: { min: 100ms, max: 300ms } }
http: { enabled: false }
mqttsn: { enabled: true, listen: "127.0.0.1:${udp}", predefined_topics: { 1: sensors/t1/temp } }
sparkplug:
  enabled: true
  primary_host_id: scada
  sources: [{ source: mqttsn, metrics: [{ topic: "sensors/+device/temp", name: temp, datatype: Float }] }]
`,
    );
    const sub = await Subscriber.connect(broker.url, 'spBv1.0/fieldgate/#', { qos: 1 });
    const gw = clock.start(file);
    try {
      await gw.waitForLog('fieldgate up', 20_000);
      const sentAt: number[] = [];
      const c = await SnClient.open(udp);
      expect((await c.connect('t1')).returnCode).toBe(0);
      for (let i = 1; i <= 5; i++) {
        sentAt.push(Date.now());
        await c.send({
          type: 'publish',
          flags: flags({ qos: 1, topicIdType: 1 }),
          topicId: 1,
          msgId: i,
          data: Buffer.from(`${20 + i}`),
        });
        await c.expect('puback', 5000, (p) => p.msgId === i);
        await sleep(200);
      }
      await c.close();
      clock.ntpSync();
      await sleep(2000); // the step is seen within a second
      expect(sub.messages).toEqual([]); // no host yet: nothing published
      await publishTo(
        broker.url,
        'spBv1.0/STATE/scada',
        JSON.stringify({ online: true, timestamp: Date.now() }),
        {
          retain: true,
        },
      );
      await waitFor(
        () => sub.messages.map(decode).filter((m) => m.verb === 'DDATA').length >= 5,
        'five DDATA',
        15_000,
      );
      const msgs = sub.messages.map(decode);
      const nbirth = msgs.find((m) => m.verb === 'NBIRTH')!;
      expect(Math.abs(nbirth.timestamp! - Date.now())).toBeLessThan(10_000);
      const data = msgs.filter((m) => m.verb === 'DDATA').map((m) => m.metrics[0]!);
      expect(data.map((m) => m.value)).toEqual([21, 22, 23, 24, 25]);
      expect(data.every((m) => m.isHistorical === true)).toBe(true);
      data.forEach((m, i) => {
        // True time of the reading (the test's clock), not 35 days earlier.
        expect(Math.abs(m.ts! - sentAt[i]!)).toBeLessThan(1000);
      });
    } finally {
      await gw.kill();
      await sub.close();
      await broker.stop();
    }
  }, 60_000);
});
