import type { QoS } from '../types.js';

export interface DownMsg {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Set for commands: kept with the inbox row so the gateway can report their fate. */
  commandId?: string;
  meta?: Record<string, unknown>;
}

/** delivered: written (QoS 0) or acked; rejected: the device answered with an error code; failed: no answer. */
export type DownResult = 'delivered' | 'rejected' | 'failed';

/** Bytes held by in-memory downlink queues: in total and per source address (the device's host). */
export interface DownlinkMemory {
  used: number;
  readonly max: number;
  readonly bySource: Map<string, number>;
  readonly maxPerSource: number;
}

/**
 * What a queue needs from the device and adapter around it (device-exchange.ts builds it): the bounds, the
 * exchange itself and where outcomes go. Passed in, so the queue (held by each Session) imports neither.
 */
export interface QueueTarget {
  /** The source address (the device's host) the bytes count against. */
  readonly source: string | undefined;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly memory: DownlinkMemory;
  /** One exchange with the device. */
  deliver(msg: DownMsg): Promise<DownResult>;
  /** `deliver` threw: the message counts as failed. */
  crashed(err: unknown): void;
  /** Each message's outcome, once its bytes are given back, before its promise resolves. */
  settled(msg: DownMsg, r: DownResult): void;
}

/**
 * What a queued message costs beyond its payload and topic (job, promise, closures): counted so that
 * a flood of empty messages is bounded too.
 */
const JOB_OVERHEAD = 256;

interface Job {
  msg: DownMsg;
  bytes: number;
  done: (r: DownResult) => void;
  mem: DownlinkMemory;
  /** The source address the bytes were counted against. */
  source: string | undefined;
}

/** Give a job's bytes back to the totals it was counted in. */
function releaseJob(j: Job): void {
  j.mem.used -= j.bytes;
  if (j.source === undefined) return;
  const left = (j.mem.bySource.get(j.source) ?? 0) - j.bytes;
  if (left > 0) j.mem.bySource.set(j.source, left);
  else j.mem.bySource.delete(j.source);
}

/** One downlink exchange at a time per device (MQTT-SN devices handle one in flight), in order. */
export class DownlinkQueue {
  private jobs: Job[] = [];
  private running = false;
  bytes = 0;

  /**
   * undefined when a bound would be exceeded: this device's queued messages or bytes, those of every
   * device at its source address, or the memory of every device's queue together (devices that never
   * ack must not grow the process).
   */
  push(t: QueueTarget, msg: DownMsg): Promise<DownResult> | undefined {
    const bytes = msg.payload.length + msg.topic.length + JOB_OVERHEAD;
    const mem = t.memory;
    const source = t.source;
    const atSource = source === undefined ? 0 : (mem.bySource.get(source) ?? 0);
    if (
      this.jobs.length >= t.maxMessages ||
      this.bytes + bytes > t.maxBytes ||
      atSource + bytes > mem.maxPerSource ||
      mem.used + bytes > mem.max
    )
      return undefined;
    this.bytes += bytes;
    mem.used += bytes;
    if (source !== undefined) mem.bySource.set(source, atSource + bytes);
    const p = new Promise<DownResult>((done) => this.jobs.push({ msg, bytes, done, mem, source }));
    void this.run(t);
    return p;
  }

  failAll(): void {
    for (const j of this.jobs.splice(0)) {
      this.bytes -= j.bytes;
      releaseJob(j);
      j.done('failed');
    }
  }

  private async run(t: QueueTarget): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let job = this.jobs.shift(); job; job = this.jobs.shift()) {
        let r: DownResult = 'failed';
        try {
          r = await t.deliver(job.msg);
        } catch (e) {
          t.crashed(e);
        }
        this.bytes -= job.bytes;
        releaseJob(job);
        t.settled(job.msg, r);
        job.done(r);
      }
    } finally {
      this.running = false;
    }
  }
}
