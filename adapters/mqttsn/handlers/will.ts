import { type PacketOf, ReturnCode } from '../codec/index.js';
import type { Ctx } from '../context.js';
import type { Peer } from '../peer.js';
import type { Session } from '../session.js';
import { willCost } from '../state-budget.js';
import { refusedForSize, tooLong } from '../state-limits.js';
import { validTopicName } from '../topic-filter.js';
import { accept } from './connect.js';

const willQos = (q: number) => (q === 1 || q === 2 ? q : 0);

/** WILLTOPIC during CONNECT (answered with WILLMSGREQ, or CONNACK when empty = no will). */
export function onWillTopic(ctx: Ctx, peer: Peer, p: PacketOf<'willtopic'>, s: Session | undefined): void {
  if (s?.state === 'will-msg' && s.pendingWill) {
    ctx.send(peer, { type: 'willmsgreq' }); // retransmission
    return;
  }
  if (s?.state !== 'will-topic') {
    ctx.drop('out_of_state', peer, 'WILLTOPIC');
    return;
  }
  if (!p.flags) {
    s.will = null;
    accept(ctx, s);
    return;
  }
  if (!validTopicName(p.topic)) {
    ctx.drop('invalid_topic', peer, `will topic ${p.topic}`);
    refuseConnect(ctx, peer, s, ReturnCode.NOT_SUPPORTED);
    return;
  }
  if (refusedForSize(ctx, peer, s, p.topic, willCost({ topic: p.topic }))) {
    refuseConnect(ctx, peer, s, tooLong(ctx, p.topic) ? ReturnCode.NOT_SUPPORTED : ReturnCode.CONGESTION);
    return;
  }
  s.pendingWill = { topic: p.topic, qos: willQos(p.flags.qos), retain: p.flags.retain };
  s.state = 'will-msg';
  ctx.sessions.settle(s);
  ctx.send(peer, { type: 'willmsgreq' });
}

/** The will exchange failed: CONNACK with `rc`; a kept session stays kept (rows and table agree), offline. */
function refuseConnect(ctx: Ctx, peer: Peer, s: Session, rc: number): void {
  s.pendingWill = null;
  if (s.cleanSession) {
    s.state = 'offline';
    ctx.sessions.remove(s);
  } else {
    ctx.sessions.unbind(s);
    ctx.sessions.markOffline(s, ctx.now());
    ctx.sessions.settle(s);
    void ctx.persist(s);
  }
  ctx.send(peer, { type: 'connack', returnCode: rc });
}

/** WILLMSG ends the will exchange: CONNACK. */
export function onWillMsg(ctx: Ctx, peer: Peer, p: PacketOf<'willmsg'>, s: Session | undefined): void {
  if (s?.state === 'active' && s.will) {
    ctx.send(peer, { type: 'connack', returnCode: ReturnCode.ACCEPTED });
    return;
  }
  if (s?.state !== 'will-msg' || !s.pendingWill) {
    ctx.drop('out_of_state', peer, 'WILLMSG');
    return;
  }
  if (ctx.sessions.budget.over(s, p.msg.length, s.source)) {
    ctx.drop('state_budget', peer, `${s.clientId}: will message of ${p.msg.length} bytes`);
    refuseConnect(ctx, peer, s, ReturnCode.CONGESTION);
    return;
  }
  s.will = { ...s.pendingWill, msg: p.msg };
  accept(ctx, s);
}

/** WILLTOPICUPD: change (or with no flags, delete) the will of a connected device. */
export function onWillTopicUpd(
  ctx: Ctx,
  peer: Peer,
  p: PacketOf<'willtopicupd'>,
  s: Session | undefined,
): Promise<void> | void {
  if (!s?.online) {
    ctx.drop('out_of_state', peer, 'WILLTOPICUPD');
    return;
  }
  if (!p.flags) s.will = null;
  else if (!validTopicName(p.topic)) {
    ctx.send(peer, { type: 'willtopicresp', returnCode: ReturnCode.NOT_SUPPORTED });
    return;
  } else {
    const extra = willCost({ topic: p.topic, msg: s.will?.msg }) - willCost(s.will);
    if (refusedForSize(ctx, peer, s, p.topic, extra)) {
      const rc = tooLong(ctx, p.topic) ? ReturnCode.NOT_SUPPORTED : ReturnCode.CONGESTION;
      ctx.send(peer, { type: 'willtopicresp', returnCode: rc });
      return;
    }
    s.will = {
      msg: s.will?.msg ?? Buffer.alloc(0),
      topic: p.topic,
      qos: willQos(p.flags.qos),
      retain: p.flags.retain,
    };
  }
  return respondWhenStored(ctx, peer, s, 'willtopicresp');
}

/** WILL*RESP once a clean-session=false device's will is stored (it must survive a gateway restart). */
function respondWhenStored(
  ctx: Ctx,
  peer: Peer,
  s: Session,
  type: 'willtopicresp' | 'willmsgresp',
): Promise<void> {
  ctx.sessions.settle(s);
  return ctx.persist(s).then(
    () => ctx.send(peer, { type, returnCode: ReturnCode.ACCEPTED }),
    () => {
      ctx.drop('store_error', peer, `${s.clientId} ${type}`);
      ctx.send(peer, { type, returnCode: ReturnCode.CONGESTION });
    },
  );
}

/** WILLMSGUPD: change the will payload (kept even before a will topic exists). */
export function onWillMsgUpd(
  ctx: Ctx,
  peer: Peer,
  p: PacketOf<'willmsgupd'>,
  s: Session | undefined,
): Promise<void> | void {
  if (!s?.online) {
    ctx.drop('out_of_state', peer, 'WILLMSGUPD');
    return;
  }
  const extra = p.msg.length - (s.will?.msg.length ?? 0) + (s.will ? 0 : willCost({ topic: '' }));
  if (extra > 0 && ctx.sessions.budget.over(s, extra, s.source)) {
    ctx.drop('state_budget', peer, `${s.clientId}: will message of ${p.msg.length} bytes`);
    ctx.send(peer, { type: 'willmsgresp', returnCode: ReturnCode.CONGESTION });
    return;
  }
  s.will = s.will ? { ...s.will, msg: p.msg } : { topic: '', qos: 0, retain: false, msg: p.msg };
  return respondWhenStored(ctx, peer, s, 'willmsgresp');
}
