import type { Ctx } from './context.js';
import { forgetQos2 } from './handlers/publish.js';
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
  ctx.log.info({ clientId: s.clientId, will: how === 'lost' && !!s.will?.topic }, `mqttsn client ${how}`);
  s.will = null;
  s.pendingWill = null;
  s.uplink.clear();
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
export function forgetSession(ctx: Ctx, s: Session, why: 'session-evicted' | 'session-expired'): void {
  ctx.sessions.remove(s);
  s.cleanSession = true;
  ctx.track(ctx.persist(s), why);
  const traffic = ctx.inbox.removeDeviceTraffic(ctx.name, s.clientId);
  if (traffic) ctx.track(traffic, why);
  forgetQos2(ctx, s.clientId);
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

/** The table is full: the session offline longest gives way. False when every session is live. */
export function evictOldestOffline(ctx: Ctx): boolean {
  for (const s of ctx.sessions.offline()) {
    forgetSession(ctx, s, 'session-evicted');
    return true;
  }
  return false;
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
        ctx.drop('out-of-state', s.peer, `${s.clientId}: will exchange timed out`);
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
  for (const s of expired) forgetSession(ctx, s, 'session-expired');
}
