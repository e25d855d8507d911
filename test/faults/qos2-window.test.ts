import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { checkOrderPerDevice, listen, makeClient, msg, openTestStore } from '../upstream/helpers.js';

afterAll(cleanupTmpDirs);

/** mosquitto's own defaults (the harness turns these limits off for other tests). */
const DEFAULT_LIMITS = ['max_inflight_messages 20', 'max_queued_messages 1000'];
const N = 5000;

/** Drain a backlog of N QoS 2 rows into a default-config mosquitto; what a QoS 2 subscriber got. */
async function drain(
  maxInflightQos2: number,
  protocol: '3.1.1' | '5' = '5',
): Promise<{ payloads: string[]; brokerLog: string }> {
  const broker = await Mosquitto.start({ extra: DEFAULT_LIMITS });
  const sub = await listen(broker.url, 'q2/#', { qos: 2 });
  const store = openTestStore();
  const devices = ['a', 'b', 'c', 'd', 'e'];
  await store.outbox.enqueue(
    Array.from({ length: N }, (_, i) =>
      msg(devices[i % 5]!, `q2/${devices[i % 5]}`, `${devices[i % 5]}:${i}`, 2),
    ),
  );
  const { client } = makeClient(store, {
    url: broker.url,
    inflight: 32,
    max_inflight_qos2: maxInflightQos2,
    protocol,
  });
  const t0 = Date.now();
  await client.start();
  await waitFor(() => store.outbox.stats().rows === 0, 'outbox drained', 30_000);
  console.log(`max_inflight_qos2 ${maxInflightQos2}: ${N} QoS 2 rows drained in ${Date.now() - t0} ms`);
  // Every row is acknowledged (PUBCOMP); what the broker discarded never arrives. Wait for the
  // stream to go quiet rather than for a count that a lossy run never reaches.
  let seen = -1;
  while (sub.messages.length !== seen) {
    seen = sub.messages.length;
    await sleep(300);
  }
  await client.stop();
  store.close();
  await sub.close();
  await broker.stop();
  return { payloads: sub.messages.map((m) => m.payload.toString()), brokerLog: broker.output };
}

describe('QoS 2 window: within what the broker keeps awaiting release', () => {
  it('a 5,000-row QoS 2 backlog reaches a subscriber of a default mosquitto exactly once, in order', async () => {
    const { payloads, brokerLog } = await drain(10);
    // The subscriber kept up: mosquitto dropped nothing for it (max_queued_messages).
    expect(brokerLog).not.toMatch(/dropp/i);
    expect(new Set(payloads).size).toBe(N);
    expect(payloads.length).toBe(N);
    expect(checkOrderPerDevice(payloads).ordered).toBe(true);
  }, 60_000);

  it('10 devices streaming QoS 2 into a default mosquitto: 3,000 arrive exactly once', async () => {
    const broker = await Mosquitto.start({ extra: DEFAULT_LIMITS });
    const sub = await listen(broker.url, 'q2s/#', { qos: 2 });
    const store = openTestStore();
    const { client } = makeClient(store, { url: broker.url });
    await client.start();
    await waitFor(() => client.stats().connected, 'connected');
    // Each device's readings committed as they come, a few per turn, 10 devices interleaved.
    const M = 3000;
    const enqueued: Promise<unknown>[] = [];
    for (let i = 0; i < M; i += 10) {
      for (let d = 0; d < 10; d++)
        enqueued.push(store.outbox.enqueue([msg(`s${d}`, `q2s/s${d}`, `s${d}:${i + d}`, 2)]));
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(enqueued);
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox drained', 30_000);
    let seen = -1;
    while (sub.messages.length !== seen) {
      seen = sub.messages.length;
      await sleep(300);
    }
    const payloads = sub.messages.map((m) => m.payload.toString());
    expect(broker.output).not.toMatch(/dropp/i);
    expect(new Set(payloads).size).toBe(M);
    expect(payloads.length).toBe(M);
    expect(checkOrderPerDevice(payloads).ordered).toBe(true);
    await client.stop();
    store.close();
    await sub.close();
    await broker.stop();
  }, 60_000);

  // MQTT 3.1.1 has no Receive Maximum: only max_inflight_qos2 protects the broker's limit. (With
  // MQTT 5 the broker announces it and the client stays below: test/upstream/mqtt5-flow.test.ts.)
  it('control: with 32 QoS 2 in flight the same drain loses messages over 3.1.1 (the limit above is what saves them)', async () => {
    const { payloads, brokerLog } = await drain(32, '3.1.1');
    expect(brokerLog).not.toMatch(/dropp/i);
    const lost = N - new Set(payloads).size;
    console.log(`max_inflight_qos2 32: ${lost} of ${N} lost at the broker`);
    expect(lost).toBeGreaterThan(0);
  }, 60_000);
});
