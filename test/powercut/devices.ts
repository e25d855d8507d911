import { flags } from '../../adapters/mqttsn/codec/index.js';
import { sleep } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { Sensor } from '../serial/helpers.js';

/** One device's stream: what it sent and what the gateway acknowledged (seq, when). */
export interface Stream {
  /** The topic its messages reach the subscriber on; the payload is the seq. */
  topic: string;
  qos: 1 | 2;
  acked: { seq: number; at: number }[];
}

export interface Device {
  stream: Stream;
  /** Resolves once the device stopped (after its message in flight was settled, if the gateway answers). */
  done: Promise<void>;
}

/** A device gives up waiting for an answer after this long, then reconnects and resends. */
const ANSWER_MS = 600;

/**
 * An MQTT-SN device (real UDP) publishing seq 1, 2, 3… on a predefined topic, each only after the
 * previous one was acknowledged (QoS 1: PUBACK; QoS 2: PUBREC, then PUBREL/PUBCOMP). Without an
 * answer it reconnects and resends as the spec asks: QoS 1 the PUBLISH (DUP), QoS 2 the PUBLISH
 * until PUBREC and the PUBREL after it (cleanSession false, so the gateway remembers the msg id).
 */
export function snDevice(
  udpPort: number,
  clientId: string,
  topicId: number,
  stream: Stream,
  paceMs: number,
  stop: () => boolean,
): Device {
  const run = async () => {
    const c = await SnClient.open(udpPort);
    let connected = false;
    let seq = 1;
    let released = false; // QoS 2: PUBREC came, PUBREL/PUBCOMP pending
    let dup = false;
    // Stop between messages: an exchange under way is finished first (bounded: 15 s after stop).
    let stopAt = 0;
    const running = () => {
      if (!stop()) return true;
      stopAt ||= Date.now();
      return (released || dup) && Date.now() - stopAt < 15_000;
    };
    while (running()) {
      try {
        if (!connected) {
          await c.send({
            type: 'connect',
            flags: flags({ cleanSession: stream.qos === 1 }),
            protocolId: 1,
            duration: 30,
            clientId,
          });
          await c.expect('connack', ANSWER_MS);
          connected = true;
        }
        if (released) {
          await c.send({ type: 'pubrel', msgId: seq });
          await c.expect('pubcomp', ANSWER_MS, (p) => p.msgId === seq);
          released = false;
          seq++;
          await sleep(paceMs);
          continue;
        }
        await c.send({
          type: 'publish',
          flags: flags({ qos: stream.qos, topicIdType: 1, dup }),
          topicId,
          msgId: seq,
          data: Buffer.from(String(seq)),
        });
        dup = true;
        if (stream.qos === 2) {
          await c.expect('pubrec', ANSWER_MS, (p) => p.msgId === seq);
          stream.acked.push({ seq, at: Date.now() });
          dup = false;
          released = true;
          continue;
        }
        const ack = await c.expect('puback', ANSWER_MS, (p) => p.msgId === seq);
        if (ack.returnCode === 0) {
          stream.acked.push({ seq, at: Date.now() });
          dup = false;
          seq++;
          await sleep(paceMs);
        } else {
          await sleep(50); // congestion: try the same message again
        }
      } catch {
        connected = false; // no answer: the gateway is down or restarting
        c.inbox.length = 0;
        await sleep(50);
      }
    }
    await c.close();
  };
  return { stream, done: run() };
}

/**
 * A serial sensor on the far end of a pty: frames `seq=N n=N`, each resent until the gateway
 * writes `ACK N` back (serial[].ack), which it does only once the frame is stored.
 */
export function serialDevice(
  sensorPath: string,
  stream: Stream,
  paceMs: number,
  stop: () => boolean,
): Device {
  const run = async () => {
    const s = await Sensor.open(sensorPath);
    let seq = 1;
    while (!stop()) {
      s.received = Buffer.alloc(0);
      await s.write(`seq=${seq} n=${seq}\n`);
      const deadline = Date.now() + ANSWER_MS;
      while (Date.now() < deadline && !s.text().includes(`ACK ${seq}\n`)) await sleep(5);
      if (s.text().includes(`ACK ${seq}\n`)) {
        stream.acked.push({ seq, at: Date.now() });
        seq++;
        await sleep(paceMs);
      }
    }
    await s.close();
  };
  return { stream, done: run() };
}
