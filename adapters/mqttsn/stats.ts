import { Subject } from 'rxjs';

/** Why a datagram or message was not acted on. Every drop is counted and logged at debug. */
export type DropReason =
  | 'truncated'
  | 'malformed'
  | 'oversize'
  | 'unknown-type'
  | 'out-of-state' // valid packet, wrong time or unknown sender
  | 'not-allowed'
  | 'invalid-topic'
  | 'duplicate'
  | 'inflight-limit'
  | 'queue-full'
  | 'max-clients'
  | 'rejected' // bad CONNECT (protocol id, client id)
  | 'delivery-failed' // downlink not acked after retries
  | 'expired'
  | 'handler-error'
  | 'send-error'
  // per-device state bounds (issue 13 items 4, 5)
  | 'session-evicted' // an offline session gave way to a new device (table full)
  | 'session-expired' // offline longer than session_expiry
  | 'subscription-limit' // SUBSCRIBE beyond max_subscriptions_per_client
  | 'inbox-full' // inbox bound (whole inbox or this device) reached: message not queued
  | 'store-error' // a state write failed: the device was answered with an error
  | 'bad-source' // source port 0, unspecified, broadcast or multicast source address
  | 'acl-denied' // mqttsn.acl refused a PUBLISH, REGISTER, SUBSCRIBE or will topic
  | 'address-pinned' // CONNECT / PINGREQ for a pinned client id from another address
  | 'unsafe-client-id'; // client id with / + # or control characters

export type LifecycleState = 'connect' | 'sleep' | 'wake' | 'disconnect' | 'lost';

export type MqttSnEvent =
  | { kind: 'drop'; reason: DropReason; peer?: string; detail?: string }
  | { kind: 'state'; clientId: string; state: LifecycleState };

export interface MqttSnCounters {
  rx: number;
  tx: number;
  readings: number;
  delivered: number;
  queued: number;
  drops: Partial<Record<DropReason, number>>;
  states: Partial<Record<LifecycleState, number>>;
}

/** Counters plus an event stream for the metrics engineer to wire. */
export class Stats {
  readonly counters: MqttSnCounters = {
    rx: 0,
    tx: 0,
    readings: 0,
    delivered: 0,
    queued: 0,
    drops: {},
    states: {},
  };
  readonly events$ = new Subject<MqttSnEvent>();

  drop(reason: DropReason, peer?: string, detail?: string): void {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + 1;
    if (this.events$.observed) this.events$.next({ kind: 'drop', reason, peer, detail });
  }

  state(clientId: string, state: LifecycleState): void {
    this.counters.states[state] = (this.counters.states[state] ?? 0) + 1;
    if (this.events$.observed) this.events$.next({ kind: 'state', clientId, state });
  }

  snapshot(): MqttSnCounters {
    const c = this.counters;
    return { ...c, drops: { ...c.drops }, states: { ...c.states } };
  }
}
