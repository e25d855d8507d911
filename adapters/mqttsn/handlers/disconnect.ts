import type { PacketOf } from '../codec/index.js';
import type { Ctx } from '../context.js';
import { endSession } from '../liveness.js';
import type { Peer } from '../peer.js';
import type { Session } from '../session.js';
import { sleep } from '../sleep.js';

/** DISCONNECT with a duration puts the device to sleep; without, ends the session (no will). Both acked. */
export function onDisconnect(ctx: Ctx, peer: Peer, p: PacketOf<'disconnect'>, s: Session | undefined): void {
  if (!s || s.state === 'offline') {
    ctx.drop('out_of_state', peer, 'DISCONNECT');
    return;
  }
  ctx.send(peer, { type: 'disconnect' });
  if (p.duration && (s.state === 'active' || s.state === 'awake' || s.state === 'asleep')) {
    sleep(ctx, s, p.duration);
    return;
  }
  endSession(ctx, s, 'disconnect');
}
