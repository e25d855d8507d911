import type { Ctx } from './context.js';
import type { Peer } from './peer.js';
import type { Session } from './session.js';
import { topicPreview } from '../../contracts/topic.js';

/** Longer than mqttsn.max_topic_length (UTF-8 bytes)? */
export const tooLong = (ctx: Ctx, topic: string) => Buffer.byteLength(topic) > ctx.cfg.max_topic_length;

/**
 * Would keeping `topic` (costing `extra` bytes more) make `s` exceed max_topic_length or a state
 * budget (its own, its source address's, everyone's)? Counted and logged when refused.
 */
export function refusedForSize(ctx: Ctx, peer: Peer, s: Session, topic: string, extra: number): boolean {
  if (tooLong(ctx, topic)) {
    ctx.drop(
      'topic_too_long',
      peer,
      `${s.clientId}: ${Buffer.byteLength(topic)} bytes > ${ctx.cfg.max_topic_length}: ${JSON.stringify(topicPreview(topic))}`,
    );
    return true;
  }
  const over = ctx.sessions.budget.over(s, extra, s.source);
  if (!over) return false;
  ctx.drop('state_budget', peer, `${s.clientId}: ${over} budget full`);
  return true;
}
