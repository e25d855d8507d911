import type { Bus } from './bus.js';
import { decodeRead } from './decode-read.js';
import type { ReadPlan } from './planner.js';
import { ModbusRequestError } from './transport.js';
import type { PointValue } from './value.js';
import { waitingNow } from '../../contracts/clock.js';

export interface PolledDevice {
  name: string;
  unit: number;
  poll: number;
  plans: ReadPlan[];
}

/** A write the scheduler puts on the bus before the next poll request. */
export interface WriteJob {
  device: string;
  unit: number;
  fc: 5 | 6 | 15 | 16;
  address: number;
  values: number[] | boolean[];
  resolve(): void;
  reject(err: ModbusRequestError): void;
}

export interface SchedulerDeps {
  bus: Bus;
  devices: PolledDevice[];
  backoffMax: number;
  isOpen(): boolean;
  /** A poll finished with these values (the points that answered). */
  onPoll(device: string, values: Map<string, PointValue>, at: number): void;
  /** The device answered (online) or stopped answering (offline); called on changes only. */
  onState(device: string, state: 'online' | 'offline'): void;
  /** A bug in decoding or a callback: logged, and the bus goes on. */
  onError(err: unknown): void;
  now?: () => number;
}

interface DeviceRun {
  d: PolledDevice;
  nextDue: number;
  /** Index of the next read of the poll in progress (0: none in progress). */
  cursor: number;
  values: Map<string, PointValue>;
  failures: number;
  state: 'unknown' | 'online' | 'offline';
  /** When the device last had the bus: the longest-waiting due device goes next. */
  servedAt: number;
}

/**
 * Polls every device on one bus, one request at a time. Writes go first. Due polls are interleaved
 * one read at a time, longest-waiting device first, so a device with many reads or a dead one
 * (whose reads time out) cannot starve the others. A poll that times out ends there: the device is
 * reported offline and polled again after poll x 2^failures (capped at backoffMax) until it answers.
 */
export class Scheduler {
  private readonly runs: DeviceRun[];
  private readonly writes: WriteJob[] = [];
  private wakeUp: (() => void) | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly deps: SchedulerDeps) {
    this.now = deps.now ?? waitingNow;
    const t = this.now();
    this.runs = deps.devices.map((d) => ({
      d,
      nextDue: t,
      cursor: 0,
      values: new Map(),
      failures: 0,
      state: 'unknown',
      servedAt: 0,
    }));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    for (const w of this.writes.splice(0)) w.reject(new ModbusRequestError('port_closed', 'stopping'));
  }

  /** Something changed (link opened, write queued): re-plan now. */
  wake(): void {
    clearTimeout(this.timer);
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /** Whether the device answered its last poll (writes to an offline device wait in the inbox). */
  isOnline(device: string): boolean {
    return this.runs.find((r) => r.d.name === device)?.state === 'online';
  }

  write(job: WriteJob): void {
    this.writes.push(job);
    this.wake();
  }

  /** The link was lost: every device is unreachable; polls start over once it is back. */
  linkLost(): void {
    const t = this.now();
    for (const r of this.runs) {
      r.cursor = 0;
      r.values = new Map();
      r.nextDue = t;
      this.setState(r, 'offline');
    }
    for (const w of this.writes.splice(0)) w.reject(new ModbusRequestError('port_closed', 'the port closed'));
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (!this.deps.isOpen()) {
        await this.sleep(undefined);
        continue;
      }
      const write = this.writes.shift();
      if (write) {
        await this.doWrite(write);
        continue;
      }
      const now = this.now();
      const due = this.runs.filter((r) => r.cursor > 0 || r.nextDue <= now);
      if (due.length === 0) {
        await this.sleep(Math.min(...this.runs.map((r) => r.nextDue)) - now);
        continue;
      }
      const next = due.reduce((a, b) => (b.servedAt < a.servedAt ? b : a));
      try {
        await this.step(next);
      } catch (err) {
        next.cursor = 0;
        next.nextDue = this.now() + next.d.poll;
        this.deps.onError(err);
      }
    }
  }

  private async doWrite(job: WriteJob): Promise<void> {
    try {
      await this.deps.bus.exchange(job.device, (t) => t.write(job.unit, job.fc, job.address, job.values));
      job.resolve();
    } catch (err) {
      job.reject(err as ModbusRequestError);
    }
  }

  /** One read of a device's poll. */
  private async step(r: DeviceRun): Promise<void> {
    r.servedAt = this.now();
    const plan = r.d.plans[r.cursor]!;
    if (r.cursor === 0) r.values = new Map();
    r.cursor++;
    try {
      const data = await this.deps.bus.exchange(r.d.name, (t) =>
        t.read(r.d.unit, plan.fc, plan.address, plan.count),
      );
      for (const [k, v] of decodeRead(plan, data)) r.values.set(k, v);
    } catch (err) {
      const reason = (err as ModbusRequestError).reason;
      if (reason === 'port_closed' || !this.deps.isOpen()) return; // linkLost() resets the polls
      if (reason === 'timeout') return this.unanswered(r);
      // CRC, short frame, exception: this read is lost, the device is there; the poll goes on.
    }
    if (r.cursor < r.d.plans.length) return;
    const at = this.now();
    r.cursor = 0;
    r.failures = 0;
    r.nextDue = Math.max(r.nextDue + r.d.poll, at);
    this.setState(r, 'online');
    if (r.values.size > 0) this.deps.onPoll(r.d.name, r.values, at);
  }

  private unanswered(r: DeviceRun): void {
    r.cursor = 0;
    r.failures++;
    const delay = Math.min(r.d.poll * 2 ** (r.failures - 1), Math.max(this.deps.backoffMax, r.d.poll));
    r.nextDue = this.now() + delay;
    this.setState(r, 'offline');
  }

  private setState(r: DeviceRun, state: 'online' | 'offline'): void {
    if (r.state === state) return;
    r.state = state;
    this.deps.onState(r.d.name, state);
  }

  private sleep(ms: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wakeUp = resolve;
      if (ms !== undefined) this.timer = setTimeout(() => this.wake(), Math.max(0, ms));
    });
  }
}
