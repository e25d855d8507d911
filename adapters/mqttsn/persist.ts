import type { DeviceSessionFootprint, DeviceSessionPatch, DeviceSessionRow } from '../../contracts/store.js';
import type { QoS } from '../types.js';
import type { Ctx } from './context.js';
import { isProtected } from './liveness.js';
import type { Peer } from './peer.js';
import { plainAddress } from './pinning.js';
import { Session, type Will } from './session.js';
import { ENTRY_BYTES, SESSION_BYTES, StateBudget, subCost } from './state-budget.js';

/** Peer as stored: JSON, the forwarder node id in hex. */
function peerToJson(p: Peer | null): Record<string, unknown> | null {
  if (!p) return null;
  const out: Record<string, unknown> = { address: p.address, port: p.port };
  if (p.forward) out.forward = { radius: p.forward.radius, nodeId: p.forward.nodeId.toString('hex') };
  return out;
}

function peerFromJson(j: Record<string, unknown> | null): Peer | null {
  if (!j || typeof j.address !== 'string' || typeof j.port !== 'number') return null;
  if (!Number.isInteger(j.port) || j.port < 1 || j.port > 0xffff) return null;
  const peer: Peer = { address: j.address, port: j.port };
  const f = j.forward as { radius?: unknown; nodeId?: unknown } | undefined;
  if (f && typeof f.radius === 'number' && typeof f.nodeId === 'string')
    peer.forward = { radius: f.radius, nodeId: Buffer.from(f.nodeId, 'hex') };
  return peer;
}

const sameWill = (a: Will | null, b: Will | null) =>
  a === b ||
  (!!a && !!b && a.topic === b.topic && a.qos === b.qos && a.retain === b.retain && a.msg.equals(b.msg));

/**
 * Writes what changed in a clean-session=false session since the last write (one row per new
 * registration or subscription), or deletes what a clean session must not keep. Resolves once
 * committed. The `stored` mirror is updated at once, so writes queued later diff against it; a
 * failed write makes the next one rewrite the whole session.
 */
export function persistSession(ctx: Ctx, s: Session): Promise<void> {
  const st = s.stored;
  if (s.cleanSession) {
    if (!s.persisted) return Promise.resolve();
    s.persisted = false;
    st.meta = '';
    st.topics.clear();
    st.subs.clear();
    st.will = null;
    return ctx.devices.remove(ctx.name, s.clientId);
  }
  const patch: DeviceSessionPatch = {};
  const full = !s.persisted;
  const live = s.state !== 'offline';
  const meta = {
    lastSeen: live ? ctx.now() : s.offlineSince,
    live,
    keepAliveMs: s.keepAliveMs,
    sleepMs: s.sleepMs,
    // Offline: only the host it was last seen at, so its state still counts against that source at restore.
    peer: live ? peerToJson(s.peer) : s.source ? { address: s.source } : null,
  };
  const sig = JSON.stringify({ ...meta, lastSeen: live ? 0 : meta.lastSeen });
  if (full || sig !== st.meta) patch.meta = meta;
  st.meta = sig;
  if (full || !sameWill(s.will, st.will)) patch.will = s.will?.topic ? s.will : null;
  st.will = s.will;
  if (full) {
    patch.replaceAll = true;
    st.topics.clear();
    st.subs.clear();
  }
  const topics = new Map(s.topics.entries());
  const deleteTopics = [...st.topics.keys()].filter((id) => !topics.has(id));
  const putTopics = [...topics].filter(([id, name]) => st.topics.get(id) !== name);
  const deleteSubs = [...st.subs.keys()].filter((f) => !s.subs.has(f));
  const putSubs = [...s.subs]
    .filter(([f, sub]) => st.subs.get(f) !== sub.qos)
    .map(([f, sub]): [string, QoS] => [f, sub.qos]);
  if (deleteTopics.length > 0) patch.deleteTopics = deleteTopics;
  if (putTopics.length > 0) patch.putTopics = putTopics;
  if (deleteSubs.length > 0) patch.deleteSubs = deleteSubs;
  if (putSubs.length > 0) patch.putSubs = putSubs;
  st.topics.clear();
  for (const [id, name] of topics) st.topics.set(id, name);
  st.subs.clear();
  for (const [f, sub] of s.subs) st.subs.set(f, sub.qos);
  s.persisted = true;
  if (Object.keys(patch).length === 0) return Promise.resolve();
  return ctx.devices.update(ctx.name, s.clientId, patch).catch((err: unknown) => {
    s.persisted = false; // rewrite it whole next time
    throw err;
  });
}

function toSession(ctx: Ctx, row: DeviceSessionRow): Session {
  const s = new Session(row.clientId, ctx.cfg.max_topics_per_client);
  s.cleanSession = false;
  s.persisted = true;
  s.keepAliveMs = row.keepAliveMs;
  s.sleepMs = row.sleepMs;
  s.topics.restore(row.topics);
  for (const [f, qos] of row.subs)
    if ([0, 1, 2].includes(qos) && !s.subs.has(f)) {
      s.subs.set(f, { qos: qos as QoS });
      s.subBytes += subCost(f);
    }
  s.will = row.will;
  s.source = typeof row.peer?.address === 'string' ? plainAddress(row.peer.address) : undefined;
  const st = s.stored;
  for (const [id, name] of s.topics.entries()) st.topics.set(id, name);
  for (const [f, sub] of s.subs) st.subs.set(f, sub.qos);
  st.will = s.will;
  const peer = row.live ? peerFromJson(row.peer) : null;
  if (row.live && (row.keepAliveMs > 0 || row.sleepMs > 0)) {
    // Connected or asleep when the gateway stopped: it gets its keep-alive (or sleep) period from now
    // to show up, else it is lost and its will goes out, as if the gateway had never stopped.
    s.state = row.sleepMs > 0 ? 'asleep' : 'active';
    s.lastSeen = ctx.now();
    s.peer = peer;
  } else {
    s.state = 'offline';
    s.offlineSince = row.live ? ctx.now() : row.lastSeen;
  }
  return s;
}

/**
 * Sessions saved by a previous run, oldest first. Offline ones past mqttsn.session_expiry are deleted
 * (counted) instead of restored, and so is a session whose restore would exceed a state budget
 * (max_state_bytes*): what a device stored can never make the gateway run out of memory at start, so a
 * restart always comes up. Configured devices are admitted first, then the most recently seen.
 */
export function restoreSessions(ctx: Ctx): Session[] {
  const cutoff = ctx.now() - ctx.cfg.session_expiry;
  const dropped: {
    clientId: string;
    why: 'session_expired' | 'session_over_budget' | 'reserved_client_id';
    detail: string;
  }[] = [];
  const reserved = ctx.reserved().clientIds;
  const choose = (all: DeviceSessionFootprint[]): ReadonlySet<string> => {
    const budget = new StateBudget(ctx.cfg);
    const chosen = new Set<string>();
    const order = all
      .filter((f) => {
        // Stored before its id was reserved (a serial device or the gateway took that name): not restored.
        if (reserved.has(f.clientId))
          dropped.push({
            clientId: f.clientId,
            why: 'reserved_client_id',
            detail: `stored session ${f.clientId}`,
          });
        else if (f.live || f.lastSeen >= cutoff) return true;
        else dropped.push({ clientId: f.clientId, why: 'session_expired', detail: f.clientId });
        return false;
      })
      .sort(
        (a, b) =>
          Number(isProtected(ctx, b.clientId)) - Number(isProtected(ctx, a.clientId)) ||
          b.lastSeen - a.lastSeen,
      );
    for (const f of order) {
      const cost = footprintCost(f);
      const source = typeof f.peer?.address === 'string' ? plainAddress(f.peer.address) : undefined;
      const over = budget.over(undefined, cost, source);
      if (over) {
        dropped.push({
          clientId: f.clientId,
          why: 'session_over_budget',
          detail: `${f.clientId}: ${cost} bytes, ${over} budget`,
        });
        continue;
      }
      budget.settle({ clientId: f.clientId, stateBytes: () => cost }, source);
      chosen.add(f.clientId);
    }
    return chosen;
  };
  const out = ctx.devices.list(ctx.name, choose).map((row) => toSession(ctx, row));
  for (const d of dropped) {
    ctx.drop(d.why, null, d.detail);
    ctx.track(ctx.devices.remove(ctx.name, d.clientId), d.why);
  }
  const over = dropped.filter((d) => d.why === 'session_over_budget').length;
  if (over > 0)
    ctx.log.warn(
      { dropped: over, restored: out.length },
      'mqttsn stored sessions over the state budget dropped at start (fieldgate sessions list shows what is stored)',
    );
  return out;
}

/** What a stored session will cost once restored (state-budget.ts, from its measured rows). */
function footprintCost(f: DeviceSessionFootprint): number {
  return (
    SESSION_BYTES +
    f.topics * ENTRY_BYTES +
    f.topicBytes +
    f.subs * ENTRY_BYTES +
    2 * f.subBytes +
    (f.willBytes === null ? 0 : ENTRY_BYTES + f.willBytes)
  );
}
