import { throttledLog } from '../../contracts/throttled-log.js';
import { cancelLogLevelRevert } from './log-requests.js';
import type { KvState } from '../../contracts/store.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { StatusJson } from '../status/board.js';
import type { LogRing } from '../status/log-ring.js';
import type { InboundMessage } from '../upstream/inbound.js';
import type { UpstreamClient } from '../upstream/client.js';
import { type AuditEvent, journal } from './audit.js';
import { bootMs } from './boot-clock.js';
import { ConfirmWatch } from './confirm.js';
import type { ConfigStore } from './config-store.js';
import { handlers, type HandlerContext, type Handled } from './handlers.js';
import { buildInfo, type RunningConfig } from './info.js';
import type { RemoteMetrics } from './metrics.js';
import type { ChangeState } from './records.js';
import type { AdminRequest, Answer } from './request.js';
import { screen } from './screen.js';
import { AdminTopics } from './topics.js';

export interface RemoteAdminDeps {
  config: () => Config;
  running: { text: string; hash: string; source: 'seed' | 'remote'; seedFile: string; seedText: string };
  store: ConfigStore;
  upstream: UpstreamClient;
  kv: KvState;
  status: () => StatusJson;
  /** Whether the wall clock is synchronized (a request's `sent_at` is compared only then). */
  wallTrusted: () => boolean;
  metrics: RemoteMetrics;
  tail: LogRing | undefined;
  logger: Logger;
  /** Apply a config whose differences are all hot (rules, commands, triggers, log level). */
  applyHot: (next: Config) => void;
  /** SIGHUP's reload of the running config file. */
  reloadRules: () => Promise<void>;
  /** The gateway's log level (its root logger: every part's logger follows it). */
  setLogLevel: (level: string) => void;
  /** Stop this gateway and start it again with the config on disk. */
  restart: (why: string) => void;
  /** What is not up yet (uplink, adapters), or undefined when everything is. */
  notUp: () => string | undefined;
}

/** Requests that change something: answered `busy` while a change awaits confirmation. */
const MUTATING = new Set([
  'config/set',
  'restart',
  'rules/reload',
  'queue/retry',
  'queue/purge-dead',
  'log_level/set',
]);
const ANSWER_MS = 10_000;
const BOOTS = { namespace: 'remote', key: 'boots' };

/**
 * Remote management over the broker: screens requests on `<prefix>/<gateway>/admin/req/#`, answers
 * each exactly once on its response topic, keeps `admin/info` and `admin/change` retained, writes
 * every change to the journal and `admin/audit`, and watches an unconfirmed change.
 * Answers and info go past the outbox (publishDirect): they belong to the connection, and must not
 * wait behind a backlog of readings.
 */
export class RemoteAdmin {
  readonly topics: AdminTopics;
  private readonly refusedLog: ReturnType<typeof throttledLog>;
  private chain: Promise<void> = Promise.resolve();
  private infoTimer: NodeJS.Timeout | undefined;
  private watch: ConfirmWatch | undefined;
  private bootCount = 0;
  private runningConfig: RunningConfig;
  private stopped = false;
  private connectedSub: { unsubscribe(): void } | undefined;
  private reporting: Promise<void> = Promise.resolve();

  constructor(private readonly deps: RemoteAdminDeps) {
    const c = deps.config();
    this.topics = new AdminTopics(c.remote.prefix, c.gateway.id);
    this.refusedLog = throttledLog(deps.logger);
    this.runningConfig = {
      hash: deps.running.hash,
      source: deps.running.source,
      applied_at: new Date().toISOString(),
    };
  }

  /** The filter to subscribe to (with Retain Handling 2: no retained requests). */
  get filter(): string {
    return this.topics.requests;
  }

  owns(topic: string): boolean {
    return this.topics.requestOf(topic) !== undefined;
  }

  /** After the upstream client and adapters started. */
  async start(): Promise<void> {
    const { kv, upstream, store } = this.deps;
    this.bootCount = (kv.get<number>(BOOTS.namespace, BOOTS.key) ?? 0) + 1;
    await kv
      .put(BOOTS.namespace, BOOTS.key, this.bootCount)
      .catch((err) => this.deps.logger.warn({ err }, 'boot count not stored'));
    this.connectedSub = upstream.events$.subscribe((e) => {
      if (e.type === 'connected') void this.onConnected();
    });
    // The uplink may have come up before this started listening.
    if (upstream.stats().connected) void this.onConnected();
    const interval = this.deps.config().remote.info_interval;
    this.infoTimer = setInterval(() => void this.publishInfo(), interval);
    this.infoTimer.unref();
    const pending = store.pending();
    if (pending && pending.state === 'pending') {
      this.watch = new ConfirmWatch({
        store,
        pending,
        notUp: this.deps.notUp,
        logger: this.deps.logger,
        onConfirmed: () => void this.reportSettled(),
        onRolledBack: (reason) => this.deps.restart(`rollback: ${reason}`),
      });
      this.watch.start();
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.infoTimer);
    this.watch?.stop();
    this.connectedSub?.unsubscribe();
    cancelLogLevelRevert();
  }

  /**
   * An incoming message on the request filter: resolves (and the message is acknowledged) once it
   * was answered. Requests run one at a time, in order.
   */
  async handle(m: InboundMessage): Promise<void> {
    const { config } = this.deps;
    const c = config();
    const screened = screen(m, this.topics, {
      maxRequestSize: c.remote.max_request_size,
      maxAgeMs: c.remote.max_age,
      wallTrusted: this.deps.wallTrusted(),
      now: Date.now(),
    });
    if ('refused' in screened) {
      this.deps.metrics.refuse(screened.refused);
      this.refusedLog(
        screened.refused,
        { topic: m.topic.slice(0, 200), reason: screened.refused },
        `remote: request dropped unanswered (${screened.refused})`,
      );
      return;
    }
    const req = screened.request;
    // Stopping for a restart: not acknowledged, so the broker hands it to the next gateway's session.
    if (this.stopped) throw new Error('remote management is stopping; the request waits for the restart');
    const run = this.chain.then(() => this.run(req));
    this.chain = run.catch(() => {}); // the next request runs either way
    await run;
  }

  private async run(req: AdminRequest): Promise<void> {
    if (this.stopped) throw new Error('remote management is stopping; the request waits for the restart');
    // A change settled before this start is reported before a new one can replace its record.
    if (await this.untilConnected(ANSWER_MS)) await this.reportSettled();
    this.deps.logger.debug({ request: req.name, actor: req.actor }, 'remote: request');
    const handler = handlers[req.name];
    let handled: Handled;
    if (!handler)
      handled = {
        answer: {
          code: 'unknown_request',
          message: `no request "${req.name}"`,
          body: { known: Object.keys(handlers) },
        },
      };
    else if (MUTATING.has(req.name) && this.deps.store.pending()?.state === 'pending')
      handled = {
        answer: {
          code: 'busy',
          message: 'another change awaits confirmation',
          body: { pending: this.deps.store.pending()?.change_id },
        },
      };
    else {
      try {
        handled = await handler(req, this.context());
      } catch (err) {
        handled = { answer: { code: 'error', message: (err as Error).message } };
      }
    }
    if (handled.answer.code === 'busy') this.deps.metrics.refuse('busy');
    await this.answer(req, handled.answer);
    handled.after?.();
  }

  private context(): HandlerContext {
    const d = this.deps;
    return {
      config: d.config,
      running: {
        config: d.config(),
        text: d.running.text,
        hash: d.running.hash,
        seedFile: d.running.seedFile,
      },
      seedText: d.running.seedText,
      store: d.store,
      logger: d.logger,
      tail: d.tail,
      info: () => this.info(),
      applyHot: (next, text, hash) => {
        d.applyHot(next);
        d.running.text = text;
        d.running.hash = hash;
        this.runningConfig = { hash, source: 'remote', applied_at: new Date().toISOString() };
      },
      reloadRules: d.reloadRules,
      restart: d.restart,
      setLogLevel: d.setLogLevel,
      audit: (e) => this.audit(e),
      publishChange: (s) => this.publishChange(s),
      publishInfo: () => this.publishInfo(),
    };
  }

  info() {
    const d = this.deps;
    return {
      ...buildInfo({
        status: d.status(),
        config: this.runningConfig,
        bootCount: this.bootCount,
        stateDir: d.config().gateway.state_dir,
        lastChange: d.store.last(),
        pending: d.store.pending(),
      }),
      requests: { answered: d.metrics.counts.answered, refused: { ...d.metrics.counts.refused } },
      // How often this info is republished: `fieldgate remote list` calls a gateway silent after 3.
      info_interval_s: Math.round(d.config().remote.info_interval / 1000),
    };
  }

  private async answer(req: AdminRequest, a: Answer): Promise<void> {
    this.deps.metrics.answer(req.name, a.code);
    const payload = {
      request: req.name,
      code: a.code,
      message: a.message,
      ...(a.body !== undefined && { body: a.body }),
      ...(req.correlation !== undefined && { correlation: req.correlation }),
    };
    const message = {
      topic: req.replyTo,
      payload: Buffer.from(JSON.stringify(payload)),
      qos: 1 as const,
      retain: false,
      ...(req.correlationData && { properties: { correlationData: req.correlationData } }),
    };
    // A request the broker kept for us arrives right behind CONNACK, before the client calls the
    // connection up: the answer waits for that (briefly), it is not dropped.
    const ok =
      (await this.deps.upstream.publishDirect(message, ANSWER_MS)) ||
      ((await this.untilConnected(ANSWER_MS)) &&
        (await this.deps.upstream.publishDirect(message, ANSWER_MS)));
    if (!ok)
      this.deps.logger.warn(
        { request: req.name, replyTo: req.replyTo },
        'remote: answer not delivered (uplink down)',
      );
  }

  private async untilConnected(ms: number): Promise<boolean> {
    const upstream = this.deps.upstream;
    const until = bootMs() + ms;
    while (!upstream.stats().connected && !this.stopped && bootMs() < until)
      await new Promise((r) => setTimeout(r, 50));
    return upstream.stats().connected;
  }

  private async onConnected(): Promise<void> {
    await this.reportSettled();
    await this.publishInfo();
  }

  /** A change settled (confirmed, rolled back, failed) and not yet reported: publish it once connected. */
  private reportSettled(): Promise<void> {
    // One at a time: the connect and a request may both ask; the second finds it reported.
    this.reporting = this.reporting
      .then(() => this.reportOnce())
      .catch((err) => this.deps.logger.warn({ err }, 'remote: change state not reported'));
    return this.reporting;
  }

  private async reportOnce(): Promise<void> {
    const { store } = this.deps;
    const last = store.last();
    if (!last || last.reported) return;
    const published = await this.publishChange(last);
    if (!published) return; // not connected: the next connect reports it
    this.audit({
      request: 'config/set',
      actor: last.actor,
      change_id: last.change_id,
      result: last.state,
      ...(last.reason && { reason: last.reason }),
      hash: last.hash,
      previous_hash: last.previous_hash,
      ...(last.diff && { diff: last.diff }),
      at: last.at,
    });
    store.saveLast({ ...last, reported: true });
    await this.publishInfo();
  }

  private async publishChange(s: ChangeState): Promise<boolean> {
    const { diff: _d, reported: _r, ...shown } = s;
    return this.deps.upstream.publishDirect(
      { topic: this.topics.change, payload: Buffer.from(JSON.stringify(shown)), qos: 1, retain: true },
      ANSWER_MS,
    );
  }

  private audit(e: AuditEvent): void {
    journal(this.deps.logger, e);
    void this.deps.upstream.publishDirect(
      { topic: this.topics.audit, payload: Buffer.from(JSON.stringify(e)), qos: 1, retain: false },
      ANSWER_MS,
    );
  }

  async publishInfo(): Promise<void> {
    if (this.stopped) return;
    await this.deps.upstream.publishDirect(
      { topic: this.topics.info, payload: Buffer.from(JSON.stringify(this.info())), qos: 1, retain: true },
      ANSWER_MS,
    );
  }
}
