import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { SlaveModel, TcpSlave } from '../modbus/slave.js';
import { MqttProxy } from '../upstream/proxy.js';
import { decode, metric } from './decode.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

const BLACKOUTS = 2;
const BLACKOUT_MS = 4000;

/**
 * What Sparkplug's QoS 0 costs when the link dies silently (a pulled cable): the gateway keeps
 * writing into a connection nobody reads until its keep-alive gives up. A proxy between gateway and
 * broker swallows everything for a while, then cuts. The oracle is the same readings on a plain
 * QoS 1 topic (resent after the reconnect). With data_qos 0 what was written into the dead link is
 * lost; with data_qos 1 a row stays in the outbox until PUBACK and nothing is.
 */
describe.each([0, 1] as const)(
  'sparkplug data_qos %i across silent link drops (real gateway, proxy, mosquitto)',
  (qos) => {
    it(qos === 0
      ? 'QoS 0 loses what was written into the dead link, and only that'
      : 'QoS 1 loses nothing', async () => {
      const broker = await Mosquitto.start();
      const proxy = await MqttProxy.start(broker.port);
      const model = new SlaveModel();
      const slave = await TcpSlave.start(model);
      let counter = 0;
      const setAt = new Map<number, number>();
      const step = () => {
        counter++;
        setAt.set(counter, Date.now());
        model.setRegisters(1, 3, 0, [counter]);
      };
      step();
      const stepper = setInterval(step, 20);
      const dir = tmpDir();
      const file = join(dir, 'gw.yaml');
      writeFileSync(
        file,
        `gateway: { id: edge${qos}, state_dir: ${join(dir, 'state')}, stop_grace: 5s }
upstream: { url: "${proxy.url}", keepalive: 2, reconnect: { min: 100ms, max: 300ms } }
http: { enabled: false }
modbus:
  - name: plc
    tcp: 127.0.0.1:${slave.port}
    topic: plain/{device}/{point}
    qos: 1
    devices: [{ name: line1, poll: 10ms, points: [{ name: count, fc: 3, address: 0 }] }]
sparkplug:
  enabled: true
  group_id: plant
  data_qos: ${qos}
  sources: [{ source: "modbus:plc", publish: both }]
`,
      );
      const sub = await Subscriber.connect(broker.url, 'spBv1.0/#', { qos: 1 });
      const plain = await Subscriber.connect(broker.url, 'plain/#', { qos: 1 });
      const gw = GatewayProcess.start(['run', '-c', file]);
      const windows: [number, number][] = [];
      try {
        await waitFor(() => sub.messages.some((m) => m.topic.includes('/DDATA/')), 'first DDATA', 20_000);
        for (let i = 0; i < BLACKOUTS; i++) {
          await sleep(1000);
          const from = Date.now();
          proxy.drop = () => true; // the link is dead: nothing arrives either way
          await sleep(BLACKOUT_MS);
          proxy.cut();
          proxy.drop = undefined;
          windows.push([from, Date.now()]);
          const births = sub.messages.filter((m) => m.topic.includes('/NBIRTH/')).length;
          await waitFor(
            () => sub.messages.filter((m) => m.topic.includes('/NBIRTH/')).length > births,
            'a new session',
            20_000,
          );
        }
        await sleep(1000);
        clearInterval(stepper);
        const wanted = () => new Set(plain.messages.map((m) => Number(m.payload.toString())));
        const got = () =>
          new Set(
            sub.messages
              .map(decode)
              .filter((m) => m.verb === 'DDATA')
              .map((m) => metric(m, 'count')!.value as number),
          );
        // Everything the plain QoS 1 topic will get has arrived once the gateway's outbox is empty.
        await sleep(3000);
        const lost = [...wanted()].filter((v) => !got().has(v));
        const inWindow = (v: number) =>
          windows.some(([a, b]) => setAt.get(v)! >= a - 1000 && setAt.get(v)! <= b);
        console.log(
          `data_qos ${qos}: ${wanted().size} readings, ${lost.length} lost over ${BLACKOUTS} silent drops of ${BLACKOUT_MS} ms (keepalive 2 s)`,
        );
        expect(wanted().size).toBeGreaterThan(200);
        if (qos === 1) expect(lost).toEqual([]);
        else {
          expect(lost.length).toBeGreaterThan(0);
          expect(lost.filter((v) => !inWindow(v))).toEqual([]);
        }
      } finally {
        clearInterval(stepper);
        await gw.kill();
        await sub.close();
        await plain.close();
        await proxy.close();
        await slave.close();
        await broker.stop();
      }
    }, 90_000);
  },
);
