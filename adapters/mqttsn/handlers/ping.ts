import { warnIfMoved } from '../client-moved.js';
import type { PacketOf } from '../codec/index.js';
import type { Ctx } from '../context.js';
import type { Peer } from '../peer.js';
import type { Session } from '../session.js';
import { wake } from '../sleep.js';

/**
 * PINGREQ(clientId) from a sleeper wakes it (inbox delivered, then PINGRESP). Without a client id it is a
 * keep-alive (or a liveness probe of the gateway): PINGRESP at once.
 */
export function onPingreq(
  ctx: Ctx,
  peer: Peer,
  p: PacketOf<'pingreq'>,
  atPeer: Session | undefined,
): Promise<void> | void {
  if (p.clientId === undefined) return ctx.send(peer, { type: 'pingresp' });
  const s = ctx.sessions.get(p.clientId);
  if (!s || s.state === 'offline' || (atPeer && atPeer !== s))
    return ctx.drop('out_of_state', peer, `PINGREQ ${p.clientId}`);
  // A pinned sleeper's queue goes only to its own address: no PINGRESP, nothing delivered, no rebinding.
  if (!ctx.pins.admits(s.clientId, peer)) return ctx.drop('address_pinned', peer, `PINGREQ ${p.clientId}`);
  warnIfMoved(ctx, s.clientId, peer, 'PINGREQ');
  s.lastSeen = ctx.now();
  if (s.state === 'asleep') return wake(ctx, s, peer);
  if (s.state === 'awake') return ctx.drop('duplicate', peer, `${s.clientId}: PINGREQ while delivering`);
  ctx.send(peer, { type: 'pingresp' });
}
