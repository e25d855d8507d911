import type { Inbox, InboxLimits, InboxOutcome, InboxPut, InboxRow, KvEntry } from '../../contracts/store.js';

/** Rows handed out by pending() that await their remove(): bounded, oldest forgotten first. */
const MAX_TRACKED = 10_000;

/**
 * The inbox as adapters see it: the store's inbox, plus a report when an adapter removes a row with
 * an outcome (a command delivered from the inbox after the device woke or its port came back), so
 * the gateway can count it and publish it on the command's result topic. Only command rows (with a
 * command id; not MQTT-SN subscription traffic) are tracked between pending() and remove().
 */
export class ReportingInbox implements Inbox {
  private readonly handedOut = new Map<number, InboxRow>();

  constructor(
    private readonly inner: Inbox,
    private readonly onRemoved: (row: InboxRow, outcome: InboxOutcome) => void,
  ) {}

  get expired$() {
    return this.inner.expired$;
  }

  put(cmd: InboxPut, limits?: InboxLimits): Promise<number> {
    return this.inner.put(cmd, limits);
  }

  deviceTotals(target: string, device: string): { rows: number; bytes: number } {
    return this.inner.deviceTotals(target, device);
  }

  removeDeviceTraffic(target: string, device: string): Promise<number> {
    return this.inner.removeDeviceTraffic(target, device);
  }

  putAll(cmds: InboxPut[], opts?: { remember?: KvEntry }): Promise<number[]> {
    return this.inner.putAll(cmds, opts);
  }

  totalsUnder(prefix: string): { rows: number; bytes: number } {
    return this.inner.totalsUnder(prefix);
  }

  devices(prefix: string): { target: string; device: string }[] {
    return this.inner.devices(prefix);
  }

  pending(target: string, device: string, limit?: number): InboxRow[] {
    const rows = this.inner.pending(target, device, limit);
    for (const r of rows) {
      if (r.commandId === null) continue; // a command (not subscription traffic): counted and maybe reported
      this.handedOut.delete(r.id); // re-inserted: newest last
      this.handedOut.set(r.id, r);
      if (this.handedOut.size > MAX_TRACKED) this.handedOut.delete(this.handedOut.keys().next().value!);
    }
    return rows;
  }

  async remove(ids: number[], outcome?: InboxOutcome): Promise<void> {
    await this.inner.remove(ids, outcome);
    for (const id of ids) {
      const row = this.handedOut.get(id);
      this.handedOut.delete(id);
      if (row && outcome) this.onRemoved(row, outcome);
    }
  }

  expire(now?: number): Promise<InboxRow[]> {
    return this.inner.expire(now);
  }

  count(): number {
    return this.inner.count();
  }
}
