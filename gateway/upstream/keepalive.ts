import type { Connection } from './connection.js';
import { waitingNow } from '../../contracts/clock.js';

/**
 * Keep-alive for one connection. PINGREQ when nothing has been received for
 * keepalive/2 or nothing sent for 3/4 keepalive (the broker's own limit is 1.5x);
 * a broker silent for 1.25x keepalive is dead. Checked every keepalive/4, so a
 * frozen broker is detected within 1.5 x keepalive of its last packet.
 */
export function startKeepAlive(
  conn: Connection,
  keepaliveS: number,
  onDead: (reason: string) => void,
): () => void {
  if (keepaliveS <= 0) return () => {};
  const k = keepaliveS * 1000;
  let pingSentAt = 0;
  const timer = setInterval(
    () => {
      if (!conn.open) return;
      const now = waitingNow();
      const silent = now - conn.lastReceived;
      if (silent >= 1.25 * k) {
        onDead(`no packet from broker for ${silent} ms (keepalive ${keepaliveS} s)`);
        return;
      }
      const pingOutstanding = pingSentAt > conn.lastReceived;
      if (!pingOutstanding && (silent >= k / 2 || now - conn.lastSent >= 0.75 * k)) {
        pingSentAt = now;
        conn.write({ cmd: 'pingreq' });
      }
    },
    Math.max(50, k / 4),
  );
  timer.unref();
  return () => clearInterval(timer);
}
