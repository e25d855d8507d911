import type { Logger } from 'pino';
import type { Inbox, InboxRow } from '../../contracts/store.js';
import { CommandExpiredError, type Command, type SendOutcome } from '../types.js';
import type { Scheduler } from './scheduler.js';
import type { ModbusCounters } from './stats.js';
import { ModbusRequestError } from './transport.js';
import {
  type EncodedWrite,
  ModbusCommandError,
  parseWriteCommand,
  type WriteTarget,
} from './write-command.js';
import { waitingNow } from '../../contracts/clock.js';

export { CommandExpiredError };

export interface CommandsDeps {
  /** "modbus:<bus>": the inbox target. */
  target: string;
  devices: ReadonlyMap<string, WriteTarget>;
  scheduler: Scheduler;
  isOpen(): boolean;
  inbox: Inbox;
  ttlMs: number;
  counters: ModbusCounters['writes'];
  logger: Logger;
}

/**
 * Payload `{"point": "relay", "value": true}` (optionally `"device"`, else the command's device)
 * -> one write (fc 5/6/15/16). Written now when the device answers; while the bus is down or the
 * device offline it waits in the durable inbox and is written, in order, once the device answers
 * a poll again. Invalid commands and exception answers reject (the result says 'rejected').
 */
export class ModbusCommands {
  /** Devices with commands in the inbox or being drained: newer commands queue behind them. */
  private readonly backlog = new Set<string>();
  private readonly draining = new Map<string, Promise<void>>();
  private readonly puts = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(private readonly d: CommandsDeps) {}

  /** Devices with commands left in the inbox by an earlier run: drained once they answer. */
  start(): void {
    for (const name of this.d.devices.keys())
      if (this.d.inbox.deviceTotals(this.d.target, name).rows > 0) this.backlog.add(name);
  }

  async send(cmd: Command, now = waitingNow()): Promise<SendOutcome> {
    if (cmd.expiresAt !== undefined && cmd.expiresAt <= now) {
      throw new CommandExpiredError(`command ${cmd.id} expired before delivery`);
    }
    const { device, write } = parseWriteCommand(cmd.payload, cmd.device, this.d.devices);
    if (!write) return 'unknown-device';
    if (this.backlog.has(device) || !this.reachable(device)) return this.queue(cmd, device, now);
    try {
      await this.write(device, write);
      this.d.counters.delivered++;
      return 'delivered';
    } catch (err) {
      if (!isUnreachable(err)) throw this.rejected(err);
      return this.queue(cmd, device, now);
    }
  }

  /** The device answered a poll: write what waited for it, oldest first. */
  drain(device: string): void {
    if (!this.backlog.has(device) || this.draining.has(device) || this.stopped) return;
    const run = this.drainRows(device)
      .catch((err: unknown) => this.d.logger.error({ err, device }, 'modbus command drain failed'))
      .finally(() => this.draining.delete(device));
    this.draining.set(device, run);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.draining.values(), ...this.puts]);
  }

  private async drainRows(device: string): Promise<void> {
    for (;;) {
      await Promise.allSettled([...this.puts]);
      if (this.stopped || !this.reachable(device)) return;
      const rows = this.d.inbox.pending(this.d.target, device, 20);
      if (rows.length === 0) {
        if (this.puts.size > 0) continue; // a command being committed now: drain it too
        this.backlog.delete(device);
        return;
      }
      for (const row of rows) {
        if (!(await this.drainOne(device, row))) return;
      }
    }
  }

  /** False when the device stopped answering: the row stays for its next answer. */
  private async drainOne(device: string, row: InboxRow): Promise<boolean> {
    let write: EncodedWrite;
    try {
      const parsed = parseWriteCommand(row.payload, device, this.d.devices);
      if (!parsed.write || parsed.device !== device) throw new ModbusCommandError(`not for device ${device}`);
      write = parsed.write;
    } catch (err) {
      // The config changed across a restart (point gone, no longer writable): it can never be written.
      this.d.logger.warn(
        { err, inboxId: row.id, device },
        'queued modbus command is no longer valid; dropped',
      );
      await this.d.inbox.remove([row.id], 'rejected');
      return true;
    }
    try {
      await this.write(device, write);
    } catch (err) {
      if (isUnreachable(err)) return false;
      this.rejected(err);
      await this.d.inbox.remove([row.id], 'rejected');
      return true;
    }
    this.d.counters.drained++;
    await this.d.inbox.remove([row.id], 'delivered');
    return true;
  }

  private reachable(device: string): boolean {
    return this.d.isOpen() && this.d.scheduler.isOnline(device);
  }

  private write(device: string, w: EncodedWrite): Promise<void> {
    const unit = this.d.devices.get(device)!.unit;
    return new Promise<void>((resolve, reject) => {
      this.d.scheduler.write({ device, unit, ...w, resolve, reject });
    });
  }

  private async queue(cmd: Command, device: string, now: number): Promise<SendOutcome> {
    this.backlog.add(device);
    const put = this.d.inbox.put({
      target: this.d.target,
      device,
      topic: cmd.topic,
      payload: cmd.payload,
      qos: cmd.qos,
      expiresAt: Math.min(cmd.expiresAt ?? Number.POSITIVE_INFINITY, now + this.d.ttlMs),
      commandId: cmd.id,
      ...(cmd.meta && { meta: cmd.meta }),
    });
    this.puts.add(put);
    try {
      await put;
    } finally {
      this.puts.delete(put);
    }
    this.d.counters.queued++;
    // It came back while we were committing: do not wait for its next state change.
    if (this.reachable(device)) this.drain(device);
    return 'queued';
  }

  private rejected(err: unknown): Error {
    this.d.counters.rejected++;
    return err instanceof ModbusRequestError
      ? new ModbusCommandError(`device refused the write: ${err.message}`)
      : (err as Error);
  }
}

function isUnreachable(err: unknown): boolean {
  return err instanceof ModbusRequestError && (err.reason === 'timeout' || err.reason === 'port_closed');
}
