import type { Ctx } from './context.js';
import { queueDownlink } from './device-exchange.js';
import type { Peer } from './peer.js';
import type { Session } from './session.js';

/** DISCONNECT(duration): the device sleeps; from now on its messages wait in the durable inbox. */
export function sleep(ctx: Ctx, s: Session, durationS: number): void {
  s.abort(); // running downlinks fail now and are re-queued to the inbox
  s.state = 'asleep';
  s.sleepMs = durationS * 1000;
  s.lastSeen = ctx.now();
  void ctx.persist(s); // asleep: restored as a sleeper after a restart
  ctx.stats.state(s.clientId, 'sleep');
  ctx.lifecycle('sleep', { clientId: s.clientId, duration: durationS }, 'mqttsn client asleep');
}

/**
 * Delivers every waiting inbox row (REGISTER first where the topic is new), removing each once acked.
 * Rows added while draining are picked up too; stops at the first row the device does not answer.
 */
export async function drainInbox(ctx: Ctx, s: Session): Promise<void> {
  if (s.draining) return;
  s.draining = true;
  const done = new Set<number>(); // a store that fails to remove must not make us replay forever
  try {
    for (;;) {
      const rows = ctx.inbox.pending(ctx.name, s.clientId, 50);
      if (rows.length === 0) return;
      for (const row of rows) {
        if (!s.online || done.has(row.id)) return;
        done.add(row.id);
        const p = queueDownlink(ctx, s, {
          topic: row.topic,
          payload: row.payload,
          qos: row.qos,
          retain: false,
        });
        const r = p ? await p : 'failed';
        if (r === 'failed') return;
        await ctx.inbox.remove([row.id], r); // the gateway reports it where the command asked
      }
    }
  } finally {
    s.draining = false;
  }
}

/** PINGREQ(clientId) from a sleeper: deliver everything waiting, then PINGRESP, then back to sleep. */
export async function wake(ctx: Ctx, s: Session, peer: Peer): Promise<void> {
  ctx.sessions.bind(s, peer);
  s.state = 'awake';
  s.lastSeen = ctx.now();
  ctx.stats.state(s.clientId, 'wake');
  ctx.lifecycle('wake', { clientId: s.clientId }, 'mqttsn client awake');
  try {
    await drainInbox(ctx, s);
  } finally {
    if (s.state === 'awake') {
      s.state = 'asleep';
      s.lastSeen = ctx.now();
      if (s.peer) ctx.send(s.peer, { type: 'pingresp' });
    }
  }
}
