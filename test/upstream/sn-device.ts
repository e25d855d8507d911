import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { SnClient } from '../mqttsn/client.js';

/**
 * One MQTT-SN PUBLISH from a device on a predefined topic id, through to the gateway's answer:
 * QoS 1 waits for PUBACK, QoS 2 for PUBREC, then PUBREL and PUBCOMP (the gateway answers once
 * the reading is committed to its outbox).
 */
export async function snPublish(
  dev: SnClient,
  topicId: number,
  msgId: number,
  qos: 0 | 1 | 2,
  data: string,
): Promise<void> {
  await dev.send({
    type: 'publish',
    flags: flags({ qos, topicIdType: 1 }),
    topicId,
    msgId: qos === 0 ? 0 : msgId,
    data: Buffer.from(data),
  });
  if (qos === 1) {
    const ack = await dev.expect('puback', 5000, (p) => p.msgId === msgId);
    if (ack.returnCode !== 0) throw new Error(`PUBACK return code ${ack.returnCode}`);
  } else if (qos === 2) {
    await dev.expect('pubrec', 5000, (p) => p.msgId === msgId);
    await dev.send({ type: 'pubrel', msgId });
    await dev.expect('pubcomp', 5000, (p) => p.msgId === msgId);
  }
}
