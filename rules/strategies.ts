import type { OutboxMessage } from '../contracts/store.js';

/** `report:` of an uplink rule (durations already in ms). */
export interface ReportConfig {
  /** Publish only when the payload bytes differ from the last published ones. */
  on_change: boolean;
  /** Numeric payload (or a JSON object with one numeric field): publish only when it moved by more than this. */
  deadband?: number;
  /** At most one message per output topic per this many ms; the rest are dropped as 'throttled'. */
  throttle?: number;
  /** Re-publish the latest value when nothing was published on the topic for this many ms (via tick()). */
  heartbeat?: number;
}

export type Verdict = { publish: true } | { publish: false; reason: 'throttled' | 'unchanged' | 'deadband' };

interface TopicState {
  /** Last message seen for the topic (after transform), published or not: heartbeats re-send it. */
  latest: OutboxMessage;
  /** What went out last and when; the on_change/deadband baseline and the throttle/heartbeat clock. */
  published?: { payload: Buffer; value: number | undefined; at: number };
}

/**
 * Output topics one rule keeps state for. Beyond it the topic seen longest ago (by first sight) is
 * forgotten: its next message goes out as if it were the first. A site has far fewer topics; only a
 * topic template with an unbounded part (a timestamp, a counter) gets here, and memory stays bounded.
 */
export const MAX_REPORT_TOPICS = 100_000;

/**
 * Report-strategy state of one rule, per output topic. The only mutable part of a RuleEngine; the
 * number of entries is the number of distinct output topics of the rule, at most MAX_REPORT_TOPICS.
 */
export class ReportState {
  private topics = new Map<string, TopicState>();

  constructor(
    readonly config: ReportConfig,
    private readonly maxTopics = MAX_REPORT_TOPICS,
  ) {}

  /** Topics with state (for tests and stats). */
  get size(): number {
    return this.topics.size;
  }

  /** Decide whether `msg` goes out now; records it either way. */
  offer(msg: OutboxMessage, now: number): Verdict {
    const { on_change, deadband, throttle } = this.config;
    let state = this.topics.get(msg.topic);
    if (!state) {
      if (this.topics.size >= this.maxTopics) this.topics.delete(this.topics.keys().next().value!);
      state = { latest: msg };
      this.topics.set(msg.topic, state);
    }
    state.latest = msg;
    const last = state.published;
    const value = numericValue(msg.payload);
    if (last) {
      if (throttle !== undefined && now - last.at < throttle) return { publish: false, reason: 'throttled' };
      if (deadband !== undefined && value !== undefined && last.value !== undefined) {
        if (Math.abs(value - last.value) <= deadband) return { publish: false, reason: 'deadband' };
      } else if ((on_change || deadband !== undefined) && last.payload.equals(msg.payload)) {
        // A deadband rule whose payload is not numeric falls back to on-change.
        return { publish: false, reason: 'unchanged' };
      }
    }
    state.published = { payload: msg.payload, value, at: now };
    return { publish: true };
  }

  /** Heartbeats due at `now`: the latest value of every topic silent for `heartbeat` ms. */
  due(now: number): OutboxMessage[] {
    const every = this.config.heartbeat;
    if (every === undefined) return [];
    const out: OutboxMessage[] = [];
    for (const state of this.topics.values()) {
      if (!state.published || now - state.published.at < every) continue;
      const msg = { ...state.latest, receivedAt: now };
      state.published = { payload: msg.payload, value: numericValue(msg.payload), at: now };
      out.push(msg);
    }
    return out;
  }

  /** Carry state over from the same rule of a previous engine (config reload). */
  adopt(old: ReportState): void {
    this.topics = new Map([...old.topics].map(([k, v]) => [k, { ...v }]));
  }
}

/** A number payload ("21.5") or a JSON object with exactly one numeric field ({"temp": 21.5}). */
export function numericValue(payload: Buffer): number | undefined {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v === 'number') return v;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const nums = Object.values(v).filter((x): x is number => typeof x === 'number');
    if (nums.length === 1 && Object.keys(v).length === 1) return nums[0];
  }
  return undefined;
}
