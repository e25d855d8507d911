export type ConnectionState = 'disconnected' | 'connecting' | 'connected';

/** What the upstream client reports; `delivered` is per message (the row has left the outbox). */
export type UpstreamEvent =
  | { type: 'connected'; sessionPresent: boolean; resent: number }
  | { type: 'disconnected'; reason: string }
  /** The broker answered CONNECT with a refusal (CONNACK return code, in words too). */
  | { type: 'refused'; code: number; reason: string }
  /** No CONNACK: network error, TLS failure (tls: true, e.g. untrusted certificate) or timeout. */
  | { type: 'connect-failed'; reason: string; tls: boolean }
  | { type: 'reconnecting'; delayMs: number; attempt: number }
  | { type: 'delivered'; id: number; receivedAt: number; qos: 0 | 1 | 2 }
  /** A row the broker would not take was moved out of the outbox (kept; `queue peek --dead`). */
  | { type: 'set-aside'; id: number; reason: string }
  /** An incoming PUBLISH was dropped unread (larger than max_packet_size); it was still acknowledged. */
  | { type: 'inbound-dropped'; reason: 'max_packet_size' | 'inbound_overload'; topic: string; bytes: number };
