import type { MetricSink } from '../../contracts/metric-sink.js';
import type { ModbusStat } from './stats.js';

/** Seconds: one Modbus request/response (9600 baud: ~10 ms for a short read; timeouts ~0.5 s). */
export const MODBUS_RTT_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The Modbus metrics; the returned function counts one of a bus's stats. */
export function modbusMetrics(sink: MetricSink): (s: ModbusStat) => void {
  const requests = sink.counter<'bus' | 'device'>({
    name: 'modbus_requests_total',
    help: 'Modbus requests sent (polls and writes, retries included), by bus and device.',
    labelNames: ['bus', 'device'],
  });
  const errors = sink.counter<'bus' | 'device' | 'reason'>({
    name: 'modbus_errors_total',
    help: 'Failed Modbus requests, by bus, device and reason (timeout, crc, short_frame, exception_<name>, ...).',
    labelNames: ['bus', 'device', 'reason'],
  });
  const roundTrip = sink.histogram<'bus' | 'device'>({
    name: 'modbus_round_trip_seconds',
    help: 'Modbus request to response (or to timeout), by bus and device.',
    labelNames: ['bus', 'device'],
    buckets: MODBUS_RTT_BUCKETS,
  });
  return (s) => {
    if (s.type === 'request') {
      requests.inc({ bus: s.bus, device: s.device });
      roundTrip.observe({ bus: s.bus, device: s.device }, s.ms / 1000);
    } else errors.inc({ bus: s.bus, device: s.device, reason: s.reason });
  };
}
