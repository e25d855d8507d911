import type { QoS } from '../types.js';
import type { Ctx } from './context.js';
import { Session } from './session.js';

/** KvState namespace: one entry per clean-session=false client. */
export const SESSION_NS = 'mqttsn.sessions';

export interface StoredSession {
  subs: [string, QoS][];
  topics: [number, string][];
}

export function snapshot(s: Session): StoredSession {
  return { subs: [...s.subs].map(([f, sub]) => [f, sub.qos]), topics: s.topics.entries() };
}

/** Sessions saved by a previous run, as offline sessions (they still receive into the inbox). */
export function restoreSessions(ctx: Ctx): Session[] {
  const out: Session[] = [];
  for (const { key, value } of ctx.kv.list<StoredSession>(SESSION_NS)) {
    if (!value || !Array.isArray(value.subs) || !Array.isArray(value.topics)) continue;
    const s = new Session(key, ctx.cfg.max_topics_per_client);
    s.cleanSession = false;
    s.state = 'offline';
    for (const [f, qos] of value.subs)
      if (typeof f === 'string' && [0, 1, 2].includes(qos)) s.subs.set(f, { qos });
    s.topics.restore(value.topics);
    out.push(s);
  }
  return out;
}
