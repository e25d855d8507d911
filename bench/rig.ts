/**
 * What the MQTT-SN and drain suites share: one mosquitto (persistence on, so the drain can restart it
 * without losing the subscriber's session), one persistent counting subscriber, and ONE gateway
 * process that runs through every case, so its VmHWM is the peak of the whole bench.
 */
import mqtt from 'mqtt';
import { Mosquitto } from '../test/harness/mosquitto.js';
import { tmpDir } from '../test/harness/tmp.js';
import { BenchGateway } from './gateway-proc.js';
import { CountingSubscriber } from './procs.js';
import { progress } from './util.js';

export const DURABILITY = process.env.BENCH_SN_DURABILITY ?? 'power-loss';

export interface Rig {
  broker: Mosquitto;
  sub: CountingSubscriber;
  gw: BenchGateway;
  /** The gateway's upstream.inflight (the first of BENCH_WINDOWS). */
  inflight: number;
}

/** Resolves once the gateway's retained status says online (its upstream connection is up). */
export async function upstreamOnline(url: string, topic: string): Promise<void> {
  const c = await mqtt.connectAsync(url, { clientId: 'bench-status', reconnectPeriod: 0 });
  try {
    const online = new Promise<void>((r) =>
      c.on('message', (t, p) => {
        if (t === topic && p.toString() === 'online') r();
      }),
    );
    await c.subscribeAsync(topic, { qos: 1 });
    await online;
  } finally {
    await c.endAsync();
  }
}

export async function startRig(inflight: number): Promise<Rig> {
  // autosave_interval 0: saved only on stop (the drain's restart), no disk writes during the cases.
  const persist = tmpDir('fieldgate-bench-mosq-db-');
  const broker = await Mosquitto.start({
    extra: ['persistence true', `persistence_location ${persist}/`, 'autosave_interval 0'],
  });
  let sub: CountingSubscriber | undefined;
  let gw: BenchGateway | undefined;
  try {
    sub = await CountingSubscriber.start(broker.url, 'bench/#', true);
    progress('rig: broker and subscriber up');
    // BENCH_STORE_EXTRA: store keys to try, e.g. "commit_interval: 0".
    const storeExtra = process.env.BENCH_STORE_EXTRA;
    gw = await BenchGateway.start({
      brokerUrl: broker.url,
      inflight,
      durability: DURABILITY,
      ...(storeExtra && { storeExtra }),
    });
    await upstreamOnline(broker.url, 'fieldgate/bench/status');
    progress('rig: gateway up');
    return { broker, sub, gw, inflight };
  } catch (err) {
    await gw?.stop().catch(() => {});
    await sub?.stop();
    await broker.stop();
    throw err;
  }
}

export async function stopRig(rig: Rig): Promise<void> {
  try {
    await rig.gw.stop();
  } finally {
    await rig.sub.stop();
    await rig.broker.stop();
  }
}
