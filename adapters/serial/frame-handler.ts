import type { Logger } from 'pino';
import { throttledLog } from '../../contracts/throttled-log.js';
import type { Reading } from '../types.js';
import { settleGroup } from './ack.js';
import type { SerialConfigView } from './compiled.js';
import type { SerialCounters } from './counters.js';
import { createDecoder } from './decode/index.js';
import { frameText } from './decode/types.js';
import { type DropReason, hexPreview } from './framing/types.js';
import { createNoiseMeter } from './noise.js';
import { deviceOf, toReadings } from './to-readings.js';
import { waitingNow } from '../../contracts/clock.js';

const NOISE_LOG_INTERVAL_MS = 10 * 60_000;

export interface FrameHandlerDeps {
  compiled: SerialConfigView;
  counters: SerialCounters;
  logger: Logger;
  emit(reading: Reading): void;
  /** A frame some command is waiting for as its reply; consumed, not published. */
  takeReply(frame: Buffer): boolean;
  /** Write an ack to the device (port may have closed meanwhile: then it fails and is counted). */
  writeAck(bytes: Buffer): Promise<void>;
}

/** Where a frame becomes Readings: reply check, decode, topic fan-out, ack wiring, drop accounting. */
export function createFrameHandler(d: FrameHandlerDeps) {
  const { compiled: c, counters, logger } = d;
  const decode = createDecoder(c.config);

  // Every drop at debug (with its bytes); at most one warning per reason per 10 s, so a wrong baud
  // rate or a noisy line shows in the journal without flooding it (the counters have every drop).
  const warn = throttledLog(logger);
  const port = c.config;
  // The first thing an operator checks: logged once per burst, then at most every 10 minutes.
  const warnNoise = throttledLog(logger, NOISE_LOG_INTERVAL_MS);
  const noise = createNoiseMeter(
    (n) => {
      counters.noise.bytes += n;
    },
    (burst) => {
      counters.noise.bursts++;
      warnNoise(
        'noise',
        { port: port.name, path: port.path, baud: port.baud, ...burst },
        `line noise or wrong baud rate on ${port.name} (configured ${port.baud} baud)`,
      );
    },
  );
  const drop = (reason: DropReason, bytes: Buffer, consumed = bytes.length) => {
    counters.dropped[reason]++;
    noise(reason, consumed);
    logger.debug({ reason, bytes: hexPreview(bytes) }, 'serial frame dropped');
    warn(reason, { reason, bytes: hexPreview(bytes) }, 'serial frames dropped (details at debug level)');
  };

  const ack = (bytes: Buffer, seq: unknown) =>
    d.writeAck(bytes).then(
      () => {
        counters.acks.written++;
      },
      (err: unknown) => {
        counters.acks.failed++;
        logger.debug({ err, seq }, 'ack not written (the device will resend)');
      },
    );

  const encodeAck = (bytes: Buffer, seq: unknown) => {
    try {
      return c.encodeAck(bytes);
    } catch (err) {
      logger.warn({ err, seq }, 'ack cannot be framed; not acked');
      return undefined;
    }
  };

  const isText = c.config.format !== 'raw';
  const onFrame = (frame: Buffer, receivedAt = waitingNow()) => {
    if (isText && frameText(frame) === '') return; // blank line (CRLF, keep-alive newline): not a frame
    counters.frames++;
    if (d.takeReply(frame)) return;
    const decoded = decode(frame);
    if (!decoded) return drop('unparsable', frame);
    if (decoded.kind === 'fields') for (const f of decoded.dropped ?? []) drop(f.reason, frame);
    const readings = toReadings(decoded, c.fanOut, receivedAt);
    if (typeof readings === 'string') return drop(readings, frame);

    const seqField = c.config.ack?.seq_field;
    const fields = decoded.kind === 'fields' ? decoded.fields : {};
    const seq = seqField === undefined ? undefined : fields[seqField];
    if (seq !== undefined && c.ackTemplate) {
      const device = deviceOf(decoded, c.fanOut) ?? c.config.name;
      const text = c.ackTemplate.render((n) =>
        n === 'seq' ? seq : n === 'device' ? device : n === 'port' ? c.config.name : fields[n],
      );
      const bytes = text === undefined ? undefined : encodeAck(Buffer.from(text, 'latin1'), seq);
      if (bytes && readings.length === 0)
        void ack(bytes, seq); // nothing to store: safe to ack now
      else if (bytes) {
        const settles = settleGroup(
          readings.length,
          () => void ack(bytes, seq),
          (outcome) => {
            counters.acks.withheld++;
            logger.debug({ seq, outcome }, 'ack withheld: frame not stored');
          },
        );
        readings.forEach((r, i) => {
          r.settle = settles[i];
        });
      }
    }
    counters.readings += readings.length;
    for (const r of readings) d.emit(r);
  };

  return { onFrame, onDrop: drop };
}
