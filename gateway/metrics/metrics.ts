import { processBytesWritten } from './disk-writes.js';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricSink } from '../../contracts/metric-sink.js';
import { PlainHistogram } from './plain-histogram.js';
import { waitingNow } from '../../contracts/clock.js';

/** What the gauges read at scrape time. OutboxStats from the store fits OutboxSource. */
export interface OutboxSource {
  rows: number;
  bytes: number;
  /** Waiting-clock ms of the oldest row, null when empty. */
  oldestAt: number | null;
}
export interface InboxSource {
  rows: number;
}
export interface UpstreamSource {
  connected: boolean;
  /** QoS 1/2 PUBLISHes written and not yet acknowledged. */
  inflight: number;
  /** upstream.url entries (credentials redacted) and the one in use or being tried. */
  brokers?: { urls: string[]; current: string };
}

/** What /health says now (for the health gauges). */
export interface HealthSource {
  status: 'ok' | 'degraded' | 'unavailable';
  /** Store writes reach the disk (false after SQLITE_FULL / an I/O error until a write commits). */
  storeOk: boolean;
  /** Writes the disk refused since start (monotonic). */
  storeWriteErrors: number;
}

export interface MetricsOptions {
  /** process_* and nodejs_* metrics; on by default. */
  defaultMetrics?: boolean;
  /** Clock for outbox age (tests). */
  now?: () => number;
  logger?: { warn(obj: object, msg?: string): void };
}

/** Seconds: a live message is acked in ms; a backlog after an outage can be hours or days old (max_age 7d). */
export const E2E_LATENCY_BUCKETS = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
  900,
  3600,
  4 * 3600,
  12 * 3600,
  86400,
  3 * 86400,
  7 * 86400,
];
/** Seconds: one group commit, fsync included (an SD card can take 100s of ms). */
export const STORE_COMMIT_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

const P = 'fieldgate_';
const QOS_LABEL = ['0', '1', '2'];

/** A counter's values from plain monotonic counts (a Counter has no set: reset, then inc). */
function mirror<L extends string>(c: Counter<L>, counts: ReadonlyMap<string, number>, label: L): void {
  c.reset();
  for (const [value, n] of counts) c.inc({ [label]: value } as Partial<Record<L, string>>, n);
}

/**
 * Every fieldgate metric, in a private Registry so tests (and several
 * gateways in one process) do not collide. Counters and histograms are
 * pushed by the code that sees the event; gauges of current state are
 * pulled at scrape time from the sources the integrator registers, so a
 * scrape never scans anything and is never stale.
 */
/**
 * prom-client's process_* and nodejs_* collectors, once per process: each collectDefaultMetrics
 * call adds a GC observer and event-loop monitor that nothing removes, and a gateway restarted in
 * this process (remote management) builds a new Metrics each time.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly withProcess: boolean;

  readonly messagesIn: Counter<'source'>;
  readonly messagesOut: Counter<'qos'>;
  readonly messagesDropped: Counter<'source' | 'reason'>;
  readonly upstreamReconnects: Counter;
  readonly outboxSetAside: Counter<'reason'>;
  readonly upstreamRetries: Counter<'reason'>;
  readonly upstreamQosDowngraded: Counter<'reason'>;
  readonly commands: Counter<'target' | 'outcome'>;
  readonly clockSteps: Counter<'direction'>;
  readonly e2eLatency: PlainHistogram;
  readonly storeCommit: PlainHistogram;
  /** Where adapters contribute their own metrics (adapters/registry.ts). */
  readonly sink: MetricSink;

  private outboxSource: (() => OutboxSource) | undefined;
  private inboxSource: (() => InboxSource) | undefined;
  private upstreamSource: (() => UpstreamSource) | undefined;
  private healthSource: (() => HealthSource) | undefined;
  private clockSource: (() => 'synchronized' | 'unsynchronized' | 'unknown') | undefined;
  private readonly now: () => number;
  private readonly logger: MetricsOptions['logger'];
  private readonly warnedSources = new Set<string>();
  /** messages_in_total by source, messages_out_total by QoS: monotonic, mirrored at scrape. */
  private readonly inCounts = new Map<string, number>();
  private readonly outCounts = new Map<string, number>();

  constructor(opts: MetricsOptions = {}) {
    this.now = opts.now ?? waitingNow;
    this.logger = opts.logger;
    const registers = [this.registry];
    this.withProcess = opts.defaultMetrics !== false;
    if (this.withProcess) processMetrics();

    // Counted per message in plain numbers (a labelled inc() hashes its labels every time), read on scrape.
    const inCounts = this.inCounts;
    this.messagesIn = new Counter({
      name: `${P}messages_in_total`,
      help: 'Readings received from devices, by source (serial:<port>, mqttsn).',
      labelNames: ['source'],
      registers,
      collect() {
        mirror(this, inCounts, 'source');
      },
    });
    const outCounts = this.outCounts;
    this.messagesOut = new Counter({
      name: `${P}messages_out_total`,
      help: 'Messages delivered upstream (broker ack for QoS 1/2, written for QoS 0), by QoS.',
      labelNames: ['qos'],
      registers,
      collect() {
        mirror(this, outCounts, 'qos');
      },
    });
    this.messagesDropped = new Counter({
      name: `${P}messages_dropped_total`,
      help: 'Messages dropped, by source and reason (max_rows, max_bytes, max_age, reject_new, oversize, ...).',
      labelNames: ['source', 'reason'],
      registers,
    });
    this.upstreamReconnects = new Counter({
      name: `${P}upstream_reconnects_total`,
      help: 'Upstream connections established after the first one.',
      registers,
    });
    this.outboxSetAside = new Counter({
      name: `${P}outbox_set_aside_total`,
      help: 'Outbox rows set aside (kept, no longer sent) because the broker would not take them, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.upstreamRetries = new Counter({
      name: `${P}upstream_publish_retries_total`,
      help: 'PUBLISHes the broker refused for now (MQTT 5 reason: quota_exceeded, ...) and that are sent again later, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.upstreamQosDowngraded = new Counter({
      name: `${P}upstream_qos_downgraded_total`,
      help: 'QoS 2 messages the broker took at QoS 1, by reason: puback (it answered a QoS 2 PUBLISH with PUBACK), broker_maximum_qos (sent as QoS 1 to a broker that takes no more).',
      labelNames: ['reason'],
      registers,
    });
    this.commands = new Counter({
      name: `${P}commands_total`,
      help: 'Commands to devices, by target and outcome (sent, queued, expired, failed, ...).',
      labelNames: ['target', 'outcome'],
      registers,
    });
    this.clockSteps = new Counter({
      name: `${P}clock_steps_total`,
      help: 'Wall-clock steps seen (wall minus monotonic time moved by more than a second), by direction.',
      labelNames: ['direction'],
      registers,
    });
    // Observed per message / per commit: plain counts, exported on scrape.
    this.e2eLatency = new PlainHistogram(
      `${P}e2e_latency_seconds`,
      'Time from receiving a reading to the broker acknowledging it.',
      E2E_LATENCY_BUCKETS,
      registers,
    );
    this.storeCommit = new PlainHistogram(
      `${P}store_commit_seconds`,
      'Duration of one SQLite group commit, until durable (with power-loss: its WAL fsync included).',
      STORE_COMMIT_BUCKETS,
      registers,
    );

    const pull = <T>(name: string, source: (() => T) | undefined, apply: (v: T) => void): void => {
      if (!source) return;
      try {
        apply(source());
      } catch (err) {
        // A broken source must not take /metrics down; its gauges keep their last value.
        if (!this.warnedSources.has(name)) {
          this.warnedSources.add(name);
          this.logger?.warn({ err, source: name }, 'metrics source failed; its gauges are stale');
        }
      }
    };
    const gauge = <L extends string = never>(
      name: string,
      help: string,
      collect: (g: Gauge<L>) => void,
      labelNames: L[] = [],
    ) =>
      new Gauge<L>({
        name: `${P}${name}`,
        help,
        labelNames,
        registers,
        collect() {
          collect(this);
        },
      });

    gauge(
      'clock_synchronized',
      'Whether the wall clock is synchronized (NTP): 1 yes, 0 no, -1 cannot tell (no systemd).',
      (g) =>
        pull('clock', this.clockSource, (s) =>
          g.set(s === 'synchronized' ? 1 : s === 'unsynchronized' ? 0 : -1),
        ),
    );
    gauge('outbox_rows', 'Messages waiting in the outbox.', (g) =>
      pull('outbox', this.outboxSource, (s) => g.set(s.rows)),
    );
    gauge('outbox_bytes', 'Payload bytes waiting in the outbox.', (g) =>
      pull('outbox', this.outboxSource, (s) => g.set(s.bytes)),
    );
    gauge('outbox_oldest_age_seconds', 'Age of the oldest outbox message; 0 when empty.', (g) =>
      pull('outbox', this.outboxSource, (s) =>
        g.set(s.oldestAt === null ? 0 : Math.max(0, (this.now() - s.oldestAt) / 1000)),
      ),
    );
    gauge('inbox_rows', 'Commands waiting for sleeping or unplugged devices.', (g) =>
      pull('inbox', this.inboxSource, (s) => g.set(s.rows)),
    );
    gauge('upstream_connected', '1 while connected to the upstream broker, else 0.', (g) =>
      pull('upstream', this.upstreamSource, (s) => g.set(s.connected ? 1 : 0)),
    );
    gauge<'url'>(
      'upstream_broker',
      '1 for the upstream broker URL in use (or being tried), 0 for the other upstream.url entries.',
      (g) =>
        pull('upstream', this.upstreamSource, (s) => {
          if (!s.brokers) return;
          for (const url of s.brokers.urls) g.set({ url }, url === s.brokers.current ? 1 : 0);
        }),
      ['url'],
    );
    gauge('upstream_inflight', 'QoS 1/2 messages sent upstream and not yet acknowledged.', (g) =>
      pull('upstream', this.upstreamSource, (s) => g.set(s.inflight)),
    );
    gauge<'status'>(
      'health_status',
      'What /health answers now: 1 for the current status (ok, degraded, unavailable), 0 for the others.',
      (g) =>
        pull('health', this.healthSource, (h) => {
          for (const status of ['ok', 'degraded', 'unavailable'] as const)
            g.set({ status }, h.status === status ? 1 : 0);
        }),
      ['status'],
    );
    gauge(
      'store_write_ok',
      '1 while store writes succeed; 0 from a storage error (disk full, I/O) until a write commits.',
      (g) => pull('health', this.healthSource, (h) => g.set(h.storeOk ? 1 : 0)),
    );
    const healthSource = () => this.healthSource;
    new Counter({
      name: `${P}store_write_errors_total`,
      help: 'Store writes failed by the disk (SQLITE_FULL, I/O error, failed fsync); the device or sender retries them.',
      registers,
      collect() {
        pull('health', healthSource(), (h) => {
          this.reset();
          this.inc(h.storeWriteErrors);
        });
      },
    });
    new Counter({
      name: `${P}store_bytes_written_total`,
      help: 'Bytes the gateway process made the disk write (write_bytes of /proc/self/io: store WAL, database, logs to files). SD-card wear: divide its rate by readings in.',
      registers,
      collect() {
        const bytes = processBytesWritten();
        this.reset();
        if (bytes !== undefined) this.inc(bytes);
      },
    });

    // Adapters' own metrics, declared by their descriptors through this (the same registry and guards).
    this.sink = {
      counter: (def) => {
        const c = new Counter({
          ...def,
          name: `${P}${def.name}`,
          labelNames: [...(def.labelNames ?? [])],
          registers,
        });
        return { inc: (labels, n = 1) => c.inc(labels, n) };
      },
      histogram: (def) => {
        const h = new Histogram({
          ...def,
          name: `${P}${def.name}`,
          labelNames: [...(def.labelNames ?? [])],
          buckets: [...def.buckets],
          registers,
        });
        return { observe: (labels, v) => h.observe(labels, v) };
      },
      pulled: (def) => {
        const { name, help, type, read } = def;
        const labelNames = [...(def.labelNames ?? [])];
        // reset() first: a sample no longer read stops being exported (a Counter has no set: reset, then inc).
        const collect = (m: Gauge<string> | Counter<string>) =>
          pull(name, read, (samples) => {
            const next = [...samples];
            m.reset();
            for (const s of next) m instanceof Gauge ? m.set(s.labels, s.value) : m.inc(s.labels, s.value);
          });
        const opts = { name: `${P}${name}`, help, labelNames, registers };
        if (type === 'gauge')
          new Gauge({
            ...opts,
            collect() {
              collect(this);
            },
          });
        else
          new Counter({
            ...opts,
            collect() {
              collect(this);
            },
          });
      },
    };
  }

  setOutboxSource(fn: () => OutboxSource): void {
    this.outboxSource = fn;
  }
  setInboxSource(fn: () => InboxSource): void {
    this.inboxSource = fn;
  }
  setUpstreamSource(fn: () => UpstreamSource): void {
    this.upstreamSource = fn;
  }
  setHealthSource(fn: () => HealthSource): void {
    this.healthSource = fn;
  }

  setClockSource(fn: () => 'synchronized' | 'unsynchronized' | 'unknown'): void {
    this.clockSource = fn;
  }

  messageIn(source: string, n = 1): void {
    this.inCounts.set(source, (this.inCounts.get(source) ?? 0) + n);
  }
  messageOut(qos: number, n = 1): void {
    const key = QOS_LABEL[qos] ?? String(qos);
    this.outCounts.set(key, (this.outCounts.get(key) ?? 0) + n);
  }
  dropped(source: string, reason: string, n = 1): void {
    this.messagesDropped.inc({ source, reason }, n);
  }
  upstreamReconnected(): void {
    this.upstreamReconnects.inc();
  }
  publishRetry(reason: string): void {
    this.upstreamRetries.inc({ reason });
  }
  qosDowngraded(reason: string): void {
    this.upstreamQosDowngraded.inc({ reason });
  }
  setAside(reason: string): void {
    this.outboxSetAside.inc({ reason });
  }
  command(target: string, outcome: string): void {
    this.commands.inc({ target, outcome });
  }
  /** receivedAt: waiting-clock ms when the reading arrived (OutboxMessage.receivedAt). */
  /** A batch of rows delivered upstream: counted by QoS, each one's end-to-end latency observed. */
  delivered(rows: readonly { qos: number; receivedAt: number }[], ackedAt = this.now()): void {
    let q0 = 0;
    let q1 = 0;
    for (const r of rows) {
      if (r.qos === 0) q0++;
      else if (r.qos === 1) q1++;
      this.observeE2eLatency(r.receivedAt, ackedAt);
    }
    if (q0 > 0) this.messageOut(0, q0);
    if (q1 > 0) this.messageOut(1, q1);
    if (rows.length > q0 + q1) this.messageOut(2, rows.length - q0 - q1);
  }
  observeE2eLatency(receivedAt: number, ackedAt = this.now()): void {
    this.e2eLatency.observe(Math.max(0, (ackedAt - receivedAt) / 1000));
  }
  observeStoreCommit(seconds: number): void {
    this.storeCommit.observe(seconds);
  }

  /** Prometheus text exposition (runs the gauge callbacks). */
  async text(): Promise<string> {
    const own = await this.registry.metrics();
    return this.withProcess ? `${await processMetrics().metrics()}\n${own}` : own;
  }
  get contentType(): string {
    return this.registry.contentType;
  }
}
