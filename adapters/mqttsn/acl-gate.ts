import { flags, type Packet, ReturnCode } from './codec/index.js';
import type { Ctx } from './context.js';
import type { Peer } from './peer.js';
import type { Session } from './session.js';
import { filterOf } from './handlers/subscribe.js';
import { subscriptionRefusal } from './sub-policy.js';
import { validTopicName } from './topic-filter.js';

/**
 * mqttsn.acl (and, for SUBSCRIBE, the reserved filters: sub-policy.ts) for the packets whose handlers do not check it themselves: REGISTER (a topic the device
 * will publish on), SUBSCRIBE, and will topics (the gateway publishes the will on the device's behalf).
 * A refused packet is answered with rc 3 "not supported" (rc 2 would make the device register again
 * and retry forever), counted and logged; true means the handler must not run. PUBLISH is checked in
 * its handler, after the topic id is resolved. Malformed topics are left to the handlers.
 */
export function aclRefused(ctx: Ctx, peer: Peer, p: Packet, s: Session | undefined): boolean {
  if (!s) return false;
  switch (p.type) {
    case 'register':
      if (!s.online || !validTopicName(p.topicName) || ctx.acl.mayPublish(s.clientId, p.topicName))
        return false;
      denied(ctx, peer, s, `REGISTER ${p.topicName}`);
      ctx.send(peer, { type: 'regack', topicId: 0, msgId: p.msgId, returnCode: ReturnCode.NOT_SUPPORTED });
      return true;
    case 'subscribe': {
      const filter = s.online ? filterOf(ctx, s, p) : undefined;
      const why = filter === undefined ? undefined : subscriptionRefusal(ctx, s.clientId, filter);
      if (!why) return false;
      ctx.drop(why, peer, `${s.clientId}: SUBSCRIBE ${filter}`);
      const qos = p.flags.qos === 1 || p.flags.qos === 2 ? p.flags.qos : 0;
      ctx.send(peer, {
        type: 'suback',
        flags: flags({ qos }),
        topicId: 0,
        msgId: p.msgId,
        returnCode: ReturnCode.NOT_SUPPORTED,
      });
      return true;
    }
    case 'willtopic':
      // During CONNECT: refuse the connection, as for an invalid will topic.
      if (
        s.state !== 'will-topic' ||
        !p.flags ||
        !validTopicName(p.topic) ||
        ctx.acl.mayPublish(s.clientId, p.topic)
      )
        return false;
      denied(ctx, peer, s, `will topic ${p.topic}`);
      s.state = 'offline';
      ctx.sessions.remove(s);
      ctx.send(peer, { type: 'connack', returnCode: ReturnCode.NOT_SUPPORTED });
      return true;
    case 'willtopicupd':
      if (!s.online || !p.flags || !validTopicName(p.topic) || ctx.acl.mayPublish(s.clientId, p.topic))
        return false;
      denied(ctx, peer, s, `will topic ${p.topic}`);
      ctx.send(peer, { type: 'willtopicresp', returnCode: ReturnCode.NOT_SUPPORTED });
      return true;
    default:
      return false;
  }
}

/** Counted and logged (a module function: aclRefused runs for every datagram, PUBLISH included). */
function denied(ctx: Ctx, peer: Peer, s: Session, what: string): void {
  ctx.drop('acl_denied', peer, `${s.clientId}: ${what}`);
}
