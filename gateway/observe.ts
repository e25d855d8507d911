import { DiskWriteRate } from './metrics/disk-writes.js';
import type { Subscription } from 'rxjs';
import { adapterKinds } from '../adapters/registry.js';
import type { Adapter, Reading } from '../adapters/types.js';
import { waitingNow } from '../contracts/clock.js';
import type { Store } from '../contracts/store.js';
import { throttledLog } from '../contracts/throttled-log.js';
import { deviceEvents } from './availability.js';
import type { ClockWatch } from './clock/watch.js';
import type { Config } from './config/schema.js';
import type { Logger } from './log.js';
import { buildHealth, type Health } from './metrics/health.js';
import { type HttpServer, startHttpServer } from './metrics/http.js';
import { Metrics } from './metrics/metrics.js';
import { type MetricsSnapshot, takeSnapshot } from './metrics/snapshot.js';
import { buildStats } from './metrics/stats.js';
import { UplinkWatch } from './metrics/uplink-watch.js';
import { loadBasicAuth } from './status/auth.js';
import { StatusBoard } from './status/board.js';
import type { LogRing } from './status/log-ring.js';
import { SystemdNotifier } from './systemd/notify.js';
import { brokerUrls } from './upstream/config.js';
import type { UpstreamClient } from './upstream/index.js';
import { redactUrl } from './upstream/url.js';
import { version } from './version.js';
import { sparkplugHealth } from './sparkplug/health.js';
import type { SessionView } from './sparkplug/metrics.js';

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
  readonly metrics: Metrics;
  private readonly notifier: SystemdNotifier;
  private http: HttpServer | null = null;
  private subs: Subscription[] = [];
  private statsTimer: NodeJS.Timeout | undefined;
  private parts: Parts | null = null;
  /** A store failure reported by a caller (markStoreFailed); the store's own tracking clears it. */
  private reportedStoreError: { error: string; at: number } | undefined;
  /** Each adapter kind's metrics, declared once; fed from the instances in attach(). */
  private readonly adapterMetrics: { watch(adapters: readonly Adapter[]): () => void }[];
  private readonly unwatch: (() => void)[] = [];
  private readonly uplink: UplinkWatch;
  private connectedBefore = false;
  private readonly startedAt = waitingNow();
  /** The status page's view (GET /, /api/status, /api/devices). */
  readonly board: StatusBoard;
  private clock: ClockWatch | null = null;
  private sparkplug: (() => SessionView) | null = null;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    logRing?: LogRing,
  ) {
    // process_* / nodejs_* only where /metrics serves them: their GC observer runs on every GC.
    this.metrics = new Metrics({ defaultMetrics: config.http.enabled });
    this.adapterMetrics = adapterKinds.flatMap((k) => k.metrics?.(this.metrics.sink) ?? []);
    this.notifier = new SystemdNotifier({ logger });
    this.uplink = new UplinkWatch(config.http.health);
    const diskWrites = new DiskWriteRate();
    this.board = new StatusBoard({
      gatewayId: config.gateway.id,
      version: version(),
      // The one in use after a failover; the first of the list before the client is attached.
      broker: () => redactUrl(this.parts?.upstream.brokerUrl ?? brokerUrls(config.upstream)[0]!),
      outbox: () => {
        const store = this.parts?.store;
        if (!store) return { rows: 0, bytes: 0, oldestAt: null, inflight: 0, setAside: 0 };
        return { ...store.outbox.stats(), setAside: store.outbox.setAsideCount() };
      },
      reconnects: () => this.parts?.upstream.stats().reconnects ?? 0,
      protocol: () => {
        const u = this.parts?.upstream;
        if (!u) return { version: config.upstream.protocol, fallback: null };
        const f = u.protocolFallback;
        return { version: u.protocolVersion === 5 ? '5' : '3.1.1', fallback: f ?? null };
      },
      diskWritesPerDay: () => diskWrites.perDay(),
      ...(logRing && { logs: logRing }),
      clock: () => this.clockStatus(),
    });
  }

  /** Ingest refused a reading (loop guard, invalid topic, rules): counted per device on the status page. */
  readingDropped(r: Pick<Reading, 'source' | 'device'>, reason: string): void {
    this.metrics.dropped(r.source, reason);
    this.board.dropped(reason, 1, r);
  }

  /** The wall clock's sync state and steps, for /health, /api/status and the status page. */
  setClock(clock: ClockWatch): void {
    this.clock = clock;
    this.metrics.setClockSource(() => clock.status().synchronized);
  }

  /** The Sparkplug edge node's session, for /health. */
  setSparkplug(view: () => SessionView): void {
    this.sparkplug = view;
  }

  private clockStatus() {
    return this.clock?.status() ?? { synchronized: 'unknown' as const, steps: 0, last_step: null };
  }

  /** Hook metric sources and event streams; call after the parts exist, before they start. */
  attach(parts: Parts): void {
    this.parts = parts;
    const { metrics } = this;
    const { store, upstream, adapters } = parts;
    metrics.setOutboxSource(() => store.outbox.stats());
    metrics.setInboxSource(() => ({ rows: store.inbox.count() }));
    metrics.setUpstreamSource(() => ({
      ...upstream.stats(),
      brokers: { urls: upstream.brokerUrls, current: upstream.brokerUrl },
    }));
    metrics.setHealthSource(() => {
      const h = this.health();
      const status = !h.serving ? 'unavailable' : h.degraded?.length ? 'degraded' : 'ok';
      return { status, storeOk: this.storeHealth(store).ok, storeWriteErrors: store.writeHealth().errors };
    });
    const all = [...adapters.values()];
    for (const m of this.adapterMetrics) this.unwatch.push(m.watch(all));
    const report = {
      dropped: (source: string, reason: string, device?: string) => {
        metrics.dropped(source, reason);
        this.board.dropped(reason);
        if (device !== undefined) this.board.deviceProblem(source, device, reason);
      },
    };
    for (const kind of adapterKinds) if (kind.observe) this.unwatch.push(kind.observe(all, report));
    // One subscription per adapter, no merge: one operator less per reading, and an adapter whose
    // stream fails does not end the counting of the others (the failure is logged where ingest isolates it).
    const reading = (r: Reading) => {
      metrics.messageIn(r.source);
      this.board.reading(r);
    };
    for (const a of adapters.values())
      this.subs.push(a.readings$.subscribe({ next: reading, error: () => {} }));
    this.subs.push(
      deviceEvents(adapters.values()).subscribe((e) => this.board.device(e)),
      // Health does not clear on a commit: store.writeHealth() knows which commits prove the disk.
      store.commits$.subscribe((c) => metrics.observeStoreCommit(c.ms / 1000)),
      // The store owns drop counting (reject_new included: one refusal, one count), labelled with
      // the refused messages' source when it has one.
      store.outbox.dropped$.subscribe((d) => {
        metrics.dropped(d.source ?? 'store', d.reason, d.count);
        this.board.dropped(d.reason, d.count);
      }),
      upstream.events$.subscribe((e) => {
        const now = waitingNow();
        this.board.upstream(e, now);
        if (e.type === 'delivered-batch') {
          metrics.delivered(e.rows);
          this.uplink.delivered(now);
        } else if (e.type === 'connected') {
          if (this.connectedBefore) metrics.upstreamReconnected();
          this.connectedBefore = true;
          this.uplink.connected(now);
        } else if (e.type === 'disconnected') this.uplink.disconnected(now);
        else if (e.type === 'set-aside') metrics.setAside(e.reason);
        else if (e.type === 'qos-downgraded') metrics.qosDowngraded(e.reason);
        else if (e.type === 'refused') this.uplink.connectFailed(`broker refused: ${e.reason}`);
        else if (e.type === 'connect-failed') this.uplink.connectFailed(e.reason);
        else if (e.type === 'inbound-dropped') metrics.dropped('upstream', e.reason);
        else if (e.type === 'publish-retry') metrics.publishRetry(e.reason);
        else if (e.type === 'expired') metrics.dropped('upstream', 'expired');
      }),
    );
  }

  /**
   * Bind /metrics, /health and the status page (a bind failure fails the start: the operator asked
   * for it; so does an unreadable http.auth.password_file).
   */
  async startHttp(): Promise<void> {
    const { http } = this.config;
    if (!http.enabled) return;
    const authorize = http.auth ? loadBasicAuth(http.auth.password_file) : undefined;
    const refused = throttledLog(this.logger);
    this.http = await startHttpServer({
      host: http.listen.host,
      port: http.listen.port,
      metrics: this.metrics,
      health: () => this.health(),
      logger: this.logger,
      status: { status: () => this.board.status(), devices: () => this.board.deviceList() },
      allowedHosts: http.allowed_hosts,
      onForeignHost: (host) => {
        this.metrics.dropped('http', 'foreign_host');
        refused('foreign_host', { host }, 'http request refused: unknown Host (DNS rebinding?)');
      },
      ...(authorize && {
        authorize,
        onUnauthorized: () => {
          this.metrics.dropped('http', 'unauthorized');
          refused('unauthorized', {}, 'http request refused: missing or wrong basic auth');
        },
      }),
    });
  }

  /** Where the HTTP listener is bound (tests: port 0 picks one). */
  httpAddress(): { host: string; port: number } | undefined {
    return this.http?.address();
  }

  /** Tell systemd we serve, start the watchdog and the periodic stats. */
  async ready(): Promise<void> {
    await this.notifier.ready(`serving; outbox ${this.parts?.store.outbox.stats().rows ?? 0} rows`);
    this.notifier.startWatchdog(() => {
      const h = this.health();
      if (!h.serving) return { healthy: false, status: `unavailable: ${h.reason ?? 'not serving'}` };
      return { healthy: true, status: h.degraded?.length ? `degraded: ${h.degraded.join('; ')}` : 'serving' };
    });
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

  /** Unhealthy (503) until a later commit that wrote rows is durable (store.writeHealth().lastWriteAt). */
  markStoreFailed(error: string): void {
    this.reportedStoreError = { error, at: waitingNow() };
  }

  health(): Health {
    const p = this.parts;
    if (!p)
      return buildHealth({
        store: { ok: false, error: 'not open' },
        listeners: {},
        upstreamConnected: false,
        outbox: { rows: 0, bytes: 0, oldestAt: null },
        now: waitingNow(),
      });
    const listeners: Record<string, boolean> = {};
    for (const a of p.adapters.values())
      for (const kind of adapterKinds) {
        const bound = kind.listening?.(a);
        if (bound !== undefined) listeners[a.name] = bound;
      }
    const now = waitingNow();
    const up = p.upstream.stats();
    const connected = up.connected;
    const outbox = p.store.outbox.stats();
    const spb = this.sparkplug ? sparkplugHealth(this.sparkplug(), connected, now) : undefined;
    const degraded = this.uplink.reasons(now, {
      connected,
      rows: outbox.rows,
      oldestAt: outbox.oldestAt,
      qos2Waiting: up.qos2Waiting,
    });
    return buildHealth({
      store: this.storeHealth(p.store),
      listeners,
      upstreamConnected: connected,
      outbox: { ...outbox, setAside: p.store.outbox.setAsideCount() },
      inbox: { rows: p.store.inbox.count() },
      degraded: spb?.degraded ? [...degraded, spb.degraded] : degraded,
      now,
      // Not an error: ages and deadlines do not depend on it; times written into messages may.
      extra: { clock: this.clockStatus(), ...(spb && { sparkplug: spb.view }) },
    });
  }

  private storeHealth(store: Store): { ok: boolean; error?: string } {
    const w = store.writeHealth();
    if (!w.ok) return { ok: false, error: w.error };
    const r = this.reportedStoreError;
    if (r && !((w.lastWriteAt ?? 0) > r.at)) return { ok: false, error: r.error };
    this.reportedStoreError = undefined;
    return { ok: true };
  }

  async stop(): Promise<void> {
    await this.notifier.stopping();
    clearInterval(this.statsTimer);
    for (const s of this.subs.splice(0)) s.unsubscribe();
    for (const stop of this.unwatch.splice(0)) stop();
    await this.http?.close();
    this.http = null;
  }

  private async publishStats(topic: string, previous?: { snapshot: MetricsSnapshot; at: number }) {
    const store = this.parts?.store;
    if (!store) return undefined;
    const now = waitingNow();
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
