import { Subject } from 'rxjs';
import type { DeviceState } from '../types.js';

/** Why a datagram or message was not acted on. Every drop is counted and logged at debug. */
export type DropReason =
  | 'truncated'
  | 'malformed'
  | 'oversize'
  | 'unknown_type'
  | 'out_of_state' // valid packet, wrong time or unknown sender
  | 'not_allowed'
  | 'invalid_topic'
  | 'duplicate'
  | 'inflight_limit'
  | 'queue_full'
  | 'max_clients'
  | 'rejected' // bad CONNECT (protocol id, client id)
  | 'delivery_failed' // downlink not acked after retries
  | 'expired'
  | 'handler_error'
  | 'send_error'
  // per-device state bounds (what one device may make the gateway keep)
  | 'session_evicted' // an offline (or long-silent live) session gave way to a new device (table full)
  | 'session_expired' // offline longer than session_expiry
  | 'subscription_limit' // SUBSCRIBE beyond max_subscriptions_per_client
  | 'inbox_full' // inbox bound (whole inbox or this device) reached: message not queued
  | 'store_error' // a state write failed: the device was answered with an error
  | 'bad_source' // source port 0, unspecified, broadcast or multicast source address
  | 'acl_denied' // mqttsn.acl refused a PUBLISH, REGISTER, SUBSCRIBE or will topic
  | 'address_pinned' // CONNECT / PINGREQ for a pinned client id from another address
  | 'unsafe_client_id' // client id with / + # or control characters
  // what devices make the gateway keep, in bytes; identities
  | 'state_budget' // a session, registration, subscription or will beyond a max_state_bytes* budget
  | 'session_over_budget' // a stored session dropped at start: restoring it would exceed a budget
  | 'topic_too_long' // REGISTER, SUBSCRIBE or will topic longer than max_topic_length
  | 'reserved_client_id' // CONNECT with the gateway id or another adapter's device name
  | 'reserved_filter'; // SUBSCRIBE to $SYS, $share, $queue or the gateway's own topics

export type LifecycleState = 'connect' | 'sleep' | 'wake' | 'disconnect' | 'lost';

/**
 * A lifecycle event as device availability (adapters/types.ts DeviceState). A sleeper's PINGREQ wake
 * stays 'asleep': it drains its messages and goes back to sleep without another event.
 */
export function deviceState(s: LifecycleState): DeviceState {
  if (s === 'connect') return 'online';
  if (s === 'sleep' || s === 'wake') return 'asleep';
  if (s === 'disconnect') return 'offline';
  return 'lost';
}

export type MqttSnEvent =
  /** `device`: the client id, when the drop is that device's doing (status page, per device). */
  | { kind: 'drop'; reason: DropReason; peer?: string; detail?: string; device?: string }
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

  drop(reason: DropReason, peer?: string, detail?: string, device?: string): void {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + 1;
    if (this.events$.observed) this.events$.next({ kind: 'drop', reason, peer, detail, device });
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

/** A lost device nobody hears from again is counted this long, then forgotten. */
export const LOST_RETENTION_MS = 24 * 3600_000;
/** Bound on remembered lost devices (devices that make up a new client id per boot would grow it). */
export const LOST_MAX = 10_000;

/**
 * The devices lost now (keep-alive or sleep timer ran out): a device leaves the set when it has any
 * later lifecycle event (it reconnected, or a clean CONNECT wiped its session), or when it has been
 * lost longer than `retentionMs` (forgotten); the oldest goes first beyond `max`. Pure; clock passed in.
 */
export class LostDevices {
  /** clientId -> when lost; Map order is insertion order, so the first entry is the oldest. */
  private readonly lost = new Map<string, number>();

  constructor(
    private readonly retentionMs = LOST_RETENTION_MS,
    private readonly max = LOST_MAX,
  ) {}

  /** Feed every lifecycle event. */
  state(clientId: string, state: LifecycleState, now: number): void {
    this.lost.delete(clientId);
    if (state !== 'lost') return;
    this.lost.set(clientId, now);
    if (this.lost.size > this.max) this.lost.delete(this.lost.keys().next().value!);
  }

  count(now: number): number {
    for (const [id, at] of this.lost) {
      if (now - at < this.retentionMs) break;
      this.lost.delete(id);
    }
    return this.lost.size;
  }
}
