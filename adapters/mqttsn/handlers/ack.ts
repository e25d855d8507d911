import type { PacketOf } from '../codec/index.js';
import type { Ctx } from '../context.js';
import type { Peer } from '../peer.js';
import type { Session } from '../session.js';

/** REGACK / PUBACK / PUBREC / PUBCOMP from a device: completes the downlink exchange waiting on its msgId. */
export function onAck(
  ctx: Ctx,
  peer: Peer,
  p: PacketOf<'regack' | 'puback' | 'pubrec' | 'pubcomp'>,
  s: Session | undefined,
): void {
  const w = s?.waiters.get(p.msgId);
  if (!w?.expect.includes(p.type)) {
    ctx.drop('out_of_state', peer, `unexpected ${p.type} ${p.msgId}`);
    return;
  }
  w.resolve(p);
}
