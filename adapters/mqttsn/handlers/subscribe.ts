import type { QoS } from '../../types.js';
import { flags, type PacketOf, ReturnCode, shortIdToName, TopicIdType } from '../codec/index.js';
import type { Ctx } from '../context.js';
import { onlineSession } from '../out-of-state.js';
import type { Peer } from '../peer.js';
import type { Session } from '../session.js';
import { subCost, topicCost } from '../state-budget.js';
import { refusedForSize, tooLong } from '../state-limits.js';
import { isWildcard, validFilter } from '../topic-filter.js';

/** The MQTT filter a SUBSCRIBE/UNSUBSCRIBE names, by topic id type; undefined when invalid or unknown. */
export function filterOf(ctx: Ctx, s: Session, p: PacketOf<'subscribe' | 'unsubscribe'>): string | undefined {
  const t = p.topic;
  switch (p.flags.topicIdType) {
    case TopicIdType.NORMAL:
      return typeof t === 'string' && validFilter(t) ? t : undefined;
    case TopicIdType.PREDEFINED:
      return typeof t === 'number' ? ctx.predefined.nameOf(s.clientId, t) : undefined;
    case TopicIdType.SHORT: {
      // Two bytes the device chose: `#a`, `+\x01` and the like are no filter the broker would take.
      const name = typeof t === 'number' ? shortIdToName(t) : undefined;
      return name !== undefined && validFilter(name) ? name : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * SUBSCRIBE: a concrete topic name is registered and its id returned in SUBACK; wildcards and short
 * names get id 0 (new concrete topics are REGISTERed before their first PUBLISH); predefined ids echo.
 */
export function onSubscribe(
  ctx: Ctx,
  peer: Peer,
  p: PacketOf<'subscribe'>,
  session: Session | undefined,
): Promise<void> | void {
  const s = onlineSession(ctx, peer, session, 'SUBSCRIBE');
  if (!s) return;
  const qos: QoS = p.flags.qos === 1 || p.flags.qos === 2 ? p.flags.qos : 0;
  const suback = (topicId: number, rc: number) =>
    ctx.send(peer, { type: 'suback', flags: flags({ qos }), topicId, msgId: p.msgId, returnCode: rc });
  const filter = filterOf(ctx, s, p);
  if (filter === undefined) {
    ctx.drop('invalid_topic', peer, `${s.clientId} SUBSCRIBE ${String(p.topic)}`);
    suback(0, ReturnCode.INVALID_TOPIC_ID);
    return;
  }
  // A new filter past the per-device limit: refused for good ("not supported"), not "congestion",
  // which would have the device retry the same SUBSCRIBE after T_WAIT forever.
  if (!s.subs.has(filter) && s.subs.size >= ctx.cfg.max_subscriptions_per_client) {
    ctx.drop('subscription_limit', peer, `${s.clientId} SUBSCRIBE ${filter}`);
    suback(0, ReturnCode.NOT_SUPPORTED);
    return;
  }
  if (!s.subs.has(filter)) {
    const concrete = p.flags.topicIdType === TopicIdType.NORMAL && !isWildcard(filter);
    const registers = concrete && s.topics.idOf(filter) === undefined;
    const extra = subCost(filter) + (registers ? topicCost(filter) : 0);
    if (refusedForSize(ctx, peer, s, filter, extra)) {
      suback(0, tooLong(ctx, filter) ? ReturnCode.NOT_SUPPORTED : ReturnCode.CONGESTION);
      return;
    }
  }
  let topicId = 0;
  let newId: number | undefined;
  if (p.flags.topicIdType === TopicIdType.PREDEFINED) topicId = p.topic as number;
  else if (p.flags.topicIdType === TopicIdType.NORMAL && !isWildcard(filter)) {
    const known = s.topics.idOf(filter);
    const id = s.topics.assign(filter);
    if (id === undefined) {
      ctx.drop('queue_full', peer, `${s.clientId}: topic registry full`);
      suback(0, ReturnCode.CONGESTION);
      return;
    }
    if (known === undefined) newId = id;
    topicId = id;
  }
  const before = s.subs.get(filter);
  ctx.sessions.subscribe(s, filter, qos);
  ctx.subscriptionsChanged();
  // SUBACK only once the subscription is stored: a device told "accepted" keeps it across a restart.
  return ctx.persist(s).then(
    () => suback(topicId, ReturnCode.ACCEPTED),
    () => {
      if (before) ctx.sessions.subscribe(s, filter, before.qos);
      else ctx.sessions.unsubscribe(s, filter);
      if (newId !== undefined) s.topics.forget(newId);
      ctx.sessions.settle(s);
      ctx.subscriptionsChanged();
      ctx.drop('store_error', peer, `${s.clientId} SUBSCRIBE ${filter}`);
      suback(0, ReturnCode.CONGESTION);
    },
  );
}

export function onUnsubscribe(
  ctx: Ctx,
  peer: Peer,
  p: PacketOf<'unsubscribe'>,
  session: Session | undefined,
): void {
  const s = onlineSession(ctx, peer, session, 'UNSUBSCRIBE');
  if (!s) return;
  const filter = filterOf(ctx, s, p);
  if (filter !== undefined && ctx.sessions.unsubscribe(s, filter)) {
    void ctx.persist(s);
    ctx.subscriptionsChanged();
  }
  ctx.send(peer, { type: 'unsuback', msgId: p.msgId });
}
