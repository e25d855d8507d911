import { flags, type Packet, type PacketType, shortNameToId, TopicIdType } from './codec/index.js';
import type { Ctx } from './context.js';
import type { DownMsg, DownResult, QueueTarget } from './downlink-queue.js';
import type { Session, Waiter } from './session.js';
import { topicCost } from './state-budget.js';

/**
 * Sends `build(dup)` and waits for a reply of an expected type with this msgId, retransmitting every
 * retry_interval up to retry_count times (T_retry / N_retry). Resolves null when it gives up or the
 * session goes away.
 */
export function request(
  ctx: Ctx,
  s: Session,
  build: (dup: boolean) => Packet,
  msgId: number,
  expect: readonly PacketType[],
): Promise<Packet | null> {
  return new Promise((resolve) => {
    let tries = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (p: Packet | null) => {
      clearTimeout(timer);
      if (s.waiters.get(msgId) === w) s.waiters.delete(msgId);
      resolve(p);
    };
    const w: Waiter = { expect, resolve: finish };
    const attempt = () => {
      if (!s.peer || !s.online) return finish(null);
      ctx.send(s.peer, build(tries > 0));
      tries++;
      timer = setTimeout(
        () => (tries > ctx.cfg.retry_count ? finish(null) : attempt()),
        ctx.cfg.retry_interval,
      );
    };
    s.waiters.set(msgId, w);
    attempt();
  });
}

type Ref = { type: TopicIdType; id: number };

/** How this device can be sent `topic`: a registered id, a short name, a predefined id, or REGISTER first. */
async function topicRef(ctx: Ctx, s: Session, topic: string): Promise<Ref | 'failed' | 'rejected'> {
  const reg = s.topics.idOf(topic);
  if (reg !== undefined) return { type: TopicIdType.NORMAL, id: reg };
  const short = shortNameToId(topic);
  if (short !== undefined) return { type: TopicIdType.SHORT, id: short };
  const pre = ctx.predefined.idOf(s.clientId, topic);
  if (pre !== undefined) return { type: TopicIdType.PREDEFINED, id: pre };
  // A registration the gateway makes counts like the device's own: no budget, no message.
  if (ctx.sessions.budget.over(s, topicCost(topic), s.source)) {
    ctx.drop('state_budget', s.peer, `${s.clientId}: no room to register ${topic}`);
    return 'rejected';
  }
  const id = s.topics.assign(topic);
  if (id === undefined) return 'rejected';
  ctx.sessions.settle(s);
  const msgId = s.nextMsgId();
  const ack = await request(
    ctx,
    s,
    () => ({ type: 'register', topicId: id, msgId, topicName: topic }),
    msgId,
    ['regack'],
  );
  if (ack?.type === 'regack' && ack.returnCode === 0) {
    ctx.persist(s);
    return { type: TopicIdType.NORMAL, id };
  }
  s.topics.forget(id);
  ctx.sessions.settle(s);
  return ack ? 'rejected' : 'failed';
}

async function deliverOne(ctx: Ctx, s: Session, m: DownMsg): Promise<DownResult> {
  const ref = await topicRef(ctx, s, m.topic);
  if (typeof ref === 'string') return ref;
  const msgId = m.qos === 0 ? 0 : s.nextMsgId();
  const pub = (dup: boolean): Packet => ({
    type: 'publish',
    flags: flags({ dup, qos: m.qos, retain: m.retain, topicIdType: ref.type }),
    topicId: ref.id,
    msgId,
    data: m.payload,
  });
  if (m.qos === 0) {
    if (!s.peer || !s.online) return 'failed';
    ctx.send(s.peer, pub(false));
    return 'delivered';
  }
  const ack = await request(ctx, s, pub, msgId, m.qos === 1 ? ['puback'] : ['pubrec', 'puback']);
  if (!ack) return 'failed';
  if (ack.type === 'puback') {
    if (ack.returnCode === 0 && m.qos === 1) return 'delivered';
    // The device lost our registration (e.g. it restarted): register again next time.
    if (ack.returnCode === 2 && ref.type === TopicIdType.NORMAL) {
      s.topics.forget(ref.id);
      ctx.sessions.settle(s);
      ctx.persist(s);
    }
    return 'rejected';
  }
  const comp = await request(ctx, s, () => ({ type: 'pubrel', msgId }), msgId, ['pubcomp']);
  return comp ? 'delivered' : 'failed';
}

/**
 * Queues `msg` for a connected device (see DownlinkQueue.push for the bounds); undefined when full.
 * Resolves once the device took it, refused it, or the exchange failed.
 */
export function queueDownlink(ctx: Ctx, s: Session, msg: DownMsg): Promise<DownResult> | undefined {
  const target: QueueTarget = {
    source: s.source,
    maxMessages: ctx.cfg.max_queued_messages_per_client,
    maxBytes: ctx.cfg.max_queued_bytes_per_client,
    memory: ctx.downlinkMemory,
    deliver: (m) => deliverOne(ctx, s, m),
    crashed: (e) => ctx.log.error({ err: e, clientId: s.clientId }, 'mqttsn downlink failed'),
    settled: (m, r) => {
      if (r === 'delivered') ctx.stats.counters.delivered++;
      // Still connected: the device itself did not take it (named, for the warning and status page);
      // otherwise the session ended or went to sleep and the message waits in the inbox.
      else
        ctx.drop(
          'delivery_failed',
          s.peer,
          `${s.clientId} ${m.topic}: ${r}`,
          s.online ? s.clientId : undefined,
        );
    },
  };
  return s.downlink.push(target, msg);
}
