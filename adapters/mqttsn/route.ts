import type { SendOutcome } from '../types.js';
import type { Ctx } from './context.js';
import type { DownMsg } from './downlink.js';
import type { Session } from './session.js';

export type RouteOutcome = SendOutcome | 'dropped';

/** Puts a message for a sleeping/offline device into the durable inbox, within its queued-bytes budget. */
export async function queueInInbox(
  ctx: Ctx,
  s: Session,
  m: DownMsg,
  expiresAt: number | null,
): Promise<RouteOutcome> {
  const bytes = m.payload.length + m.topic.length;
  if (s.inboxBytes + bytes > ctx.cfg.max_queued_bytes_per_client) {
    ctx.drop('queue-full', s.peer, `${s.clientId}: inbox budget`);
    return 'dropped';
  }
  s.inboxBytes += bytes;
  try {
    await ctx.inbox.put({
      target: ctx.name,
      device: s.clientId,
      topic: m.topic,
      payload: m.payload,
      qos: m.qos,
      expiresAt,
      commandId: m.commandId,
      meta: m.meta,
    });
  } catch (e) {
    s.inboxBytes -= bytes;
    throw e;
  }
  ctx.stats.counters.queued++;
  return 'queued';
}

/**
 * Hands one message to one device: straight down when it is connected, else the durable inbox
 * (QoS 0 only for sleepers, as MQTT keeps no QoS 0 for an offline session). A connected device that
 * stops answering gets the message queued for its next wake or connect.
 */
export async function routeTo(
  ctx: Ctx,
  s: Session,
  m: DownMsg,
  expiresAt: number | null,
  /** Commands addressed to the device wait even at QoS 0; subscription traffic does not. */
  queueQos0 = false,
): Promise<RouteOutcome> {
  if (s.state === 'active') {
    const p = s.downlink.push(ctx, s, m);
    if (!p) {
      ctx.drop('queue-full', s.peer, `${s.clientId}: downlink budget`);
      return 'dropped';
    }
    const r = await p;
    if (r === 'delivered') return 'delivered';
    if (r === 'rejected' || (m.qos === 0 && !queueQos0)) return 'dropped';
    return queueInInbox(ctx, s, m, expiresAt);
  }
  const sleeper = s.state === 'asleep' || s.state === 'awake';
  if (m.qos === 0 && !sleeper && !queueQos0) return 'dropped';
  return queueInInbox(ctx, s, m, expiresAt);
}
