import type { Ctx } from './context.js';
import type { Session } from './session.js';

/** The session is over: emit its will if it had one, keep it only for a clean-session=false device. */
export function endSession(ctx: Ctx, s: Session, how: 'lost' | 'disconnect'): void {
  s.abort();
  if (how === 'lost' && s.will?.topic) {
    const w = s.will;
    ctx.emit({
      source: ctx.name,
      device: s.clientId,
      topic: ctx.cfg.topic_prefix + w.topic,
      payload: w.msg,
      qos: w.qos,
      retain: w.retain,
      receivedAt: ctx.now(),
    });
  }
  ctx.stats.state(s.clientId, how);
  ctx.lifecycle(
    how,
    { clientId: s.clientId, will: how === 'lost' && !!s.will?.topic },
    `mqttsn client ${how}`,
  );
  s.will = null;
  s.pendingWill = null;
  s.uplink.clear();
  ctx.sessions.settle(s);
  if (s.cleanSession) {
    ctx.sessions.remove(s);
    ctx.subscriptionsChanged();
  } else {
    ctx.sessions.unbind(s);
    ctx.sessions.markOffline(s, ctx.now());
    void ctx.persist(s); // offline since now, will gone (errors are logged by persist)
  }
}

/** Log lines about evicted/expired sessions: at most one per interval, with the count since. */
const FORGET_LOG_MS = 10_000;
const forgetLog = new WeakMap<Ctx, { at: number; count: number }>();

/**
 * Deletes an offline clean-session=false session for good: its rows, its queued subscription traffic
 * (commands stay until their own expiry) and its QoS 2 ids. Counted; logged rate-limited.
 */
export function forgetSession(ctx: Ctx, s: Session, why: 'session_evicted' | 'session_expired'): void {
  ctx.sessions.remove(s);
  s.cleanSession = true;
  ctx.track(ctx.persist(s), why);
  const traffic = ctx.inbox.removeDeviceTraffic(ctx.name, s.clientId);
  if (traffic) ctx.track(traffic, why);
  ctx.qos2.forgetClient(s.clientId);
  if (s.subs.size > 0) ctx.subscriptionsChanged();
  ctx.drop(why, null, s.clientId);
  const now = ctx.now();
  const l = forgetLog.get(ctx) ?? { at: Number.NEGATIVE_INFINITY, count: 0 };
  forgetLog.set(ctx, l);
  l.count++;
  if (now - l.at >= FORGET_LOG_MS) {
    ctx.log.warn(
      { clientId: s.clientId, reason: why, count: l.count },
      'mqttsn offline sessions deleted (count since the previous line)',
    );
    l.at = now;
    l.count = 0;
  }
}

/**
 * Configured devices (pinned, named in `clients`, `client_topics` or `allow`) are never evicted to
 * make room: an unknown id must not push out a device the operator listed.
 */
export function isProtected(ctx: Ctx, clientId: string): boolean {
  const c = ctx.cfg;
  return (
    ctx.pins.isPinned(clientId) ||
    Object.hasOwn(c.clients, clientId) ||
    Object.hasOwn(c.client_topics, clientId) ||
    c.allow.includes(clientId)
  );
}

/** The table is full: the unprotected session offline longest gives way. False when there is none. */
export function evictOldestOffline(ctx: Ctx): boolean {
  for (const s of ctx.sessions.offline()) {
    if (isProtected(ctx, s.clientId)) continue;
    forgetSession(ctx, s, 'session_evicted');
    return true;
  }
  return false;
}

/** How long a session must be silent to count as idle: a sleeper is not idle inside its sleep. */
const idleAfter = (s: Session, after: number) => (s.state === 'asleep' ? Math.max(after, s.sleepMs) : after);

/** Live sessions silent at least evict_idle_after, the longest silent last; rebuilt at most once a second. */
const idleCandidates = new WeakMap<Ctx, { builtAt: number; queue: Session[] }>();

/**
 * The table is full of live sessions: the one silent longest (at least evict_idle_after) gives way.
 * The scan is O(sessions) but runs at most once a second, so a CONNECT flood at a full table cannot
 * turn it into O(sessions) per datagram.
 */
function evictIdleLive(ctx: Ctx): boolean {
  const after = ctx.cfg.evict_idle_after;
  if (after <= 0) return false;
  const now = ctx.now();
  let c = idleCandidates.get(ctx);
  if (!c || (c.queue.length === 0 && now - c.builtAt >= 1000)) {
    const queue = [...ctx.sessions.values()]
      .filter(
        (s) =>
          s.state !== 'offline' && now - s.lastSeen >= idleAfter(s, after) && !isProtected(ctx, s.clientId),
      )
      .sort((a, b) => b.lastSeen - a.lastSeen);
    c = { builtAt: now, queue };
    idleCandidates.set(ctx, c);
  }
  for (let s = c.queue.pop(); s; s = c.queue.pop()) {
    // Heard from since the scan, or already gone: not a candidate any more.
    if (ctx.sessions.get(s.clientId) !== s || s.state === 'offline' || now - s.lastSeen < idleAfter(s, after))
      continue;
    ctx.drop('session_evicted', s.peer, `${s.clientId}: silent ${Math.round((now - s.lastSeen) / 1000)} s`);
    if (s.peer) ctx.send(s.peer, { type: 'disconnect' });
    endSession(ctx, s, 'disconnect'); // no will: the device is not known to be gone
    return true;
  }
  return false;
}

/** Room for one more session: an offline one goes first, else a live one silent long enough. */
export function makeRoom(ctx: Ctx): boolean {
  if (evictOldestOffline(ctx)) return true;
  if (!evictIdleLive(ctx)) return false;
  // A clean-session=false device stays as an offline session: that one gives way now.
  return ctx.sessions.size < ctx.cfg.max_clients || evictOldestOffline(ctx);
}

/**
 * Called periodically: a device silent for 1.5 x its keep-alive (or sleep duration) is lost; a CONNECT
 * whose will exchange never finished is forgotten quietly; offline sessions past session_expiry go.
 */
export function sweep(ctx: Ctx): void {
  const now = ctx.now();
  const connectTimeout = ctx.cfg.retry_interval * (ctx.cfg.retry_count + 1);
  for (const s of [...ctx.sessions.values()]) {
    if (s.state === 'will-topic' || s.state === 'will-msg') {
      if (now - s.connectStartedAt > connectTimeout) {
        ctx.drop('out_of_state', s.peer, `${s.clientId}: will exchange timed out`);
        if (s.cleanSession) {
          s.state = 'offline';
          ctx.sessions.remove(s);
        } else {
          ctx.sessions.unbind(s);
          ctx.sessions.markOffline(s, now);
          void ctx.persist(s);
        }
      }
      continue;
    }
    const period = s.state === 'active' ? s.keepAliveMs : s.state === 'offline' ? 0 : s.sleepMs;
    if (period > 0 && now - s.lastSeen > 1.5 * period) endSession(ctx, s, 'lost');
  }
  // Oldest first: stop at the first one still young (no copy of the whole offline list per sweep).
  const cutoff = now - ctx.cfg.session_expiry;
  const expired: Session[] = [];
  for (const s of ctx.sessions.offline()) {
    if (s.offlineSince >= cutoff) break;
    expired.push(s);
  }
  for (const s of expired) forgetSession(ctx, s, 'session_expired');
}
