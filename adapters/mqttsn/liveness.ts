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
  ctx.log.info({ clientId: s.clientId, will: how === 'lost' && !!s.will?.topic }, `mqttsn client ${how}`);
  s.will = null;
  s.pendingWill = null;
  s.uplink.clear();
  if (s.cleanSession) {
    ctx.sessions.remove(s);
    ctx.subscriptionsChanged();
  } else {
    ctx.sessions.unbind(s);
    s.state = 'offline';
  }
}

/**
 * Called periodically: a device silent for 1.5 x its keep-alive (or sleep duration) is lost; a CONNECT
 * whose will exchange never finished is forgotten quietly.
 */
export function sweep(ctx: Ctx): void {
  const now = ctx.now();
  const connectTimeout = ctx.cfg.retry_interval * (ctx.cfg.retry_count + 1);
  for (const s of [...ctx.sessions.values()]) {
    if (s.state === 'will-topic' || s.state === 'will-msg') {
      if (now - s.connectStartedAt > connectTimeout) {
        ctx.drop('out-of-state', s.peer, `${s.clientId}: will exchange timed out`);
        s.state = 'offline';
        if (s.cleanSession) ctx.sessions.remove(s);
        else ctx.sessions.unbind(s);
      }
      continue;
    }
    const period = s.state === 'active' ? s.keepAliveMs : s.state === 'offline' ? 0 : s.sleepMs;
    if (period > 0 && now - s.lastSeen > 1.5 * period) endSession(ctx, s, 'lost');
  }
}
