import type { QoS } from '../types.js';
import type { Packet, PacketType } from './codec/index.js';
import { DownlinkQueue } from './downlink-queue.js';
import type { Peer } from './peer.js';
import { SESSION_BYTES, willCost } from './state-budget.js';
import { TopicRegistry } from './topic-registry.js';

/**
 * will-topic / will-msg: CONNECT received, will exchange running (no CONNACK yet).
 * active: connected. asleep: DISCONNECT(duration). awake: PINGREQ(clientId) received, inbox draining.
 * offline: clean-session=false device that disconnected or was lost; kept for its subscriptions.
 */
export type SessionState = 'will-topic' | 'will-msg' | 'active' | 'asleep' | 'awake' | 'offline';

export interface Will {
  topic: string;
  msg: Buffer;
  qos: QoS;
  retain: boolean;
}

export interface Subscription {
  qos: QoS;
}

/** Uplink QoS 1/2 message from the device: settling (emitted, not yet settled), acked (PUBACK sent), received (PUBREC sent). */
export interface Uplink {
  readonly state: 'settling' | 'acked' | 'received';
}

/** The three states as shared constants: an entry is replaced, never changed, so none is made per message. */
export const UPLINK_SETTLING: Uplink = Object.freeze({ state: 'settling' });
export const UPLINK_ACKED: Uplink = Object.freeze({ state: 'acked' });
export const UPLINK_RECEIVED: Uplink = Object.freeze({ state: 'received' });

/** A downlink exchange waiting for the device's REGACK/PUBACK/PUBREC/PUBCOMP with this msgId; null = gave up. */
export interface Waiter {
  expect: readonly PacketType[];
  resolve: (p: Packet | null) => void;
}

/** Acked msgIds kept to recognise a DUP retransmission after a lost PUBACK. */
const ACKED_MEMORY = 16;

export class Session {
  state: SessionState = 'offline';
  peer: Peer | null = null;
  /** The host it was last bound from: its state counts against that source's budget, also offline. */
  source: string | undefined;
  /** What the subscriptions cost (state-budget.ts subCost, summed; kept by SessionTable). */
  subBytes = 0;
  cleanSession = true;
  /** Rows for this client exist in the device session store. */
  persisted = false;
  /** What the store holds (as last written): persist() writes only the difference. */
  readonly stored = {
    meta: '',
    topics: new Map<number, string>(),
    subs: new Map<string, QoS>(),
    will: null as Will | null,
  };
  /** When it went offline (ms); meaningful in state 'offline' only. */
  offlineSince = 0;
  keepAliveMs = 0;
  sleepMs = 0;
  lastSeen = 0;
  connectStartedAt = 0;
  will: Will | null = null;
  pendingWill: Omit<Will, 'msg'> | null = null;
  readonly topics: TopicRegistry;
  readonly subs = new Map<string, Subscription>();
  readonly uplink = new Map<number, Uplink>();
  readonly waiters = new Map<number, Waiter>();
  readonly downlink = new DownlinkQueue();
  draining = false;
  private msgId = 0;
  /** Uplink msgIds in the order they were acked, newest last (at most ACKED_MEMORY). */
  private readonly acked: number[] = [];

  constructor(
    readonly clientId: string,
    maxTopics: number,
  ) {
    this.topics = new TopicRegistry(maxTopics);
  }

  /** Next downlink msgId, never 0, never one still awaiting an ack. */
  nextMsgId(): number {
    do this.msgId = this.msgId >= 0xffff ? 1 : this.msgId + 1;
    while (this.waiters.has(this.msgId));
    return this.msgId;
  }

  /** What this session makes the gateway keep (state-budget.ts). */
  stateBytes(): number {
    return SESSION_BYTES + this.topics.bytes + this.subBytes + willCost(this.will ?? this.pendingWill);
  }

  inflightUp(): number {
    let n = 0;
    for (const u of this.uplink.values()) if (u.state !== 'acked') n++;
    return n;
  }

  /** Remembers the last ACKED_MEMORY acked ids (oldest forgotten first): O(1) per ack. */
  markAcked(msgId: number): void {
    this.uplink.set(msgId, UPLINK_ACKED);
    this.acked.push(msgId);
    if (this.acked.length <= ACKED_MEMORY) return;
    const old = this.acked.shift()!;
    // Forget it unless it is in use again (a new message reusing the id, or acked once more).
    if (this.uplink.get(old)?.state === 'acked' && !this.acked.includes(old)) this.uplink.delete(old);
  }

  /** The device is gone (lost, asleep, disconnected, gateway stopping): every pending exchange fails now. */
  abort(): void {
    for (const w of [...this.waiters.values()]) w.resolve(null);
    this.waiters.clear();
    this.downlink.failAll();
  }

  get online(): boolean {
    return this.state === 'active' || this.state === 'awake';
  }
}
