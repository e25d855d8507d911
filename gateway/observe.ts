import { merge, type Subscription } from 'rxjs';
import { MqttSnAdapter } from '../adapters/mqttsn/index.js';
import { SerialAdapter } from '../adapters/serial/index.js';
import type { Adapter } from '../adapters/types.js';
import type { Config } from './config/schema.js';
import type { Logger } from './log.js';
import { buildHealth, type Health } from './metrics/health.js';
import { type HttpServer, startHttpServer } from './metrics/http.js';
import { Metrics } from './metrics/metrics.js';
import { type MetricsSnapshot, takeSnapshot } from './metrics/snapshot.js';
import { buildStats } from './metrics/stats.js';
import type { Store } from '../contracts/store.js';
import { SystemdNotifier } from './systemd/notify.js';
import type { UpstreamClient } from './upstream/index.js';

interface Parts {
  store: Store;
  upstream: UpstreamClient;
  adapters: ReadonlyMap<string, Adapter>;
}

/**
 * Metrics, /health, periodic stats and systemd readiness/watchdog: everything
 * an operator sees. Reads the parts; never changes what they do.
 */
export class Observability {
  readonly metrics = new Metrics();
  private readonly notifier: SystemdNotifier;
  private http: HttpServer | null = null;
  private subs: Subscription[] = [];
  private statsTimer: NodeJS.Timeout | undefined;
  private parts: Parts | null = null;
  private storeError: string | undefined;
  private readonly lost = new Set<string>();
  private readonly startedAt = Date.now();

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    this.notifier = new SystemdNotifier({ logger });
  }

  /** Hook metric sources and event streams; call after the parts exist, before they start. */
  attach(parts: Parts): void {
    this.parts = parts;
    const { metrics } = this;
    const { store, upstream, adapters } = parts;
    metrics.setOutboxSource(() => store.outbox.stats());
    metrics.setInboxSource(() => ({ rows: store.inbox.count() }));
    metrics.setUpstreamSource(() => upstream.stats());
    const serial = [...adapters.values()].filter((a): a is SerialAdapter => a instanceof SerialAdapter);
    metrics.setSerialSource(() => serial.map((a) => ({ port: a.name, state: a.state$.value })));
    const mqttsn = [...adapters.values()].find((a): a is MqttSnAdapter => a instanceof MqttSnAdapter);
    if (mqttsn) {
      metrics.setMqttsnSource(() => {
        const c = mqttsn.stats().clients;
        return { active: c.active + c.awake, asleep: c.asleep, lost: this.lost.size };
      });
      this.subs.push(
        mqttsn.events$.subscribe((e) => {
          if (e.kind === 'drop') metrics.dropped('mqttsn', e.reason);
          else if (e.state === 'lost') this.lost.add(e.clientId);
          else if (e.state === 'connect') this.lost.delete(e.clientId);
        }),
      );
    }
    this.subs.push(
      merge(...[...adapters.values()].map((a) => a.readings$)).subscribe((r) => metrics.messageIn(r.source)),
      store.commits$.subscribe((c) => {
        metrics.observeStoreCommit(c.ms / 1000);
        this.storeError = undefined;
      }),
      store.outbox.dropped$.subscribe((d) => metrics.dropped('store', d.reason, d.count)),
      upstream.events$.subscribe((e) => {
        if (e.type === 'delivered') {
          metrics.messageOut(e.qos);
          metrics.observeE2eLatency(e.receivedAt);
        } else if (e.type === 'connected') metrics.upstreamReconnected();
      }),
    );
  }

  /** Bind /metrics and /health (a bind failure fails the start: the operator asked for it). */
  async startHttp(): Promise<void> {
    const { http } = this.config;
    if (!http.enabled) return;
    this.http = await startHttpServer({
      host: http.listen.host,
      port: http.listen.port,
      metrics: this.metrics,
      health: () => this.health(),
      logger: this.logger,
    });
  }

  /** Tell systemd we serve, start the watchdog and the periodic stats. */
  async ready(): Promise<void> {
    await this.notifier.ready(`serving; outbox ${this.parts?.store.outbox.stats().rows ?? 0} rows`);
    this.notifier.startWatchdog(() => this.health().serving);
    const { stats } = this.config;
    if (stats.topic) {
      const topic = stats.topic.replaceAll('{gateway}', this.config.gateway.id);
      let previous: { snapshot: MetricsSnapshot; at: number } | undefined;
      this.statsTimer = setInterval(() => {
        void this.publishStats(topic, previous).then((p) => {
          if (p) previous = p;
        });
      }, stats.interval);
      this.statsTimer.unref();
    }
  }

  /** Unhealthy (503) until the next successful commit. */
  markStoreFailed(error: string): void {
    this.storeError = error;
  }

  health(): Health {
    const p = this.parts;
    if (!p)
      return buildHealth({
        store: { ok: false, error: 'not open' },
        listeners: {},
        upstreamConnected: false,
        outbox: { rows: 0, bytes: 0, oldestAt: null },
        now: Date.now(),
      });
    const listeners: Record<string, boolean> = {};
    for (const a of p.adapters.values()) if (a instanceof MqttSnAdapter) listeners[a.name] = isBound(a);
    return buildHealth({
      store: { ok: this.storeError === undefined, error: this.storeError },
      listeners,
      upstreamConnected: p.upstream.stats().connected,
      outbox: p.store.outbox.stats(),
      inbox: { rows: p.store.inbox.count() },
      now: Date.now(),
    });
  }

  async stop(): Promise<void> {
    await this.notifier.stopping();
    clearInterval(this.statsTimer);
    for (const s of this.subs.splice(0)) s.unsubscribe();
    await this.http?.close();
    this.http = null;
  }

  private async publishStats(topic: string, previous?: { snapshot: MetricsSnapshot; at: number }) {
    const store = this.parts?.store;
    if (!store) return undefined;
    const now = Date.now();
    const snapshot = await takeSnapshot(this.metrics);
    const payload = buildStats(snapshot, this.health(), {
      gatewayId: this.config.gateway.id,
      now,
      startedAt: this.startedAt,
      previous,
    });
    const msg = {
      source: 'gateway',
      device: this.config.gateway.id,
      topic,
      payload: Buffer.from(JSON.stringify(payload)),
      qos: 1 as const,
      retain: false,
      receivedAt: now,
    };
    await store.outbox.enqueue([msg]).catch((err) => this.logger.warn({ err }, 'stats message not stored'));
    return { snapshot, at: now };
  }
}

function isBound(a: MqttSnAdapter): boolean {
  try {
    return a.address().port > 0;
  } catch {
    return false; // dgram throws when the socket is not bound
  }
}
