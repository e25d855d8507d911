import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import type { Inbox } from '../../contracts/store.js';
import { CommandExpiredError, type Command, type CommandReply, type SendOutcome } from '../types.js';
import type { SerialCounters } from './counters.js';
import { frameText } from './decode/types.js';
import { waitingNow } from '../../contracts/clock.js';

export type { CommandReply };

const MAX_REMEMBERED = 10_000;

export { CommandExpiredError };

export interface CommandQueueDeps {
  /** "serial:<name>": the inbox target. */
  target: string;
  /** Port name: the inbox device key, so one port's commands drain in one order. */
  port: string;
  write(bytes: Buffer): Promise<void>;
  isOpen(): boolean;
  encode(payload: Buffer): Buffer;
  inbox: Inbox;
  ttlMs: number;
  reply?: { pattern: RegExp; timeoutMs: number };
  counters: SerialCounters['commands'];
  logger: Logger;
}

/**
 * Downlink for one port. Every write goes through one promise chain, so commands reach the device
 * in the order they were sent, queued ones (drained on reopen) before newer ones. With a reply
 * pattern the next command waits until the previous one's reply (or timeout), so replies cannot be
 * attributed to the wrong command; it waits in the durable inbox (send() resolves 'queued').
 */
export class CommandQueue {
  readonly replies$ = new Subject<CommandReply>();
  private chain: Promise<void> = Promise.resolve();
  /** Tasks on the chain not yet finished. */
  private tasks = 0;
  /** inbox.put()s not yet committed: a drain must see them, or they'd wait for the next replug. */
  private readonly puts = new Set<Promise<unknown>>();
  /** inbox row id -> the command it holds (the inbox does not store command ids; lost on restart). */
  private readonly queuedIds = new Map<number, { commandId: string; device: string }>();
  private awaiting: ((text: string) => boolean) | null = null;
  private cancelWait: (() => void) | null = null;
  private stopped = false;

  constructor(private readonly d: CommandQueueDeps) {}

  send(cmd: Command, now = waitingNow()): Promise<SendOutcome> {
    if (cmd.expiresAt !== undefined && cmd.expiresAt <= now) {
      this.d.counters.expired++;
      this.d.logger.info(
        { commandId: cmd.id, device: cmd.device },
        'command expired before delivery; dropped',
      );
      return Promise.reject(new CommandExpiredError(`command ${cmd.id} expired`));
    }
    let bytes: Buffer;
    try {
      bytes = this.d.encode(cmd.payload); // unframeable (e.g. > 255 bytes for length-crc16): refuse, never queue
    } catch (err) {
      return Promise.reject(err);
    }
    // A port that answers holds its chain until the reply (up to reply_timeout). A command that
    // would wait behind it goes to the durable inbox now and is drained in order, so the caller
    // (the upstream ack of the message that carried it) is not held for seconds.
    if (this.d.reply && this.busy() && this.d.isOpen()) return this.queue(cmd, now);
    return new Promise<SendOutcome>((resolve, reject) => {
      this.enqueue(async () => {
        try {
          if (!this.d.isOpen() || !(await this.writeOne(bytes, cmd.id, cmd.device, resolve))) {
            resolve(await this.queue(cmd, now));
          }
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  /** A write, a reply wait, a drain or an inbox put is in progress: a new command would wait. */
  private busy(): boolean {
    return this.tasks > 0 || this.puts.size > 0;
  }

  /** Port (re)opened: write what waited in the inbox, oldest first, removing each once written. */
  drain(): void {
    this.enqueue(async () => {
      for (;;) {
        await Promise.allSettled([...this.puts]);
        if (this.stopped || !this.d.isOpen()) return;
        const rows = this.d.inbox.pending(this.d.target, this.d.port, 20);
        if (rows.length === 0) return;
        for (const row of rows) {
          const meta = this.queuedIds.get(row.id) ?? {
            commandId: row.commandId ?? `inbox:${row.id}`,
            device: row.device,
          };
          let bytes: Buffer;
          try {
            bytes = this.d.encode(row.payload);
          } catch (err) {
            // Queued under another config (framing changed across a restart): it can never be sent.
            this.d.logger.error({ err, inboxId: row.id }, 'queued command cannot be framed; dropped');
            await this.d.inbox.remove([row.id], 'rejected');
            continue;
          }
          let removal: Promise<void> = Promise.resolve();
          const written = await this.writeOne(bytes, meta.commandId, meta.device, () => {
            removal = this.d.inbox.remove([row.id], 'delivered'); // right after the write, before any reply wait
          });
          if (!written) return; // port gone again: the row stays for the next reopen
          this.queuedIds.delete(row.id);
          this.d.counters.drained++;
          try {
            await removal;
          } catch (err) {
            // Stop here: draining on would reorder, and this row would be written again later.
            this.d.logger.error(
              { err, inboxId: row.id },
              'could not remove a written command from the inbox',
            );
            return;
          }
        }
      }
    });
  }

  /** A frame from the device: consumed (true) if it is the reply an in-flight command waits for. */
  offerFrame(frame: Buffer): boolean {
    return this.awaiting?.(frameText(frame)) ?? false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelWait?.();
    await this.chain;
    await Promise.allSettled([...this.puts]);
    this.replies$.complete();
  }

  private enqueue(task: () => Promise<void>): void {
    this.tasks++;
    this.chain = this.chain
      .then(task)
      .catch((err: unknown) => {
        this.d.logger.error({ err }, 'serial command queue task failed');
      })
      .finally(() => {
        this.tasks--;
      });
  }

  /**
   * Write one framed command; `onWritten` runs as soon as the bytes are out (send() resolves 'delivered'
   * there), then the reply, if any is expected, is awaited. False when the write failed.
   */
  private async writeOne(
    bytes: Buffer,
    commandId: string,
    device: string,
    onWritten: (o: 'delivered') => void,
  ) {
    const reply = this.d.reply ? this.expectReply(commandId, device, this.d.reply) : undefined;
    try {
      await this.d.write(bytes);
    } catch (err) {
      reply?.cancel();
      this.d.logger.debug({ err, commandId }, 'command write failed; queueing');
      return false;
    }
    this.d.counters.delivered++;
    onWritten('delivered');
    await reply?.done;
    return true;
  }

  private async queue(cmd: Command, now: number): Promise<SendOutcome> {
    const put = this.d.inbox.put({
      target: this.d.target,
      device: this.d.port,
      topic: cmd.topic,
      payload: cmd.payload,
      qos: cmd.qos,
      // The port's ttl bounds the wait too: the rule's own ttl (always set) must not override it.
      expiresAt: Math.min(cmd.expiresAt ?? Number.POSITIVE_INFINITY, now + this.d.ttlMs),
      commandId: cmd.id,
      meta: cmd.meta,
    });
    this.puts.add(put);
    try {
      const id = await put;
      this.queuedIds.set(id, { commandId: cmd.id, device: cmd.device });
      // Rows that expire undrained never come back; bound the map (oldest entries first).
      if (this.queuedIds.size > MAX_REMEMBERED) this.queuedIds.delete(this.queuedIds.keys().next().value!);
    } finally {
      this.puts.delete(put);
    }
    this.d.counters.queued++;
    // Reopened while we were committing: make sure this row does not wait for the next replug.
    if (this.d.isOpen()) this.drain();
    return 'queued';
  }

  private expectReply(commandId: string, device: string, r: { pattern: RegExp; timeoutMs: number }) {
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const clear = () => {
      clearTimeout(timer);
      this.awaiting = null;
      this.cancelWait = null;
      finish();
    };
    const timer = setTimeout(() => {
      clear();
      this.d.counters.replyTimeouts++;
      this.replies$.next({ commandId, device, status: 'timeout' });
    }, r.timeoutMs);
    this.awaiting = (text) => {
      const m = r.pattern.exec(text);
      if (!m) return false;
      clear();
      this.d.counters.replies++;
      this.replies$.next({
        commandId,
        device,
        status: 'ok',
        reply: text,
        ...(m.groups && { groups: { ...m.groups } }),
      });
      return true;
    };
    this.cancelWait = clear;
    return { done, cancel: clear };
  }
}
