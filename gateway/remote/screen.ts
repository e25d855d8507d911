import type { InboundMessage } from '../upstream/inbound.js';
import type { AdminRequest } from './request.js';
import type { AdminTopics } from './topics.js';

/** Why a request is dropped unanswered (the `reason` label of fieldgate_remote_requests_refused_total). */
export type RefusalReason =
  | 'retained'
  | 'expired'
  | 'too_old'
  | 'too_large'
  | 'not_json'
  | 'no_reply_topic'
  | 'reply_topic'
  | 'not_a_request';

export interface ScreenLimits {
  maxRequestSize: number;
  maxAgeMs: number;
  /** The wall clock can be trusted (synchronized): only then is `sent_at` compared with it. */
  wallTrusted: boolean;
  /** Wall-clock ms now. */
  now: number;
}

/**
 * Everything a request must pass before it is read: a retained request never replays (a stale one
 * would run again on every reconnect), an old or oversized one is not parsed, and an answer never
 * goes outside the gateway's own reply prefix (else any client could make the gateway publish
 * anywhere its broker account may).
 */
export function screen(
  m: InboundMessage,
  topics: AdminTopics,
  limits: ScreenLimits,
): { request: AdminRequest } | { refused: RefusalReason } {
  const name = topics.requestOf(m.topic);
  if (name === undefined) return { refused: 'not_a_request' };
  if (m.retain) return { refused: 'retained' };
  // The broker drops a message whose expiry ran out while queued; 0 means it ran out on the way.
  if (m.messageExpiryInterval === 0) return { refused: 'expired' };
  if (m.payload.length > limits.maxRequestSize) return { refused: 'too_large' };
  let args: Record<string, unknown>;
  try {
    const parsed: unknown = m.payload.length ? JSON.parse(m.payload.toString('utf8')) : {};
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return { refused: 'not_json' };
    args = parsed as Record<string, unknown>;
  } catch {
    return { refused: 'not_json' };
  }
  // Without a trusted clock an age by the sender's clock means nothing: Message Expiry still applies.
  const sentAt = typeof args.sent_at === 'string' ? Date.parse(args.sent_at) : args.sent_at;
  if (limits.wallTrusted && typeof sentAt === 'number' && Number.isFinite(sentAt)) {
    if (limits.now - sentAt > limits.maxAgeMs) return { refused: 'too_old' };
  }
  const replyTo = m.responseTopic ?? (typeof args.reply_to === 'string' ? args.reply_to : undefined);
  if (replyTo === undefined) return { refused: 'no_reply_topic' };
  if (!topics.isReplyTopic(replyTo)) return { refused: 'reply_topic' };
  const userProperties = m.userProperties ?? {};
  const actorProp = userProperties.actor;
  const actor =
    (Array.isArray(actorProp) ? actorProp[0] : actorProp) ??
    (typeof args.actor === 'string' ? args.actor : undefined) ??
    'unknown';
  const request: AdminRequest = { name, args, replyTo, actor: actor.slice(0, 200), userProperties };
  if (m.correlationData) request.correlationData = m.correlationData;
  if (typeof args.correlation === 'string') request.correlation = args.correlation;
  return { request };
}
