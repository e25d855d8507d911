import { flags, ReturnCode } from '../../adapters/mqttsn/codec/index.js';
import { SnClient } from '../mqttsn/client.js';

/**
 * The devices of the all-limits run (all-limits.ts), each filling one of the gateway's stores:
 * publishers that fill the outbox while the broker is down, subscribers that never ack (in-memory
 * downlink queues), sleepers that commands wait for (durable inbox). Their sockets stay open until
 * the run ends: closing them changes nothing for the gateway, but keeps the process honest.
 */

/** `count` devices spread over source addresses `${net}.1`, `${net}.2` … with `perSource` on each. */
export function addresses(net: string, count: number, perSource: number): string[] {
  return Array.from({ length: count }, (_, i) => `${net}.${1 + Math.floor(i / perSource)}`);
}

async function connected(port: number, source: string, id: string): Promise<SnClient> {
  const c = await SnClient.open(port, undefined, source);
  const ack = await c.connect(id, { cleanSession: false, duration: 3600 });
  if (ack.returnCode !== ReturnCode.ACCEPTED) throw new Error(`${id}: CONNECT refused (${ack.returnCode})`);
  return c;
}

/** A device that subscribes to `topic` (an exact name: the SUBACK gives its id) and never acks anything. */
export async function silentSubscriber(port: number, source: string, id: string, topic: string) {
  const c = await connected(port, source, id);
  await c.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 1, topic });
  const ack = await c.expect('suback', 5000);
  if (ack.returnCode !== ReturnCode.ACCEPTED) throw new Error(`${id}: SUBSCRIBE ${topic} refused`);
  return c;
}

/** A device that connects and goes to sleep for `seconds`: what is meant for it waits in the inbox. */
export async function sleeper(port: number, source: string, id: string, seconds: number) {
  const c = await connected(port, source, id);
  await c.send({ type: 'disconnect', duration: seconds });
  await c.expect('disconnect', 5000);
  return c;
}

export interface Publisher {
  client: SnClient;
  topicId: number;
  msgId: number;
}

/** A device with one registered topic, ready to publish. */
export async function publisher(port: number, source: string, id: string, topic: string): Promise<Publisher> {
  const c = await connected(port, source, id);
  await c.send({ type: 'register', topicId: 0, msgId: 1, topicName: topic });
  const ack = await c.expect('regack', 5000);
  if (ack.returnCode !== ReturnCode.ACCEPTED) throw new Error(`${id}: REGISTER ${topic} refused`);
  return { client: c, topicId: ack.topicId, msgId: 1 };
}

/**
 * QoS 0 publishes of `payload`, round-robin over the publishers at `rate` a second, until `total`
 * were sent or `keepGoing` says stop. Paced, and QoS 0 (no ack waits for a commit): the gateway's
 * receive buffer (Linux's default 208 KiB: about 40 of these datagrams) is never the bottleneck.
 */
export async function publishPaced(
  pubs: Publisher[],
  o: { total: number; payload: Buffer; rate: number; keepGoing: () => boolean },
): Promise<number> {
  const t0 = Date.now();
  let sent = 0;
  while (sent < o.total && o.keepGoing()) {
    const due = Math.min(o.total, Math.floor(((Date.now() - t0) * o.rate) / 1000));
    for (; sent < due; sent++) {
      const p = pubs[sent % pubs.length]!;
      await p.client.send({
        type: 'publish',
        flags: flags({ qos: 0 }),
        topicId: p.topicId,
        msgId: 0,
        data: o.payload,
      });
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return sent;
}

export interface PublishCounts {
  sent: number;
  acked: number;
  /** PUBACK with another return code (congestion: the gateway would not take it). */
  refused: number;
  unanswered: number;
}

/**
 * QoS 1 publishes of `payload` from every publisher, `window` in flight each, until `total` were
 * sent (shared among them) or `keepGoing` says stop. Bounded: each window waits at most 10 s.
 */
export async function publishAll(
  pubs: Publisher[],
  o: { total: number; payload: Buffer; window: number; keepGoing?: () => boolean },
): Promise<PublishCounts> {
  const n: PublishCounts = { sent: 0, acked: 0, refused: 0, unanswered: 0 };
  await Promise.all(
    pubs.map(async (p) => {
      while (n.sent < o.total && (o.keepGoing?.() ?? true)) {
        const ids: number[] = [];
        for (let i = 0; i < o.window && n.sent < o.total; i++, n.sent++) {
          p.msgId = (p.msgId % 0xffff) + 1;
          ids.push(p.msgId);
          await p.client.send({
            type: 'publish',
            flags: flags({ qos: 1 }),
            topicId: p.topicId,
            msgId: p.msgId,
            data: o.payload,
          });
        }
        const deadline = Date.now() + 10_000;
        for (const msgId of ids) {
          const left = Math.max(1, deadline - Date.now());
          const a = await p.client.expect('puback', left, (x) => x.msgId === msgId).catch(() => undefined);
          if (!a) n.unanswered++;
          else if (a.returnCode === ReturnCode.ACCEPTED) n.acked++;
          else n.refused++;
        }
        p.client.inbox.length = 0;
      }
    }),
  );
  return n;
}
