import type { Logger } from 'pino';
import type { DeviceSessionStore, Inbox, KvState } from '../../contracts/store.js';
import type { ThrottledLog } from '../../contracts/throttled-log.js';
import type { Reserved } from '../descriptor.js';
import type { Reading } from '../types.js';
import type { Acl } from './acl.js';
import type { Packet } from './codec/index.js';
import type { MqttsnConfig } from './config.js';
import type { DownlinkMemory } from './downlink-queue.js';
import type { Peer } from './peer.js';
import type { AddressPins } from './pinning.js';
import type { Qos2Ids } from './qos2-ids.js';
import type { ReplyLimit } from './reply-limit.js';
import type { Session } from './session.js';
import type { SessionTable } from './session-table.js';
import type { DropReason, Stats } from './stats.js';
import type { PredefinedTopics } from './topic-registry.js';

/** What handlers see of the adapter: state, config and the few side effects they may cause. */
export interface Ctx {
  readonly name: string;
  readonly cfg: MqttsnConfig;
  readonly log: Logger;
  readonly stats: Stats;
  readonly sessions: SessionTable;
  readonly predefined: PredefinedTopics;
  readonly inbox: Inbox;
  readonly kv: KvState;
  /** clean-session=false sessions, registrations, subscriptions and wills, as rows. */
  readonly devices: DeviceSessionStore;
  /** Topic ACLs (allow-all when none configured). */
  readonly acl: Acl;
  /** Client ids pinned to addresses. */
  readonly pins: AddressPins;
  /** Device-side QoS 2 msgIds stored but not yet released, bounded. */
  readonly qos2: Qos2Ids;
  /** Rate-limited warnings for refusals and suspicious events. */
  readonly refusals: ThrottledLog;
  /** Bounds DISCONNECTs sent to senders with no session (per peer and in all). */
  readonly replies: ReplyLimit;
  /** Rate-limited info lines for connect, sleep, wake, disconnect and lost (a remote party causes them). */
  readonly lifecycle: ThrottledLog;
  /** Client ids and subscription filters devices may not take (the gateway's own and other sources'). */
  reserved(): Reserved;
  /** Memory held by every device's in-memory downlink queue together (bytes, estimated), and its cap. */
  readonly downlinkMemory: DownlinkMemory;
  now(): number;
  /** Encode and send; wraps in the forwarder encapsulation when the peer came through one. */
  send(peer: Peer, p: Packet): void;
  emit(r: Reading): void;
  /** Counted and logged; `device` (client id) when known, for the per-device warnings and status page. */
  drop(reason: DropReason, peer: Peer | null | undefined, detail?: string, device?: string): void;
  /**
   * Write what changed in a clean-session=false session (registrations, subscriptions, will, state),
   * or delete a clean session's stored state. Resolves once committed; failures are also logged.
   */
  persist(s: Session): Promise<void>;
  subscriptionsChanged(): void;
  /** Run a background task that stop() waits for; its errors are logged, never thrown. */
  track(task: Promise<unknown>, what: string): void;
}

/** What belongs to the gateway or to another adapter: never a device's client id or subscription. */
export type { Reserved };
