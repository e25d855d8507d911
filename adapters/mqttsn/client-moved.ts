import type { Ctx } from './context.js';
import { type Peer, peerKey } from './peer.js';

/** The sending host (and forwarder node): a new port on the same host is a reboot, not a move. */
const hostOf = (p: Peer) => (p.forward ? `${p.address}#${p.forward.nodeId.toString('hex')}` : p.address);

/** Unpinned ids may move (a device that rebooted or roamed); a move to another host is logged at warn. */
export function warnIfMoved(ctx: Ctx, clientId: string, peer: Peer, what: string): void {
  const was = ctx.sessions.get(clientId)?.peer;
  if (!was || hostOf(was) === hostOf(peer)) return;
  ctx.refusals(
    'client-moved',
    {
      reason: 'client-moved',
      clientId,
      from: peerKey(was),
      to: peerKey(peer),
      pinned: ctx.pins.isPinned(clientId),
    },
    `mqttsn: ${what} for a known client id from another address; the session moves there (pin it with mqttsn.clients.<id>.address)`,
  );
}
