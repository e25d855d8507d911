import type { MetricSink } from '../../contracts/metric-sink.js';

/** One entry per configured port; state is the adapter's word for it (open, closed, reopening...). */
export interface SerialPortState {
  port: string;
  state: string;
  /** Monotonic frame drop counts by reason (too_long, crc, framing, unparsable, ...). */
  dropped?: Readonly<Record<string, number>>;
  /** Undecodable bytes since start, and the bursts of them that were logged as line noise. */
  noise?: Readonly<{ bytes: number; bursts: number }>;
}

/** The serial metrics, read from the ports' own monotonic counts at scrape time. */
export function serialMetrics(sink: MetricSink, ports: () => readonly SerialPortState[]): void {
  sink.pulled<'port' | 'state'>({
    name: 'serial_ports',
    help: 'Serial ports: 1 for the state each port is in now.',
    labelNames: ['port', 'state'],
    type: 'gauge',
    // Only the current state: a port that left a state stops being reported in it.
    read: () => ports().map((p) => ({ labels: { port: p.port, state: p.state }, value: 1 })),
  });
  sink.pulled<'port' | 'reason'>({
    name: 'serial_frames_dropped_total',
    help: 'Serial frames dropped before becoming readings, by port and reason (too_long, crc, framing, unparsable, missing_field, ...).',
    labelNames: ['port', 'reason'],
    type: 'counter',
    read: () =>
      ports().flatMap((p) =>
        Object.entries(p.dropped ?? {}).map(([reason, value]) => ({
          labels: { port: p.port, reason },
          value,
        })),
      ),
  });
  sink.pulled<'port'>({
    name: 'serial_noise_bytes_total',
    help: 'Bytes that made no frame (dropped as too_long, crc, framing, stale_partial, unparsable): line noise or a wrong baud rate.',
    labelNames: ['port'],
    type: 'counter',
    read: () => ports().flatMap((p) => (p.noise ? [{ labels: { port: p.port }, value: p.noise.bytes }] : [])),
  });
  sink.pulled<'port'>({
    name: 'serial_noise_bursts_total',
    help: 'Bursts of undecodable bytes past the line-noise threshold (each logged once as "line noise or wrong baud rate").',
    labelNames: ['port'],
    type: 'counter',
    read: () =>
      ports().flatMap((p) => (p.noise ? [{ labels: { port: p.port }, value: p.noise.bursts }] : [])),
  });
}
