import type { Ctx } from './context.js';
import { endSession } from './liveness.js';
import { type Peer, peerKey } from './peer.js';
import type { Session } from './session.js';

/**
 * PUBLISH, REGISTER, SUBSCRIBE or UNSUBSCRIBE from a sender the gateway holds no connection for (never
 * connected, disconnected, lost, or connected before a restart with a clean session): DISCONNECT tells
 * it to connect again, where silence had a QoS 1 device resend for ever. Two bytes, no amplification,
 * and rate-limited per peer and in all (ReplyLimit), so a spoofed source gets little.
 */
export function answerNoSession(ctx: Ctx, peer: Peer, what: string): void {
  ctx.drop('out_of_state', peer, `${what} without a connection`);
  if (ctx.replies.allow(peerKey(peer))) ctx.send(peer, { type: 'disconnect' });
}

/**
 * The same (QoS 1/2 PUBLISH, REGISTER, SUBSCRIBE) from a device held as asleep: it acts as if
 * connected, so it and the gateway disagree (it rebooted, or missed the answer to its sleep request).
 * An ack would need a device that listens, and the gateway queues for a sleeper until it wakes; so
 * DISCONNECT, and the session ends as after the device's own DISCONNECT (no will; a clean-session=false
 * session keeps its subscriptions and queued messages). The device connects again and resends.
 */
export function answerAsleep(ctx: Ctx, peer: Peer, s: Session, what: string): void {
  ctx.drop('out_of_state', peer, `${s.clientId}: ${what} while asleep`, s.clientId);
  if (ctx.replies.allow(peerKey(peer))) ctx.send(peer, { type: 'disconnect' });
  endSession(ctx, s, 'disconnect');
}

/**
 * The session a REGISTER, SUBSCRIBE or UNSUBSCRIBE may act on: online. Otherwise the sender is answered
 * (no session, asleep) or the packet dropped (in the middle of CONNECT), and undefined returned.
 */
export function onlineSession(
  ctx: Ctx,
  peer: Peer,
  s: Session | undefined,
  what: string,
): Session | undefined {
  if (!s || s.state === 'offline') answerNoSession(ctx, peer, what);
  else if (s.state === 'asleep') answerAsleep(ctx, peer, s, what);
  else if (!s.online) ctx.drop('out_of_state', peer, `${s.clientId}: ${what} during CONNECT`, s.clientId);
  else return s;
  return undefined;
}
