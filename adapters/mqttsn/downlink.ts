import type { QoS } from '../types.js';
import { flags, type Packet, type PacketType, shortNameToId, TopicIdType } from './codec/index.js';
import type { Ctx, DownlinkMemory } from './context.js';
import type { Session, Waiter } from './session.js';
import { topicCost } from './state-budget.js';

export interface DownMsg {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Set for commands: kept with the inbox row so the gateway can report their fate. */
  commandId?: string;
  meta?: Record<string, unknown>;
}

/** delivered: written (QoS 0) or acked; rejected: the device answered with an error code; failed: no answer. */
export type DownResult = 'delivered' | 'rejected' | 'failed';

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
    ctx.drop('state-budget', s.peer, `${s.clientId}: no room to register ${topic}`);
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
 * What a queued message costs beyond its payload and topic (job, promise, closures): counted so that
 * a flood of empty messages is bounded too.
 */
const JOB_OVERHEAD = 256;

interface Job {
  msg: DownMsg;
  bytes: number;
  done: (r: DownResult) => void;
  mem: DownlinkMemory;
  /** The source address the bytes were counted against. */
  source: string | undefined;
}

/** Give a job's bytes back to the totals it was counted in. */
function releaseJob(j: Job): void {
  j.mem.used -= j.bytes;
  if (j.source === undefined) return;
  const left = (j.mem.bySource.get(j.source) ?? 0) - j.bytes;
  if (left > 0) j.mem.bySource.set(j.source, left);
  else j.mem.bySource.delete(j.source);
}

/** One downlink exchange at a time per device (MQTT-SN devices handle one in flight), in order. */
export class DownlinkQueue {
  private jobs: Job[] = [];
  private running = false;
  bytes = 0;

  /**
   * undefined when a bound would be exceeded: this device's queued messages or bytes, those of every
   * device at its source address, or the memory of every device's queue together (devices that never
   * ack must not grow the process).
   */
  push(ctx: Ctx, s: Session, msg: DownMsg): Promise<DownResult> | undefined {
    const bytes = msg.payload.length + msg.topic.length + JOB_OVERHEAD;
    const mem = ctx.downlinkMemory;
    const source = s.source;
    const atSource = source === undefined ? 0 : (mem.bySource.get(source) ?? 0);
    if (
      this.jobs.length >= ctx.cfg.max_queued_messages_per_client ||
      this.bytes + bytes > ctx.cfg.max_queued_bytes_per_client ||
      atSource + bytes > mem.maxPerSource ||
      mem.used + bytes > mem.max
    )
      return undefined;
    this.bytes += bytes;
    mem.used += bytes;
    if (source !== undefined) mem.bySource.set(source, atSource + bytes);
    const p = new Promise<DownResult>((done) => this.jobs.push({ msg, bytes, done, mem, source }));
    void this.run(ctx, s);
    return p;
  }

  failAll(): void {
    for (const j of this.jobs.splice(0)) {
      this.bytes -= j.bytes;
      releaseJob(j);
      j.done('failed');
    }
  }

  private async run(ctx: Ctx, s: Session): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let job = this.jobs.shift(); job; job = this.jobs.shift()) {
        let r: DownResult = 'failed';
        try {
          r = await deliverOne(ctx, s, job.msg);
        } catch (e) {
          ctx.log.error({ err: e, clientId: s.clientId }, 'mqttsn downlink failed');
        }
        this.bytes -= job.bytes;
        releaseJob(job);
        if (r === 'delivered') ctx.stats.counters.delivered++;
        // Still connected: the device itself did not take it (named, for the warning and status page);
        // otherwise the session ended or went to sleep and the message waits in the inbox.
        else
          ctx.drop(
            'delivery-failed',
            s.peer,
            `${s.clientId} ${job.msg.topic}: ${r}`,
            s.online ? s.clientId : undefined,
          );
        job.done(r);
      }
    } finally {
      this.running = false;
    }
  }
}
