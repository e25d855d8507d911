import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Subscriber } from '../harness/subscriber.js';
import { sleep } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { LEGIT_PREFIX } from './fields.js';

export interface LegitResult {
  devices: number;
  connected: number;
  acked: number;
  expected: number;
  delivered: number;
  ms: number;
  errors: string[];
}

/**
 * Clean devices, as a careful real device behaves: CONNECT (retried, as T_retry says), REGISTER its
 * topic, publish QoS 1 messages one by one, resending (DUP) until PUBACK. Then the subscriber must
 * have every payload. Everything is bounded by `deadlineMs`; `tick` runs while waiting.
 */
export async function legitRound(
  port: number,
  sub: Subscriber,
  tag: string,
  devices: number,
  messages: number,
  deadlineMs: number,
  tick: () => void = () => undefined,
): Promise<LegitResult> {
  const start = Date.now();
  const deadline = start + deadlineMs;
  const nonce = `${tag}-${start.toString(36)}`;
  const res: LegitResult = {
    devices,
    connected: 0,
    acked: 0,
    expected: devices * messages,
    delivered: 0,
    ms: 0,
    errors: [],
  };
  const want = new Set<string>();
  const ticker = setInterval(tick, 200);
  try {
    await Promise.all(
      Array.from({ length: devices }, async (_, d) => {
        const id = `${LEGIT_PREFIX}${d}`;
        const topic = `legit/${id}`;
        for (let i = 0; i < messages; i++) want.add(`${nonce}-${d}-${i}`);
        const c = await SnClient.open(port);
        try {
          if (!(await retry(deadline, async () => (await c.connect(id, { duration: 60 })).returnCode === 0)))
            return void res.errors.push(`${id}: no accepted CONNACK`);
          res.connected++;
          let topicId = 0;
          const registered = await retry(deadline, async () => {
            await c.send({ type: 'register', topicId: 0, msgId: 1, topicName: topic });
            const ack = await c.expect('regack');
            topicId = ack.topicId;
            return ack.returnCode === 0;
          });
          if (!registered) return void res.errors.push(`${id}: REGISTER not accepted`);
          for (let i = 0; i < messages; i++) {
            const msgId = i + 2;
            let dup = false;
            const ok = await retry(deadline, async () => {
              await c.send({
                type: 'publish',
                flags: flags({ qos: 1, dup }),
                topicId,
                msgId,
                data: Buffer.from(`${nonce}-${d}-${i}`),
              });
              dup = true;
              const ack = await c.expect('puback', 2000, (p) => p.msgId === msgId);
              if (ack.returnCode !== 0) throw new Error(`PUBACK return code ${ack.returnCode}`);
              return true;
            });
            if (!ok) return void res.errors.push(`${id}: message ${i} not acknowledged`);
            res.acked++;
          }
          await c.send({ type: 'disconnect' });
        } finally {
          await c.close();
        }
      }),
    );
    const delivered = () => sub.messages.filter((m) => want.has(m.payload.toString())).length;
    while (delivered() < want.size && Date.now() < deadline) await sleep(50);
    // Count distinct payloads: a duplicate (QoS 1 allows it) must not hide a missing one.
    res.delivered = new Set(sub.messages.map((m) => m.payload.toString()).filter((p) => want.has(p))).size;
    if (res.delivered < want.size)
      res.errors.push(`${want.size - res.delivered} of ${want.size} messages never reached the subscriber`);
  } finally {
    clearInterval(ticker);
    res.ms = Date.now() - start;
  }
  return res;
}

/** Try `fn` until it returns true or the deadline passes; a throw (a timeout) counts as a miss. */
async function retry(deadline: number, fn: () => Promise<boolean>): Promise<boolean> {
  while (Date.now() < deadline) {
    try {
      if (await fn()) return true;
    } catch {
      // lost datagram or a timeout: the device tries again, as T_retry says
    }
    await sleep(100);
  }
  return false;
}
