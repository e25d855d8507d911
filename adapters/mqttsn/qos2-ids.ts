import type { KvState } from '../../contracts/store.js';

/**
 * KvState namespace of QoS 2 messages stored but not yet released (PUBREL) by clean-session=false
 * devices. Written with the message in one transaction, so a device resending after a gateway
 * crash gets its PUBREC again instead of a second copy upstream.
 */
export const QOS2_RECEIVED = 'mqttsn.qos2-received';
export const qos2Key = (clientId: string, msgId: number) => `${clientId}\u0000${msgId}`;
/** A device resends an unreleased QoS 2 message within seconds; an older entry is a leftover, not a resend. */
export const QOS2_RECEIVED_TTL_MS = 3600e3;

/**
 * In-memory index of the QOS2_RECEIVED rows, so forgetting a client is not a scan and the rows stay
 * bounded: deleted on PUBREL, on a clean-session CONNECT, once older than the TTL, and beyond
 * `perClient` per device (oldest first: a device has at most max_inflight unreleased messages, so
 * older ones are leftovers of exchanges it abandoned).
 */
export class Qos2Ids {
  /** clientId -> msgId -> stored at (ms); Map order is insertion order, oldest first. */
  private readonly byClient = new Map<string, Map<number, number>>();

  constructor(
    private readonly kv: KvState,
    private readonly track: (task: Promise<unknown>, what: string) => void,
    private readonly now: () => number,
    private readonly perClient: number,
  ) {}

  get size(): number {
    let n = 0;
    for (const m of this.byClient.values()) n += m.size;
    return n;
  }

  /** Reads what an earlier run left; expired rows and rows over the per-client bound are deleted. */
  load(): void {
    const rows = this.kv
      .list<{ at?: number }>(QOS2_RECEIVED)
      .map(({ key, value }) => ({ key, at: typeof value?.at === 'number' ? value.at : 0 }))
      .sort((a, b) => a.at - b.at);
    for (const { key, at } of rows) {
      const sep = key.lastIndexOf('\u0000');
      const msgId = Number(key.slice(sep + 1));
      if (sep < 0 || !Number.isInteger(msgId)) {
        this.delete(key);
        continue;
      }
      this.added(key.slice(0, sep), msgId, at);
    }
    this.purgeExpired();
  }

  /** Stored before (and not released since)? */
  has(clientId: string, msgId: number): boolean {
    const at = this.byClient.get(clientId)?.get(msgId);
    return at !== undefined && this.now() - at < QOS2_RECEIVED_TTL_MS;
  }

  /** The store committed this row (Reading.remember). */
  added(clientId: string, msgId: number, at: number): void {
    let m = this.byClient.get(clientId);
    if (!m) {
      m = new Map();
      this.byClient.set(clientId, m);
    }
    m.delete(msgId);
    m.set(msgId, at);
    while (m.size > this.perClient) {
      const oldest = m.keys().next().value as number;
      m.delete(oldest);
      this.delete(qos2Key(clientId, oldest));
    }
  }

  /** PUBREL: the exchange is over. Resolves once the row is gone. */
  forget(clientId: string, msgId: number): Promise<void> {
    const m = this.byClient.get(clientId);
    m?.delete(msgId);
    if (m?.size === 0) this.byClient.delete(clientId);
    return this.kv.delete(QOS2_RECEIVED, qos2Key(clientId, msgId));
  }

  /** Clean-session CONNECT: nothing an earlier session left applies any more. */
  forgetClient(clientId: string): void {
    const m = this.byClient.get(clientId);
    if (!m) return;
    this.byClient.delete(clientId);
    for (const msgId of m.keys()) this.delete(qos2Key(clientId, msgId));
  }

  purgeExpired(): void {
    const cutoff = this.now() - QOS2_RECEIVED_TTL_MS;
    for (const [clientId, m] of this.byClient) {
      for (const [msgId, at] of m) {
        if (at > cutoff) break; // oldest first
        m.delete(msgId);
        this.delete(qos2Key(clientId, msgId));
      }
      if (m.size === 0) this.byClient.delete(clientId);
    }
  }

  private delete(key: string): void {
    this.track(this.kv.delete(QOS2_RECEIVED, key), 'forget QoS 2 id');
  }
}
