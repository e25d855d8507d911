import { topicNameProblem, topicPreview } from '../../../contracts/topic.js';
import { type PacketOf, ReturnCode } from '../codec/index.js';
import type { Ctx } from '../context.js';
import { onlineSession } from '../out-of-state.js';
import type { Peer } from '../peer.js';
import type { Session } from '../session.js';
import { topicCost } from '../state-budget.js';
import { refusedForSize, tooLong } from '../state-limits.js';

/** REGISTER from a device: the topic id it will publish with (the same id again for a known name). */
export function onRegister(
  ctx: Ctx,
  peer: Peer,
  p: PacketOf<'register'>,
  session: Session | undefined,
): Promise<void> | void {
  const s = onlineSession(ctx, peer, session, 'REGISTER');
  if (!s) return;
  const regack = (topicId: number, rc: number) =>
    ctx.send(peer, { type: 'regack', topicId, msgId: p.msgId, returnCode: rc });
  // A name the broker would refuse is never registered: "not supported", so the device does not retry it.
  const problem = p.rawName ? 'invalid_utf8' : topicNameProblem(p.topicName);
  if (problem) {
    ctx.drop(
      'invalid_topic',
      peer,
      `${s.clientId} REGISTER ${problem}: ${JSON.stringify(topicPreview(p.topicName))}`,
    );
    regack(0, ReturnCode.NOT_SUPPORTED);
    return;
  }
  const known = s.topics.idOf(p.topicName) !== undefined;
  if (!known && refusedForSize(ctx, peer, s, p.topicName, topicCost(p.topicName))) {
    // Too long: "not supported" (it never will be). Over a budget: "congestion", room may come.
    regack(0, tooLong(ctx, p.topicName) ? ReturnCode.NOT_SUPPORTED : ReturnCode.CONGESTION);
    return;
  }
  const id = s.topics.assign(p.topicName);
  if (id === undefined) {
    ctx.drop('queue_full', peer, `${s.clientId}: topic registry full`);
    regack(0, ReturnCode.CONGESTION);
    return;
  }
  if (known) return regack(id, ReturnCode.ACCEPTED);
  ctx.sessions.settle(s);
  // REGACK only once the registration is stored: the device will publish with this id after a restart.
  return ctx.persist(s).then(
    () => regack(id, ReturnCode.ACCEPTED),
    () => {
      s.topics.forget(id);
      ctx.sessions.settle(s);
      ctx.drop('store_error', peer, `${s.clientId} REGISTER ${p.topicName}`);
      regack(0, ReturnCode.CONGESTION);
    },
  );
}
