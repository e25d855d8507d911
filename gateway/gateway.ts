import { catchError, EMPTY, merge, type Subscription } from 'rxjs';
import { adapterDescriptors, adapterKinds } from '../adapters/registry.js';
import type { Adapter } from '../adapters/types.js';
import { compileRules, type RuleEngine } from '../rules/index.js';
import { AvailabilityPublisher, deviceEvents } from './availability.js';
import { buildAdapters } from './build-adapters.js';
import { HomeAssistantDiscovery } from './homeassistant/discovery.js';
import { version } from './version.js';
import { configChecks } from './config/checks.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { Downlink } from './downlink/router.js';
import { ReportingInbox } from './downlink/reporting-inbox.js';
import { refusalOf, startIngest, type UplinkRules } from './ingest/index.js';
import { lockStateDir } from './lifecycle/instance-lock.js';
import { isolate } from './lifecycle/isolate.js';
import type { Logger } from './log.js';
import { Observability } from './observe.js';
import { currentSources, ownFilters, ownTopicGuard } from './own-topics.js';
import { responseTopicScreen } from './response-topics.js';
import { openStore } from './store/open.js';
import type { Store } from '../contracts/store.js';
import { throttledLog } from '../contracts/throttled-log.js';
import { topicPreview } from '../contracts/topic.js';
import { SubscriptionSet } from './subscription-set.js';
import { UpstreamClient } from './upstream/client.js';
import { redactUrl } from './upstream/url.js';
import type { LogRing } from './status/log-ring.js';
import { brokerUrls } from './upstream/config.js';
import { SyncProbe } from './clock/sync-probe.js';
import { ClockWatch } from './clock/watch.js';
import { resumeWaitingClock } from './store/clock-state.js';
import { waitingNow } from '../contracts/clock.js';
import { RemoteAdmin } from './remote/admin.js';
import { ConfigStore } from './remote/config-store.js';
import { RemoteMetrics } from './remote/metrics.js';
import { remoteConfigFile, type StartConfig } from './remote/start-config.js';
import { EdgeNode } from './sparkplug/edge-node.js';
import { sparkplugMetrics } from './sparkplug/metrics.js';
import { sparkplugModel } from './sparkplug/sources.js';
import { SPARKPLUG_LANE, SparkplugUplink } from './sparkplug/uplink.js';

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  /** For SIGHUP reloads. */
  configFile?: string;
  /** Recent warnings/errors for the status page (filled by the logger's logRingHooks). */
  logRing?: LogRing;
  /** Remote management (when `remote.enabled`): the config's origin, the log tail, and how to restart. */
  remote?: {
    start: StartConfig;
    /** Everything logged, for the `logs` request. */
    tail?: LogRing;
    /** Stop this gateway and start a new one with the config on disk (cli/run.ts's loop). */
    restart: (why: string) => void;
  };
}

/**
 * Wires the parts: adapters -> rules -> store -> upstream, and back down.
 * The constructor does nothing; start() brings parts up in order and stop()
 * takes them down in reverse, each in its own try/catch.
 */
export class Gateway {
  private config: Config;
  private readonly logger: Logger;
  private store: Store | null = null;
  private upstream: UpstreamClient | null = null;
  private adapters = new Map<string, Adapter>();
  private rules: RuleEngine | null = null;
  private ingest: Subscription | null = null;
  private subscriptions: SubscriptionSet | null = null;
  private timers: NodeJS.Timeout[] = [];
  private observe: Observability | null = null;
  private replies: Subscription[] = [];
  private unlock: (() => void) | null = null;
  private downlink: Downlink | null = null;
  private availability: AvailabilityPublisher | null = null;
  private readonly logRing: LogRing | undefined;
  private clock: ClockWatch | null = null;
  private remote: RemoteAdmin | null = null;
  private readonly remoteOpts: GatewayOptions['remote'];
  private sparkplug: EdgeNode | null = null;

  constructor(opts: GatewayOptions) {
    this.config = opts.config;
    this.logger = opts.logger;
    this.logRing = opts.logRing;
    this.remoteOpts = opts.remote;
  }

  async start(): Promise<void> {
    const { config, logger } = this;
    logger.info({ id: config.gateway.id, stateDir: config.gateway.state_dir }, 'fieldgate starting');

    this.unlock = lockStateDir(config.gateway.state_dir);
    const syncProbe = new SyncProbe(config.gateway.clock_sync, config.gateway.clock_sync_file);
    await syncProbe.probe();
    const store = openStore({
      dir: config.gateway.state_dir,
      durability: config.store.durability,
      commitIntervalMs: config.store.commit_interval,
      limits: config.store,
      logger: logger.child({ part: 'store' }),
    });
    this.store = store;
    // Before anything reads an age (the store's first expiry runs on the next turn of the loop).
    const resumed = resumeWaitingClock(store.state, syncProbe.trusted, logger.child({ part: 'clock' }));
    const backlog = store.outbox.stats();
    logger.info({ rows: backlog.rows, bytes: backlog.bytes, inbox: store.inbox.count() }, 'store open');

    this.rules = compileRules(config, { gatewayId: config.gateway.id });
    const rules = () => this.rules!;

    // Adapters see the inbox through this: commands they drain later get their result reported.
    const inbox = new ReportingInbox(store.inbox, (row, outcome) => {
      this.downlink
        ?.handleDrained(row, outcome)
        .catch((err) => logger.warn({ err }, 'command result not reported'));
    });
    this.adapters = buildAdapters(config, {
      inbox,
      state: store.state,
      devices: store.devices,
      logger,
      ownTopics: ownFilters(
        currentSources(
          () => this.config,
          () => this.rules,
        ),
      ),
    });
    const adapters = [...this.adapters.values()];
    store.setSenders?.(() => {
      let n = 0;
      for (const a of adapters) n += a.senders?.() ?? 0;
      return n;
    });

    const upstream = new UpstreamClient({
      config: config.upstream,
      gatewayId: config.gateway.id,
      outbox: store.outbox,
      state: store.state,
      logger, // the client names its own part
      maxAgeMs: config.store.max_age,
      // The same wait that makes /health say "QoS 2 stuck" logs the message that waits.
      stuckAfterMs: config.http.health.stall_after,
    });
    this.upstream = upstream;

    const observe = new Observability(config, logger.child({ part: 'observe' }), this.logRing);
    this.observe = observe;
    observe.attach({ store, upstream, adapters: this.adapters });
    const { metrics } = observe;
    this.clock = new ClockWatch({
      probe: syncProbe,
      kv: store.state,
      logger: logger.child({ part: 'clock' }),
      onStep: (direction) => metrics.clockSteps.inc({ direction }),
    });
    observe.setClock(this.clock);
    this.clock.start();

    const isOwnTopic = ownTopicGuard(
      currentSources(
        () => this.config,
        () => this.rules,
      ),
    );
    const downlinkLogger = logger.child({ part: 'downlink' });
    const refusedResponse = throttledLog(downlinkLogger);
    const downlink = new Downlink({
      adapters: this.adapters,
      rules,
      outbox: store.outbox,
      inbox: store.inbox,
      logger: downlinkLogger,
      onCommand: (c, outcome) => metrics.command(c.target, outcome),
      spoolLimits: {
        maxRows: this.config.store.spool_max_rows,
        maxBytes: this.config.store.spool_max_bytes,
        perDevice: this.config.store.spool_max_per_device,
      },
      screenResponseTopic: responseTopicScreen(
        () => ({ filters: this.config.upstream.response_topics, gateway: this.config.gateway.id }),
        isOwnTopic,
      ),
      onResponseTopicRefused: (topic, reason) => {
        metrics.dropped('upstream', reason);
        refusedResponse(
          reason,
          { responseTopic: topicPreview(topic), reason },
          reason === 'loop_guard'
            ? "command's Response Topic refused: it is one of the gateway's own topics"
            : reason === 'invalid_topic'
              ? "command's Response Topic refused: not a valid topic name"
              : "command's Response Topic refused: not under upstream.response_topics",
        );
      },
    });
    this.downlink = downlink;
    const ha = config.homeassistant.enabled
      ? new HomeAssistantDiscovery({
          config,
          version: version(),
          kv: store.state,
          enqueue: (messages) => store.outbox.enqueue(messages),
          // A freshly compiled engine: the dry run must not touch the running rules' strategy state.
          route: async (r) => {
            const run = await compileRules(this.config, { gatewayId: this.config.gateway.id }).uplink(
              r,
              waitingNow(),
            );
            // The trace names the rule behind each published message, in order.
            const rules = run.trace.filter((t) => t.outcome === 'published').map((t) => t.rule);
            return run.messages.map((m, i) => ({ topic: m.topic, payload: m.payload, rule: rules[i] }));
          },
          logger: logger.child({ part: 'homeassistant' }),
          onDropped: (reason) => metrics.dropped('homeassistant', reason),
        })
      : null;
    const remote = this.remoteAdmin(config, store, upstream, observe);
    this.remote = remote;
    upstream.onMessage((m) => {
      // Requests are the gateway's own: never handed to rules or devices.
      if (remote?.owns(m.topic)) return remote.handle(m);
      ha?.upstream(m); // HA's birth; the message still goes to rules and subscribed devices
      return downlink.handleUpstream(m, m.remember);
    });
    for (const a of this.adapters.values()) {
      for (const kind of adapterKinds) {
        const replies$ = kind.replies?.(a);
        if (replies$) this.replies.push(replies$.subscribe((r) => void downlink.handleReply(r)));
      }
    }
    this.replies.push(store.inbox.expired$.subscribe((rows) => void downlink.handleExpired(rows)));
    this.subscriptions = new SubscriptionSet([...this.adapters.values()], (filters) =>
      upstream.setSubscriptions(filters),
    );
    this.subscriptions.setRules(this.rules.subscriptions());
    const own = [
      ...(ha ? [{ topic: ha.birthTopic, qos: 1 as const }] : []),
      ...(remote ? [{ topic: remote.filter, qos: 1 as const }] : []),
    ];
    if (remote) upstream.setNoRetained([remote.filter]);
    if (own.length) this.subscriptions.setOwn(own);

    // Sparkplug: its own connection (its will is the NDEATH), its rows in an outbox lane of their own.
    let ingestRules: () => UplinkRules = rules;
    if (config.sparkplug.enabled) {
      const model = sparkplugModel(config);
      const node = new EdgeNode({
        config: config.sparkplug,
        upstream: config.upstream,
        gatewayId: config.gateway.id,
        outbox: store.outbox,
        state: store.state,
        model,
        logger,
        spool: (commands) => downlink.spool(commands),
        onRefused: (reason) => metrics.dropped('sparkplug', reason),
      });
      this.sparkplug = node;
      sparkplugMetrics(metrics.sink, () => node.view());
      observe.setSparkplug(() => node.view());
      const ingestLog = logger.child({ part: 'ingest' });
      ingestRules = new SparkplugUplink(model, node.ids, config.sparkplug.data_qos, (r, err) =>
        ingestLog.warn(
          { err, source: r.source, topic: r.topic },
          'rule evaluation failed; its messages dropped (the Sparkplug row is kept)',
        ),
      ).wrap(rules);
    } else {
      // Nothing reads the lane while Sparkplug is off: say so, or those readings wait unexplained.
      const waiting = store.outbox.countInLane?.(SPARKPLUG_LANE) ?? 0;
      if (waiting > 0)
        logger.warn(
          { rows: waiting },
          'Sparkplug readings wait in the outbox but sparkplug is off: they are sent when it is on again, or dropped by store.max_age',
        );
    }
    const readings$ = merge(...[...this.adapters.values()].map((a) => isolate(a, { logger })));
    this.ingest = startIngest(readings$, {
      rules: ingestRules,
      outbox: store.outbox,
      dispatch: (commands) => downlink.dispatchAll(commands),
      logger: logger.child({ part: 'ingest' }),
      onStoreError: (err) => observe.markStoreFailed(err instanceof Error ? err.message : String(err)),
      isOwnTopic,
      onDropped: (r, reason) => {
        observe.readingDropped(r, reason);
        logger.debug({ source: r.source, topic: r.topic, reason }, 'reading dropped');
      },
    });

    // Device availability is the gateway's own message: enqueued directly, past the loop guard.
    this.availability = new AvailabilityPublisher({
      config: config.availability,
      gatewayId: config.gateway.id,
      outbox: store.outbox,
      logger: logger.child({ part: 'availability' }),
      onDropped: (source, reason) => metrics.dropped(source, reason),
    });
    this.availability.start(deviceEvents(this.adapters.values()));
    if (ha) {
      // Discovery is a convenience: a store that refuses it now must not stop the gateway from serving.
      await ha.start().catch((err) => {
        metrics.dropped('homeassistant', 'discovery_not_stored');
        logger.warn({ err }, 'homeassistant discovery not stored');
      });
      // The adapters' own streams (not the isolated ones: one restart policy per adapter, in ingest).
      const raw = [...this.adapters.values()].map((a) => a.readings$.pipe(catchError(() => EMPTY)));
      this.replies.push(merge(...raw).subscribe((r) => ha.reading(r)));
    }

    await observe.startHttp();
    await upstream.start();
    await this.sparkplug?.start(deviceEvents(this.adapters.values()));
    for (const adapter of this.adapters.values()) await adapter.start();
    downlink.resume(); // commands accepted upstream before a restart
    await remote?.start();

    this.every(1000, () => {
      // Heartbeats repeat messages the rules published: they pass the same check as ingest.
      const due = rules()
        .tick(waitingNow())
        .filter((m) => {
          const refused = refusalOf(m.topic, isOwnTopic);
          if (refused) metrics.dropped(m.source, refused.reason);
          return !refused;
        });
      if (due.length) store.outbox.enqueue(due).catch((err) => logger.warn({ err }, 'heartbeat not stored'));
    });
    // Expired commands are logged by the store and reported through inbox.expired$.
    this.every(1000, () => {
      store.inbox.expire().catch((err) => logger.warn({ err }, 'inbox expiry failed'));
    });

    await observe.ready();
    logger.info(
      {
        adapters: [...this.adapters.keys()],
        upstream: brokerUrls(config.upstream).map(redactUrl),
        backlog: backlog.rows,
        clock: syncProbe.state,
        downtimeCountedMs: resumed.countedMs,
      },
      'fieldgate up',
    );
  }

  /** For tests and the HTTP endpoint: what an operator would see. */
  get observability(): Observability | null {
    return this.observe;
  }

  /** Stop in reverse order; every part gets its chance even if an earlier one fails. */
  async stop(): Promise<void> {
    this.remote?.stop();
    this.remote = null;
    await this.attempt('notify stopping', () => this.observe?.stop());
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.downlink?.halt(); // spooled commands not yet sent stay spooled for the next start
    for (const adapter of [...this.adapters.values()].reverse()) {
      await this.attempt(`stop ${adapter.name}`, () => adapter.stop());
    }
    // Adapters stopped, so sends in progress resolve; bounded anyway (the rows stay spooled).
    await this.attempt('finish commands in progress', () =>
      Promise.race([this.downlink?.idle(), new Promise((r) => setTimeout(r, 5000).unref())]),
    );
    this.downlink = null;
    this.availability?.stop(); // after the adapters: their last offline events are enqueued
    this.ingest?.unsubscribe();
    for (const s of this.replies.splice(0)) s.unsubscribe();
    this.subscriptions?.close();
    await this.attempt('stop sparkplug', () => this.sparkplug?.stop());
    this.sparkplug = null;
    await this.attempt('stop upstream', () => this.upstream?.stop());
    await this.attempt('save the waiting clock', () => this.clock?.stop());
    this.clock = null;
    await this.attempt('close store', () => this.store?.close());
    this.unlock?.();
    this.unlock = null;
    this.store = null;
    this.upstream = null;
  }

  /**
   * SIGHUP: load the file again; apply what can change live (rules, commands,
   * triggers, log level) atomically, or keep the old config if anything is wrong.
   * Upstream and MQTT-SN sessions are not touched.
   */
  async reload(file: string): Promise<void> {
    this.applyLive(loadConfig(file, process.env, configChecks));
  }

  /** Apply what can change live (rules, commands, triggers, log level); log what needs a restart. */
  applyLive(next: Config): void {
    const engine = compileRules(next, { gatewayId: next.gateway.id });
    if (this.rules) engine.adoptStateFrom(this.rules);
    this.rules = engine;
    this.subscriptions?.setRules(engine.subscriptions());
    this.logger.level = next.gateway.log_level;
    const restartNeeded = (
      [
        'gateway',
        'upstream',
        'store',
        ...adapterDescriptors.map((d) => d.key),
        'http',
        'availability',
        'homeassistant',
        'remote',
        'sparkplug',
      ] as const
    ).filter(
      (k) =>
        JSON.stringify({ ...next[k], log_level: undefined }) !==
        JSON.stringify({ ...this.config[k], log_level: undefined }),
    );
    this.config = next;
    this.logger.info(
      { rules: next.rules.length, commands: next.commands.length, triggers: next.triggers.length },
      'config reloaded: rules, commands, triggers and log level applied',
    );
    if (restartNeeded.length)
      this.logger.warn({ sections: restartNeeded }, 'these sections changed and need a restart to apply');
  }

  /** Remote management, when the config turns it on and the run loop can restart the gateway. */
  private remoteAdmin(
    config: Config,
    store: Store,
    upstream: UpstreamClient,
    observe: Observability,
  ): RemoteAdmin | null {
    const opts = this.remoteOpts;
    if (!config.remote.enabled || !opts) return null;
    const { start } = opts;
    return new RemoteAdmin({
      config: () => this.config,
      running: {
        text: start.text,
        hash: start.hash,
        source: start.source,
        seedFile: start.seedFile,
        seedText: start.seedText,
      },
      store:
        start.store ?? new ConfigStore(remoteConfigFile(config, start.seedFile), config.gateway.state_dir),
      upstream,
      kv: store.state,
      status: () => observe.board.status(),
      wallTrusted: () => this.clock?.status().synchronized === 'synchronized',
      metrics: new RemoteMetrics(observe.metrics.registry),
      tail: opts.tail,
      logger: this.logger.child({ part: 'remote' }),
      applyHot: (next) => this.applyLive(next),
      reloadRules: () =>
        this.reload(start.source === 'remote' && start.store ? start.store.file : start.seedFile),
      restart: opts.restart,
      setLogLevel: (level) => {
        this.logger.level = level;
      },
      notUp: () => this.notUp(),
    });
  }

  /** What keeps a config change from being confirmed: the uplink, or an adapter not up. */
  private notUp(): string | undefined {
    const up = this.upstream;
    if (!up?.stats().connected) {
      const err = this.observe?.board.status().uplink.last_error?.message;
      return `uplink not connected${err ? ` (${err})` : ''}`;
    }
    // Its own connection: a change that cuts it (client id, ACL) cuts the node off its host.
    if (this.sparkplug && !this.sparkplug.view().connected) return 'Sparkplug connection not connected';
    const down: string[] = [];
    for (const a of this.adapters.values())
      for (const kind of adapterKinds) if (kind.up?.(a) === false) down.push(a.name);
    return down.length ? `not up: ${down.join(', ')}` : undefined;
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private async attempt(what: string, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.logger.error({ err }, `${what} failed`);
    }
  }
}
