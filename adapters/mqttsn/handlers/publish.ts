import { isValidTopicName } from '../../../contracts/topic.js';
import type { QoS, Reading, StoreOutcome } from '../../types.js';
import { type PacketOf, ReturnCode, shortIdToName, TopicIdType } from '../codec/index.js';
import type { Ctx } from '../context.js';
import { answerAsleep, answerNoSession } from '../out-of-state.js';
import { allowed, type Peer } from '../peer.js';
import { QOS2_RECEIVED, qos2Key } from '../qos2-ids.js';
import { type Session, UPLINK_RECEIVED, UPLINK_SETTLING } from '../session.js';

/**
 * Topic name for a PUBLISH's topic id, by its id type; undefined when unknown or not a valid topic
 * name (a short id is any two bytes: `#a`, `\x01a`; the broker would refuse them and drop the uplink).
 */
export function resolveTopic(ctx: Ctx, s: Session | undefined, type: number, id: number): string | undefined {
  const name =
    type === TopicIdType.SHORT
      ? shortIdToName(id)
      : type === TopicIdType.PREDEFINED
        ? ctx.predefined.nameOf(s?.clientId, id)
        : type === TopicIdType.NORMAL
          ? s?.topics.nameOf(id)
          : undefined;
  return name !== undefined && isValidTopicName(name) ? name : undefined;
}

/**
 * QoS -1: no connection, predefined or short topic only, only when enabled and from a source the
 * allow-list admits. A connected device sending QoS -1 flags passes the same gate (it used to bypass it).
 */
function onQosMinusOne(ctx: Ctx, peer: Peer, p: PacketOf<'publish'>, s: Session | undefined): void {
  if (!ctx.cfg.qos_minus_one.enabled || !allowed(ctx.cfg.qos_minus_one.allow, peer)) {
    ctx.drop('not_allowed', peer, 'QoS -1 PUBLISH');
    return;
  }
  const type = p.flags.topicIdType;
  const topic = type === TopicIdType.NORMAL ? undefined : resolveTopic(ctx, s, type, p.topicId);
  if (topic === undefined) {
    ctx.drop('invalid_topic', peer, `QoS -1 topic id ${p.topicId} type ${type}`);
    return;
  }
  // Without a client id the device is known by its address (and forwarder node id); ports are ephemeral.
  const device =
    s?.clientId ?? (peer.forward ? `${peer.address}#${peer.forward.nodeId.toString('hex')}` : peer.address);
  if (!ctx.acl.mayPublish(device, topic, s === undefined)) {
    ctx.drop('acl_denied', peer, `${device}: QoS -1 PUBLISH ${topic}`);
    return;
  }
  emitReading(ctx, device, topic, p, 0);
}

/** Was this QoS 2 message stored before the gateway restarted (and not yet released)? */
function storedBeforeRestart(ctx: Ctx, s: Session, msgId: number): boolean {
  return ctx.qos2.has(s.clientId, msgId);
}

function emitReading(ctx: Ctx, device: string, topic: string, p: PacketOf<'publish'>, qos: QoS): void {
  ctx.stats.counters.readings++;
  // One shape for every reading without an ack (settle and remember present, undefined).
  const reading: Reading = {
    source: ctx.name,
    device,
    topic: ctx.cfg.topic_prefix + topic,
    payload: p.data,
    qos,
    retain: p.flags.retain,
    receivedAt: ctx.now(),
    settle: undefined,
    remember: undefined,
  };
  ctx.emit(reading);
}

/**
 * A QoS 1/2 reading that settles itself: one object per PUBLISH where a Reading, a settle closure and
 * the closure's context were three, and it keeps the ids the ack needs rather than the whole packet
 * (it lives until the commit's fsync, the packet need not). settle is a method: the gateway calls it
 * as reading.settle(outcome). The adapter's own state is in private fields, invisible to consumers.
 */
class AckedReading implements Reading {
  readonly source: string;
  readonly topic: string;
  readonly payload: Buffer;
  readonly retain: boolean;
  readonly receivedAt: number;
  readonly #ctx: Ctx;
  readonly #session: Session;
  readonly #topicId: number;
  readonly #msgId: number;
  #settled = false;

  constructor(
    ctx: Ctx,
    s: Session,
    readonly device: string,
    topic: string,
    p: PacketOf<'publish'>,
    readonly qos: 1 | 2,
    readonly remember: { namespace: string; key: string; value: { at: number } } | undefined,
  ) {
    this.source = ctx.name;
    this.topic = ctx.cfg.topic_prefix + topic;
    this.payload = p.data;
    this.retain = p.flags.retain;
    this.receivedAt = ctx.now();
    this.#ctx = ctx;
    this.#session = s;
    this.#topicId = p.topicId;
    this.#msgId = p.msgId;
  }

  settle(outcome: StoreOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    const ctx = this.#ctx;
    const s = this.#session;
    if (this.remember && outcome === 'stored')
      ctx.qos2.added(s.clientId, this.#msgId, this.remember.value.at);
    onSettled(ctx, s, this.#topicId, this.#msgId, this.qos, outcome);
  }
}

function puback(ctx: Ctx, peer: Peer, p: PacketOf<'publish'>, returnCode: number): void {
  pubackIds(ctx, peer, p.topicId, p.msgId, returnCode);
}

function pubackIds(ctx: Ctx, peer: Peer, topicId: number, msgId: number, returnCode: number): void {
  ctx.send(peer, { type: 'puback', topicId, msgId, returnCode });
}

/** PUBLISH from a device: a Reading now; the PUBACK/PUBREC only once the gateway settles it. */
export function onPublish(ctx: Ctx, peer: Peer, p: PacketOf<'publish'>, s: Session | undefined): void {
  if (p.flags.qos === -1) {
    onQosMinusOne(ctx, peer, p, s);
    return;
  }
  if (!s || s.state === 'offline') {
    answerNoSession(ctx, peer, 'PUBLISH');
    return;
  }
  // A sleeper may publish QoS 0 as it is (the spec's and Paho's reading); QoS 1/2 wants an ack.
  if (s.state === 'asleep' && p.flags.qos !== 0) {
    answerAsleep(ctx, peer, s, `QoS ${p.flags.qos} PUBLISH`);
    return;
  }
  if (s.state === 'will-topic' || s.state === 'will-msg') {
    ctx.drop('out_of_state', peer, `${s.clientId}: PUBLISH during CONNECT`, s.clientId);
    return;
  }
  const topic = resolveTopic(ctx, s, p.flags.topicIdType, p.topicId);
  if (topic === undefined) {
    ctx.drop('invalid_topic', peer, `${s.clientId}: topic id ${p.topicId} type ${p.flags.topicIdType}`);
    puback(ctx, peer, p, ReturnCode.INVALID_TOPIC_ID);
    return;
  }
  const qos = p.flags.qos;
  if (!ctx.acl.mayPublish(s.clientId, topic)) {
    // rc 3 "not supported", not 2: "invalid topic id" makes a device REGISTER again and retry forever.
    ctx.drop('acl_denied', peer, `${s.clientId}: PUBLISH ${topic}`);
    if (qos > 0) puback(ctx, peer, p, ReturnCode.NOT_SUPPORTED);
    return;
  }
  if (qos === 0) {
    emitReading(ctx, s.clientId, topic, p, 0);
    return;
  }

  if (qos === 2 && !s.uplink.has(p.msgId) && !s.cleanSession && storedBeforeRestart(ctx, s, p.msgId)) {
    s.uplink.set(p.msgId, UPLINK_RECEIVED);
  }
  const prev = s.uplink.get(p.msgId);
  if (prev) {
    if (prev.state === 'settling') {
      ctx.drop('duplicate', peer, `${s.clientId} msgId ${p.msgId} in flight`);
      return;
    }
    if (prev.state === 'received' || p.flags.dup) {
      // The device missed our ack: repeat it, do not emit again.
      ctx.drop('duplicate', peer, `${s.clientId} msgId ${p.msgId} already stored`);
      if (prev.state === 'received') ctx.send(peer, { type: 'pubrec', msgId: p.msgId });
      else puback(ctx, peer, p, ReturnCode.ACCEPTED);
      return;
    }
    s.uplink.delete(p.msgId); // a new message reusing an acked id
  }
  if (s.inflightUp() >= ctx.cfg.max_inflight_per_client) {
    ctx.drop('inflight_limit', peer, s.clientId);
    puback(ctx, peer, p, ReturnCode.CONGESTION);
    return;
  }
  s.uplink.set(p.msgId, UPLINK_SETTLING);
  const remember =
    qos === 2 && !s.cleanSession
      ? { namespace: QOS2_RECEIVED, key: qos2Key(s.clientId, p.msgId), value: { at: ctx.now() } }
      : undefined;
  ctx.stats.counters.readings++;
  ctx.emit(new AckedReading(ctx, s, s.clientId, topic, p, qos, remember));
}

function onSettled(
  ctx: Ctx,
  s: Session,
  topicId: number,
  msgId: number,
  qos: 1 | 2,
  outcome: StoreOutcome,
): void {
  if (s.uplink.get(msgId)?.state !== 'settling') return; // session ended meanwhile
  const peer = s.peer;
  if (outcome === 'error' || !peer) {
    s.uplink.delete(msgId); // no ack: the device retransmits and we emit again
    return;
  }
  if (outcome === 'congestion' || outcome === 'refused') {
    // Refused (invalid topic after rules, or the gateway's own topic): "not supported", so the
    // device gives up instead of resending what would be refused again. Also for QoS 2 (spec 6.8).
    s.uplink.delete(msgId);
    const returnCode = outcome === 'congestion' ? ReturnCode.CONGESTION : ReturnCode.NOT_SUPPORTED;
    pubackIds(ctx, peer, topicId, msgId, returnCode);
    return;
  }
  if (qos === 2) {
    s.uplink.set(msgId, UPLINK_RECEIVED);
    ctx.send(peer, { type: 'pubrec', msgId });
    return;
  }
  s.markAcked(msgId);
  pubackIds(ctx, peer, topicId, msgId, ReturnCode.ACCEPTED);
}

/** PUBREL for an uplink QoS 2 message: PUBCOMP (also for an unknown id: our PUBCOMP was lost). */
export function onPubrel(ctx: Ctx, peer: Peer, p: PacketOf<'pubrel'>, s: Session | undefined): void {
  if (!s?.online) {
    ctx.drop('out_of_state', peer, 'PUBREL');
    return;
  }
  const u = s.uplink.get(p.msgId);
  if (u?.state === 'settling') {
    ctx.drop('out_of_state', peer, `${s.clientId} PUBREL before PUBREC`);
    return;
  }
  if (u) s.uplink.delete(p.msgId);
  if (s.cleanSession) {
    ctx.send(peer, { type: 'pubcomp', msgId: p.msgId });
    return;
  }
  // PUBCOMP only once the id is forgotten durably: a stale id would swallow a later message reusing it.
  const forget = ctx.qos2.forget(s.clientId, p.msgId);
  ctx.track(
    forget.then(() => ctx.send(peer, { type: 'pubcomp', msgId: p.msgId })),
    'release QoS 2 message',
  );
}
