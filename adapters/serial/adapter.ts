import type { Transform } from 'node:stream';
import type { Logger } from 'pino';
import { type BehaviorSubject, type Observable, Subject, type Subscription } from 'rxjs';
import type { Inbox } from '../../contracts/store.js';
import type { Command, DeviceEvent, DeviceReportingAdapter, Reading, SendOutcome } from '../types.js';
import { CommandQueue, type CommandReply } from './commands.js';
import { compileConfig, type SerialConfigView } from './compiled.js';
import type { SerialPortConfig } from './config.js';
import { newCounters, type SerialCounters } from './counters.js';
import { createFrameHandler } from './frame-handler.js';
import { createFramer } from './framing/index.js';
import { type PortState, ReopeningPort } from './port.js';
import { SerialPresence } from './presence.js';
import { waitingNow } from '../../contracts/clock.js';

export interface SerialAdapterOptions {
  /** One entry of `serial:` in the config (parsed, defaults applied). */
  config: SerialPortConfig;
  logger: Logger;
  /** Durable inbox: commands wait here (target "serial:<name>", device = port name) while the port is away. */
  inbox: Inbox;
}

/**
 * One serial port as an Adapter: bytes -> frames -> Readings, Commands -> framed bytes.
 * The constructor does nothing; start() begins opening and never fails for an absent port.
 */
export class SerialAdapter implements DeviceReportingAdapter {
  readonly name: string;
  readonly counters: SerialCounters = newCounters();
  private readonly out = new Subject<Reading>();
  readonly readings$: Observable<Reading> = this.out.asObservable();
  private readonly port: ReopeningPort;
  private readonly commands: CommandQueue;
  private readonly logger: Logger;
  private readonly subs: Subscription[] = [];
  private readonly compiled: SerialConfigView;
  private framer: Transform | null = null;
  private readonly presence: SerialPresence;
  /** Port open/closed and device silence (`silence_timeout`) as device availability. */
  readonly devices$: Observable<DeviceEvent>;
  private sweepTimer: NodeJS.Timeout | undefined;
  private started = false;

  /** A port with acks configured is one sender (its device may send more while it waits). */
  senders(): number {
    return this.opts.config.ack ? 1 : 0;
  }

  constructor(private readonly opts: SerialAdapterOptions) {
    this.name = `serial:${opts.config.name}`;
    this.logger = opts.logger.child({ adapter: this.name });
    this.port = new ReopeningPort(opts.config, this.counters.port, this.logger);
    this.presence = new SerialPresence(this.name, opts.config.name, opts.config.silence_timeout);
    this.devices$ = this.presence.events$.asObservable();
    // Pure preparation (templates, regexes); no I/O happens before start().
    this.compiled = compileConfig(opts.config);
    const c = opts.config;
    const replyPattern = this.compiled.replyPattern;
    this.commands = new CommandQueue({
      target: this.name,
      port: c.name,
      write: (b) => this.port.write(b),
      isOpen: () => this.port.isOpen,
      encode: this.compiled.encodeCommand,
      inbox: opts.inbox,
      ttlMs: c.commands.ttl,
      ...(replyPattern && { reply: { pattern: replyPattern, timeoutMs: c.commands.reply_timeout } }),
      counters: this.counters.commands,
      logger: this.logger,
    });
  }

  /** 'open' | 'closed' | 'retrying'; replays the current state to new subscribers. */
  get state$(): BehaviorSubject<PortState> {
    return this.port.state$;
  }

  /** Replies to commands on request/response ports, for the gateway to publish as command results. */
  get replies$(): Observable<CommandReply> {
    return this.commands.replies$.asObservable();
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const handler = createFrameHandler({
      compiled: this.compiled,
      counters: this.counters,
      logger: this.logger,
      emit: (r) => {
        this.presence.seen(r.device, r.receivedAt);
        this.out.next(r);
      },
      takeReply: (f) => this.commands.offerFrame(f),
      writeAck: (b) => this.port.write(b),
    });
    this.subs.push(
      this.port.state$.subscribe((state) => {
        this.presence.port(state, waitingNow());
        this.framer?.destroy();
        this.framer = null;
        if (state !== 'open') return;
        // A fresh framer per open session: a frame torn by an unplug is not glued to the next one.
        const framer = createFramer(this.opts.config, handler.onDrop);
        framer.on('data', (frame: Buffer) => handler.onFrame(frame));
        framer.on('error', (err) => this.logger.error({ err }, 'serial framer failed'));
        this.framer = framer;
        this.commands.drain();
      }),
      this.port.data$.subscribe((chunk) => this.framer?.write(chunk)),
    );
    this.port.start();
    const silence = this.opts.config.silence_timeout;
    if (silence !== undefined) {
      // Checked a few times per timeout so "lost" is late by at most a quarter of it (and at most 1 s).
      this.sweepTimer = setInterval(() => this.presence.sweep(waitingNow()), Math.min(1000, silence / 4));
      this.sweepTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (!this.started) {
      this.presence.stop();
      this.out.complete();
      return;
    }
    clearInterval(this.sweepTimer);
    await this.port.stop();
    await this.commands.stop();
    for (const s of this.subs.splice(0)) s.unsubscribe();
    this.framer?.destroy();
    this.framer = null;
    this.presence.stop();
    this.out.complete();
  }

  send(command: Command): Promise<SendOutcome> {
    if (command.target !== this.name) return Promise.resolve('unknown-device');
    return this.commands.send(command);
  }
}
