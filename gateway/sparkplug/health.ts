import type { SessionView } from './metrics.js';

/** How long the Sparkplug connection may be down while the main uplink is up before /health says so. */
export const SPARKPLUG_DOWN_GRACE_MS = 30_000;

/**
 * The edge node in /health: its session in the JSON, and `degraded` when its own connection stays
 * down while the main uplink is up (a broker that refuses its client id or ACL: the host sees nothing
 * while everything else looks fine). A primary host that is offline is the host's state, not ours:
 * shown, never degraded. With the uplink down too, the uplink's own reasons say it.
 */
export function sparkplugHealth(
  v: SessionView,
  uplinkConnected: boolean,
  now: number,
): { view: Record<string, unknown>; degraded?: string } {
  const view = {
    connected: v.connected,
    host_online: v.hostOnline,
    born: v.born,
    bd_seq: v.bdSeq,
    ...(v.topicsRewritten && { topics_rewritten: true }),
  };
  if (v.topicsRewritten)
    return {
      view,
      degraded: 'the broker rewrites "." in Sparkplug topic names: hosts cannot read this node',
    };
  const downMs = now - v.since;
  if (v.connected || !uplinkConnected || downMs <= SPARKPLUG_DOWN_GRACE_MS) return { view };
  return {
    view,
    degraded: `Sparkplug connection down for ${Math.round(downMs / 1000)} s while the uplink is up`,
  };
}
