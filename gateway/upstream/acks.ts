import { type InFlightState, RELEASED, SENT } from './inflight-window.js';
import { ackAccepts } from './reasons.js';

// What an ack means for the row in flight under its packet id. Plain numbers, not objects or
// strings: handleAck runs once per acknowledged message.
/** Nothing to do: a wrong or late ack for this row's QoS or state. */
export const IGNORE = 0;
/** Acknowledged (PUBACK for QoS 1, PUBCOMP after PUBREL): complete the row. */
export const DELIVERED = 1;
/** PUBREC for a QoS 2 row: mark it released, then send PUBREL. */
export const RELEASE = 2;
/** PUBREC again for a row already released: send PUBREL again. */
export const PUBREL_AGAIN = 3;
/** PUBACK for a QoS 2 PUBLISH: the broker took it at QoS 1 (delivered, downgraded). */
export const TAKEN_AT_QOS1 = 4;
/** A failure reason code on PUBACK/PUBREC: the broker refused this row (retried or set aside). */
export const REFUSED = 5;
/** A failure reason code on PUBCOMP: the exchange is over, its outcome unknown (set aside). */
export const PUBCOMP_FAILED = 6;
export type AckAction =
  | typeof IGNORE
  | typeof DELIVERED
  | typeof RELEASE
  | typeof PUBREL_AGAIN
  | typeof TAKEN_AT_QOS1
  | typeof REFUSED
  | typeof PUBCOMP_FAILED;

/**
 * The meaning of PUBACK / PUBREC / PUBCOMP for a row of this QoS in this state. A reason code that
 * is not a success for that ack (MQTT 5: a failure, or a value off the spec's list such as
 * mosquitto's 0x95 on PUBACK) is the broker's verdict on this row alone.
 */
export function ackAction(
  cmd: 'puback' | 'pubrec' | 'pubcomp',
  qos: number,
  state: InFlightState,
  reasonCode: number,
): AckAction {
  if (reasonCode !== 0 && !ackAccepts(cmd, reasonCode)) {
    if (cmd !== 'pubcomp' && state === SENT) return REFUSED;
    if (cmd === 'pubcomp' && state === RELEASED) return PUBCOMP_FAILED;
  }
  // RabbitMQ answers a QoS 2 PUBLISH with PUBACK.
  if (cmd === 'puback' && qos === 2 && state === SENT) return TAKEN_AT_QOS1;
  if (cmd === 'pubrec') {
    if (qos !== 2) return IGNORE;
    return state === RELEASED ? PUBREL_AGAIN : RELEASE;
  }
  if ((cmd === 'puback') !== (qos === 1)) return IGNORE; // wrong ack for this QoS
  if (cmd === 'pubcomp' && state !== RELEASED) return IGNORE;
  return DELIVERED;
}
