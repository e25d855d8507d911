import { InboxFullError } from '../../contracts/store.js';
import type { SendOutcome } from '../types.js';
import type { Ctx } from './context.js';
import { queueDownlink } from './device-exchange.js';
import type { DownMsg } from './downlink-queue.js';
import type { Session } from './session.js';

export type RouteOutcome = SendOutcome | 'dropped';

/**
 * Puts a message for a sleeping/offline device into the durable inbox, within the inbox's bounds
 * (whole inbox, and this device's rows and bytes), checked against the stored rows when the write
 * commits: the budget holds across restarts and however many messages arrive at once.
 */
export async function queueInInbox(
  ctx: Ctx,
  s: Session,
  m: DownMsg,
  expiresAt: number | null,
): Promise<RouteOutcome> {
  const c = ctx.cfg;
  try {
    await ctx.inbox.put(
      {
        target: ctx.name,
        device: s.clientId,
        topic: m.topic,
        payload: m.payload,
        qos: m.qos,
        expiresAt,
        commandId: m.commandId,
        meta: m.meta,
      },
      {
        maxRows: c.inbox_max_rows,
        maxBytes: c.inbox_max_bytes,
        deviceMaxRows: c.max_queued_messages_per_client,
        deviceMaxBytes: c.max_queued_bytes_per_client,
      },
    );
  } catch (e) {
    if (!(e instanceof InboxFullError)) throw e;
    ctx.drop('inbox_full', s.peer, `${s.clientId}: ${e.scope === 'device' ? 'device' : 'inbox'} budget`);
    return 'dropped';
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
    const p = queueDownlink(ctx, s, m);
    if (!p) {
      ctx.drop('queue_full', s.peer, `${s.clientId}: downlink budget`);
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
