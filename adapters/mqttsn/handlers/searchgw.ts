import type { PacketOf } from '../codec/index.js';
import type { Ctx } from '../context.js';
import type { Peer } from '../peer.js';

/** SEARCHGW: answer GWINFO to the asker (we are the gateway, so no gwAdd). */
export function onSearchgw(ctx: Ctx, peer: Peer, _p: PacketOf<'searchgw'>): void {
  ctx.send(peer, { type: 'gwinfo', gwId: ctx.cfg.gateway_id });
}
