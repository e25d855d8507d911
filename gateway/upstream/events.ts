export type ConnectionState = 'disconnected' | 'connecting' | 'connected';

/** A row that has left the outbox delivered (an OutboxRow is one: no object of its own). */
export interface Delivered {
  readonly id: number;
  readonly receivedAt: number;
  readonly qos: 0 | 1 | 2;
}

/**
 * What the upstream client reports. `delivered-batch`: the rows one store commit completed, in
 * ack order (one event per batch, not per message: an event object and an rxjs next per message
 * were a good part of what the upstream side allocated). Count `rows.length` for messages.
 */
export type UpstreamEvent =
  | { type: 'connected'; sessionPresent: boolean; resent: number; url?: string }
  /** The connect failed: the next broker URL of upstream.url is tried (redacted URLs). */
  | { type: 'broker-move'; from: string; to: string }
  /** The broker did not take an MQTT 5 CONNECT (refused it, or closed with no CONNACK): 3.1.1 now. */
  | { type: 'protocol-fallback'; url: string; reason: string }
  /**
   * A QoS 2 row was delivered at QoS 1: the broker answered it with PUBACK ('puback'), or it was
   * sent as QoS 1 because the broker takes no more ('broker_maximum_qos').
   */
  | { type: 'qos-downgraded'; id: number; reason: 'puback' | 'broker_maximum_qos' }
  /** MQTT 5: a PUBACK/PUBREC refused a row with a reason that may pass; it is sent again later. */
  | { type: 'publish-retry'; id: number; reason: string }
  /** A row outlived its expiry (store.max_age or its rule's) before it could be sent: deleted. */
  | { type: 'expired'; id: number }
  | { type: 'disconnected'; reason: string }
  /** The broker answered CONNECT with a refusal (CONNACK return code, in words too). */
  | { type: 'refused'; code: number; reason: string }
  /** No CONNACK: network error, TLS failure (tls: true, e.g. untrusted certificate) or timeout. */
  | { type: 'connect-failed'; reason: string; tls: boolean }
  | { type: 'reconnecting'; delayMs: number; attempt: number }
  | { type: 'delivered-batch'; rows: readonly Delivered[] }
  /** A row the broker would not take was moved out of the outbox (kept; `queue peek --dead`). */
  | { type: 'set-aside'; id: number; reason: string }
  /** An incoming PUBLISH was dropped unread (larger than max_packet_size); it was still acknowledged. */
  | { type: 'inbound-dropped'; reason: 'max_packet_size' | 'inbound_overload'; topic: string; bytes: number };
