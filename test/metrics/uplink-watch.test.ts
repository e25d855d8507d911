import { describe, expect, it } from 'vitest';
import { UplinkWatch } from '../../gateway/metrics/uplink-watch.js';

const cfg = { flap_disconnects: 3, flap_window: 60_000, stall_after: 30_000 };
const idle = { connected: true, rows: 0, oldestAt: null };

describe('UplinkWatch (degraded reasons)', () => {
  it('flapping: N disconnects inside the window, and only while they are inside it', () => {
    const w = new UplinkWatch(cfg);
    w.connected(0);
    w.disconnected(0);
    w.disconnected(10_000);
    expect(w.reasons(20_000, idle)).toEqual([]);
    w.disconnected(20_000);
    expect(w.reasons(20_000, idle)).toEqual(['uplink flapping: 3 disconnects in the last 60s']);
    expect(w.reasons(59_999, idle)).toHaveLength(1);
    // The first disconnect leaves the window: 2 remain.
    expect(w.reasons(60_000, idle)).toEqual([]);
  });

  it('not draining: connected, rows waiting, no ack, connect or new-enough oldest row for stall_after', () => {
    const w = new UplinkWatch(cfg);
    w.connected(0);
    const waiting = { connected: true, rows: 5, oldestAt: 1000 };
    expect(w.reasons(30_999, waiting)).toEqual([]);
    expect(w.reasons(31_000, waiting)).toEqual([
      'outbox not draining: 5 rows waiting, no broker ack for 30s while connected',
    ]);
    // Disconnected is an outage (buffering is the outbox's job), not a stall.
    expect(w.reasons(31_000, { ...waiting, connected: false })).toEqual([]);
    // An ack is progress.
    w.delivered(31_000);
    expect(w.reasons(60_000, waiting)).toEqual([]);
    expect(w.reasons(61_000, waiting)).toHaveLength(1);
    // Idle for an hour, then a row arrives: its age, not the hour, counts.
    expect(w.reasons(3_600_000, { connected: true, rows: 1, oldestAt: 3_599_000 })).toEqual([]);
    // Empty: nothing to drain.
    expect(w.reasons(3_600_000, idle)).toEqual([]);
  });

  it('never connected: degraded from start until the first connection, with the last failure', () => {
    const w = new UplinkWatch(cfg);
    const down = { connected: false, rows: 0, oldestAt: null };
    expect(w.reasons(0, down)).toEqual(['uplink has never connected since start']);
    w.connectFailed('connection closed before CONNACK');
    expect(w.reasons(1000, down)).toEqual([
      'uplink has never connected since start (last: connection closed before CONNACK)',
    ]);
    w.connected(2000);
    expect(w.reasons(2000, idle)).toEqual([]);
    // A later outage is buffering, not "never connected".
    w.disconnected(3000);
    w.connectFailed('ECONNREFUSED');
    expect(w.reasons(4000, down)).toEqual([]);
  });

  it('QoS 2 stuck: a QoS 2 message awaiting its PUBREC/PUBCOMP for stall_after, while connected', () => {
    const w = new UplinkWatch(cfg);
    w.connected(0);
    const q = (oldestMs: number, connected = true) => ({
      connected,
      rows: 0,
      oldestAt: null,
      qos2Waiting: { count: 2, oldestMs },
    });
    expect(w.reasons(40_000, q(29_999))).toEqual([]);
    expect(w.reasons(40_000, q(30_000))).toEqual([
      "QoS 2 stuck: 2 QoS 2 messages in flight, the oldest awaiting the broker's PUBREC/PUBCOMP for 30s (its device's later messages wait behind it)",
    ]);
    expect(w.reasons(40_000, q(90_000, false))).toEqual([]);
  });
});
