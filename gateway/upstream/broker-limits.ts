import type { IConnackPacket } from 'mqtt-packet';

/** What an MQTT 5 broker told us in CONNACK about itself; 3.1.1 brokers say nothing (no limits). */
export interface BrokerLimits {
  /** Receive Maximum: QoS 1 and 2 PUBLISHes it accepts unacknowledged, together. */
  receiveMaximum: number;
  /** Maximum Packet Size in bytes (whole packet); Infinity when not announced. */
  maximumPacketSize: number;
  /** Topic Alias Maximum: 0 = no aliases. */
  topicAliasMaximum: number;
  /** Server Keep Alive overrides ours when present. */
  serverKeepAlive?: number;
  /** Assigned Client Identifier: reuse it so the next connect finds the session. */
  assignedClientId?: string;
  /** Retain Available: false when the broker refuses retained messages. */
  retainAvailable: boolean;
  /** Maximum QoS the broker accepts. */
  maximumQoS: 0 | 1 | 2;
}

export const NO_LIMITS: BrokerLimits = {
  receiveMaximum: 65535,
  maximumPacketSize: Number.POSITIVE_INFINITY,
  topicAliasMaximum: 0,
  retainAvailable: true,
  maximumQoS: 2,
};

export function brokerLimits(connack: IConnackPacket): BrokerLimits {
  const p = connack.properties;
  if (!p) return NO_LIMITS;
  const out: BrokerLimits = {
    receiveMaximum: p.receiveMaximum || 65535,
    maximumPacketSize: p.maximumPacketSize || Number.POSITIVE_INFINITY,
    topicAliasMaximum: p.topicAliasMaximum ?? 0,
    retainAvailable: p.retainAvailable !== false,
    maximumQoS: (p.maximumQoS ?? 2) as 0 | 1 | 2,
  };
  if (p.serverKeepAlive !== undefined) out.serverKeepAlive = p.serverKeepAlive;
  if (p.assignedClientIdentifier) out.assignedClientId = p.assignedClientIdentifier;
  return out;
}
