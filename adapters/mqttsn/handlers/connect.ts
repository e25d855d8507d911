import { warnIfMoved } from '../client-moved.js';
import type { PacketOf } from '../codec/index.js';
import { ReturnCode } from '../codec/index.js';
import type { Ctx } from '../context.js';
import { endSession, evictOldestOffline, makeRoom } from '../liveness.js';
import { allowed, type Peer } from '../peer.js';
import { topicSafeClientId } from '../pinning.js';
import { Session } from '../session.js';
import { drainInbox } from '../sleep.js';
import { SESSION_BYTES, sourceOf } from '../state-budget.js';
import type { DropReason } from '../stats.js';

const MAX_CLIENT_ID_BYTES = 23; // spec 5.3.1; longer ids are refused rather than truncated

/** CONNECT: start the will exchange or accept at once. A clean session drops what was kept for this id. */
export function onConnect(ctx: Ctx, peer: Peer, p: PacketOf<'connect'>, atPeer: Session | undefined): void {
  const id = p.clientId;
  const refuse = (
    rc: number,
    reason: Extract<
      DropReason,
      | 'rejected'
      | 'not_allowed'
      | 'max_clients'
      | 'unsafe_client_id'
      | 'address_pinned'
      | 'reserved_client_id'
      | 'state_budget'
    >,
  ) => {
    ctx.drop(reason, peer, `CONNECT ${id}`);
    ctx.send(peer, { type: 'connack', returnCode: rc });
  };
  const idBytes = Buffer.byteLength(id);
  if (p.protocolId !== 0x01 || idBytes === 0 || idBytes > MAX_CLIENT_ID_BYTES) {
    refuse(ReturnCode.NOT_SUPPORTED, 'rejected');
    return;
  }
  if (!topicSafeClientId(id)) {
    refuse(ReturnCode.NOT_SUPPORTED, 'unsafe_client_id');
    return;
  }
  if (!allowed(ctx.cfg.allow, peer, id)) {
    refuse(ReturnCode.NOT_SUPPORTED, 'not_allowed');
    return;
  }
  if (!ctx.pins.admits(id, peer)) {
    refuse(ReturnCode.NOT_SUPPORTED, 'address_pinned');
    return;
  }
  // The gateway's id and other adapters' device names: their availability and command topics.
  if (ctx.reserved().clientIds.has(id)) {
    refuse(ReturnCode.NOT_SUPPORTED, 'reserved_client_id');
    return;
  }
  warnIfMoved(ctx, id, peer, 'CONNECT');
  // Clean session: forget the QoS 2 ids an earlier clean-session=false connection left, also when the
  // session itself is long gone.
  if (p.flags.cleanSession) ctx.qos2.forgetClient(id);

  // Another client id on this address: that device is gone (its address was reused).
  if (atPeer && atPeer.clientId !== id && atPeer.state !== 'offline') endSession(ctx, atPeer, 'disconnect');

  let s = ctx.sessions.get(id);
  // max_clients bounds the table. Offline clean-session=false sessions hold no device: the one offline
  // longest gives way (counted, logged); then a live one silent for evict_idle_after.
  if (!s && ctx.sessions.size >= ctx.cfg.max_clients && !makeRoom(ctx)) {
    refuse(ReturnCode.CONGESTION, 'max_clients');
    return;
  }
  if (!s && !roomForSession(ctx, peer)) {
    refuse(ReturnCode.CONGESTION, 'state_budget');
    return;
  }
  if (s && p.flags.cleanSession) {
    s.abort();
    s.cleanSession = true;
    void ctx.persist(s); // deletes what an earlier clean-session=false connection kept
    ctx.qos2.forgetClient(id);
    ctx.sessions.remove(s);
    s = undefined;
  }
  if (!s) {
    s = new Session(id, ctx.cfg.max_topics_per_client);
    ctx.sessions.add(s);
  }
  ctx.sessions.markLive(s);
  s.cleanSession = p.flags.cleanSession;
  s.keepAliveMs = p.duration * 1000;
  s.sleepMs = 0;
  s.lastSeen = ctx.now();
  ctx.sessions.bind(s, peer);
  if (p.flags.will) {
    s.state = 'will-topic';
    s.connectStartedAt = ctx.now();
    s.pendingWill = null;
    ctx.send(peer, { type: 'willtopicreq' });
    return;
  }
  s.will = null;
  accept(ctx, s);
}

/** CONNACK, then whatever waited in the inbox while the device was away. */
export function accept(ctx: Ctx, s: Session): void {
  s.state = 'active';
  s.pendingWill = null;
  ctx.sessions.settle(s);
  // Session state and will (clean-session=false), or delete what an earlier connection kept.
  void ctx.persist(s);
  if (s.peer) ctx.send(s.peer, { type: 'connack', returnCode: ReturnCode.ACCEPTED });
  ctx.stats.state(s.clientId, 'connect');
  ctx.lifecycle(
    'connect',
    { clientId: s.clientId, cleanSession: s.cleanSession, keepAlive: s.keepAliveMs / 1000, will: !!s.will },
    'mqttsn client connected',
  );
  ctx.subscriptionsChanged();
  if (ctx.inbox.pending(ctx.name, s.clientId, 1).length > 0) ctx.track(drainInbox(ctx, s), 'inbox drain');
}

/** Evictions one CONNECT may cause to fit the total state budget (the rest wait for expiry). */
const MAX_EVICTIONS = 8;

/**
 * A new session fits this source's and the total state budget. Offline sessions give way to the total
 * (not to a source's own budget: an address that fills its share is refused, not served).
 */
function roomForSession(ctx: Ctx, peer: Peer): boolean {
  const source = sourceOf(peer);
  for (let i = 0; ; i++) {
    const over = ctx.sessions.budget.over(undefined, SESSION_BYTES, source);
    if (!over) return true;
    if (over !== 'total' || i >= MAX_EVICTIONS || !evictOldestOffline(ctx)) return false;
  }
}
