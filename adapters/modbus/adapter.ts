import type { Logger } from 'pino';
import { type BehaviorSubject, type Observable, Subject, type Subscription } from 'rxjs';
import type { Inbox } from '../../contracts/store.js';
import type { Command, DeviceEvent, DeviceReportingAdapter, Reading, SendOutcome } from '../types.js';
import { Bus } from './bus.js';
import { ModbusCommands } from './commands.js';
import type { ModbusBusConfig } from './config.js';
import { Link, type LinkState } from './link.js';
import { planReads } from './planner.js';
import { resolvePoints } from './points.js';
import { type ReadingContext, readingContext, toReadings } from './readings.js';
import { Scheduler } from './scheduler.js';
import { type ModbusCounters, type ModbusStat, newCounters } from './stats.js';
import { ModbusSerialTransport, type Transport } from './transport.js';
import type { WriteTarget } from './write-command.js';
import { waitingNow } from '../../contracts/clock.js';

export interface ModbusAdapterOptions {
  /** One entry of `modbus:` (parsed, defaults applied). */
  config: ModbusBusConfig;
  logger: Logger;
  /** Durable inbox: writes wait here (target "modbus:<bus>", device = device name) while unreachable. */
  inbox: Inbox;
  /** Tests may hand in another transport. */
  transport?: Transport;
}

/**
 * One Modbus bus (RTU serial port or TCP connection) as an Adapter: polls -> Readings, write
 * commands -> fc 5/6/15/16. The constructor does nothing that touches the wire; start() opens.
 */
export class ModbusAdapter implements DeviceReportingAdapter {
  readonly name: string;
  readonly counters: ModbusCounters = newCounters();
  private readonly out = new Subject<Reading>();
  readonly readings$: Observable<Reading> = this.out.asObservable();
  private readonly devicesOut = new Subject<DeviceEvent>();
  readonly devices$: Observable<DeviceEvent> = this.devicesOut.asObservable();
  private readonly statsOut = new Subject<ModbusStat>();
  /** Every request (round trip) and failure (reason), for metrics. */
  readonly stats$: Observable<ModbusStat> = this.statsOut.asObservable();
  private readonly link: Link;
  private readonly scheduler: Scheduler;
  private readonly commands: ModbusCommands;
  private readonly contexts = new Map<string, ReadingContext>();
  private readonly logger: Logger;
  private sub: Subscription | undefined;
  private started = false;

  constructor(opts: ModbusAdapterOptions) {
    const c = opts.config;
    this.name = `modbus:${c.name}`;
    this.logger = opts.logger.child({ adapter: this.name });
    const transport = opts.transport ?? new ModbusSerialTransport(c);
    this.link = new Link(transport, c.reopen, this.counters.link, this.logger, c.path ?? `tcp ${c.tcp}`);
    const bus = new Bus({
      bus: c.name,
      transport,
      gap: c.gap ?? (c.path !== undefined ? 20 : 0),
      retries: c.retries,
      counters: this.counters,
      stats: this.statsOut,
      logger: this.logger,
    });
    const targets = new Map<string, WriteTarget>();
    const polled = c.devices.map((d) => {
      const points = resolvePoints(d);
      targets.set(d.name, { unit: d.unit, points: new Map(points.map((p) => [p.name, p])) });
      this.contexts.set(
        d.name,
        readingContext(this.name, c.name, d.name, d.topic ?? c.topic, d.qos ?? c.qos, d.retain ?? c.retain),
      );
      return {
        name: d.name,
        unit: d.unit,
        poll: d.poll,
        plans: planReads(points, c.max_registers, c.merge_gap),
      };
    });
    this.scheduler = new Scheduler({
      bus,
      devices: polled,
      backoffMax: c.backoff_max,
      isOpen: () => this.link.isOpen,
      onPoll: (device, values, at) => {
        this.counters.polls++;
        const readings = toReadings(this.contexts.get(device)!, values, at);
        this.counters.readings += readings.length;
        for (const r of readings) this.out.next(r);
        // Also after every answer, not only on the change to online: a drain cut short by one
        // unanswered write resumes at the next poll. A no-op without a backlog.
        this.commands.drain(device);
      },
      onError: (err) => this.logger.error({ err }, 'modbus poll step failed'),
      onState: (device, state) => {
        if (state === 'online') this.logger.info({ device, state }, 'modbus device answers');
        else this.logger.warn({ device, state }, 'modbus device not answering; polled again with backoff');
        this.devicesOut.next({ source: this.name, device, state, at: waitingNow() });
        if (state === 'online') this.commands.drain(device);
      },
    });
    this.commands = new ModbusCommands({
      target: this.name,
      devices: targets,
      scheduler: this.scheduler,
      isOpen: () => this.link.isOpen,
      inbox: opts.inbox,
      ttlMs: c.command_ttl,
      counters: this.counters.writes,
      logger: this.logger,
    });
  }

  /** 'open' | 'closed' | 'retrying'; replays the current state to new subscribers. */
  get state$(): BehaviorSubject<LinkState> {
    return this.link.state$;
  }

  /** The bus is open (port or TCP connection): a config change is confirmed only then. */
  get isOpen(): boolean {
    return this.link.isOpen;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.sub = this.link.state$.subscribe((s) => {
      if (s === 'open') this.scheduler.wake();
      else if (s === 'retrying') this.scheduler.linkLost();
    });
    this.commands.start();
    this.scheduler.start();
    this.link.start();
  }

  async stop(): Promise<void> {
    if (this.started) {
      // Stop taking work, then close the link: that settles the request on the wire at once
      // (port_closed) instead of waiting out its timeout. Queued writes stay in the inbox.
      const stopping = this.scheduler.stop();
      await this.link.stop();
      await stopping;
      await this.commands.stop();
      this.sub?.unsubscribe();
    }
    this.out.complete();
    this.devicesOut.complete();
    this.statsOut.complete();
  }

  send(command: Command): Promise<SendOutcome> {
    if (command.target !== this.name) return Promise.resolve('unknown-device');
    return this.commands.send(command);
  }
}
