import { aclRefused } from './acl-gate.js';
import type { Packet } from './codec/index.js';
import type { Ctx } from './context.js';
import { onAck } from './handlers/ack.js';
import { onConnect } from './handlers/connect.js';
import { onDisconnect } from './handlers/disconnect.js';
import { onPingreq } from './handlers/ping.js';
import { onPublish, onPubrel } from './handlers/publish.js';
import { onRegister } from './handlers/register.js';
import { onSearchgw } from './handlers/searchgw.js';
import { onSubscribe, onUnsubscribe } from './handlers/subscribe.js';
import { onWillMsg, onWillMsgUpd, onWillTopic, onWillTopicUpd } from './handlers/will.js';
import type { Peer } from './peer.js';

/** One decoded packet from one peer to its handler. Async handlers (wake) return their promise. */
export function dispatch(ctx: Ctx, peer: Peer, p: Packet): Promise<void> | void {
  const s = ctx.sessions.byPeer(peer);
  if (s) s.lastSeen = ctx.now();
  if (aclRefused(ctx, peer, p, s)) return;
  switch (p.type) {
    case 'connect':
      return onConnect(ctx, peer, p, s);
    case 'willtopic':
      return onWillTopic(ctx, peer, p, s);
    case 'willmsg':
      return onWillMsg(ctx, peer, p, s);
    case 'register':
      return onRegister(ctx, peer, p, s);
    case 'publish':
      return onPublish(ctx, peer, p, s);
    case 'pubrel':
      return onPubrel(ctx, peer, p, s);
    case 'regack':
    case 'puback':
    case 'pubrec':
    case 'pubcomp':
      return onAck(ctx, peer, p, s);
    case 'subscribe':
      return onSubscribe(ctx, peer, p, s);
    case 'unsubscribe':
      return onUnsubscribe(ctx, peer, p, s);
    case 'pingreq':
      return onPingreq(ctx, peer, p, s);
    case 'disconnect':
      return onDisconnect(ctx, peer, p, s);
    case 'willtopicupd':
      return onWillTopicUpd(ctx, peer, p, s);
    case 'willmsgupd':
      return onWillMsgUpd(ctx, peer, p, s);
    case 'searchgw':
      return onSearchgw(ctx, peer, p);
    default:
      // Gateway-to-client types (CONNACK, ADVERTISE, GWINFO from another gateway, ...) and PINGRESP.
      return ctx.drop('out_of_state', peer, `unexpected ${p.type}`);
  }
}
