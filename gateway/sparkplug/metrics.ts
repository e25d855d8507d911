import type { MetricSink } from '../../contracts/metric-sink.js';

/** What the edge node shows of its session. */
export interface SessionView {
  /** Connected, and (with a primary host) the host online, births published: data flows. */
  born: boolean;
  connected: boolean;
  hostOnline: boolean;
  bdSeq: number;
  /** NBIRTHs published since the start (new sessions and rebirths). */
  births: number;
  /** Waiting-clock ms since which `connected` has been what it is (the start, before any connect). */
  since: number;
  /** The broker hands back Sparkplug topics with "." turned into "/" (RabbitMQ): hosts cannot read them. */
  topicsRewritten: boolean;
}

/** Sparkplug's gauges on /metrics, read at scrape time. */
export function sparkplugMetrics(sink: MetricSink, view: () => SessionView): void {
  sink.pulled({
    name: 'sparkplug_session',
    help: 'Sparkplug edge node: 1 while its births are published and data flows (connected, primary host online).',
    type: 'gauge',
    read: () => [{ labels: {}, value: view().born ? 1 : 0 }],
  });
  sink.pulled<'state'>({
    name: 'sparkplug_connection',
    help: 'Sparkplug connection (state="connected") and its primary host (state="host_online"): 1 or 0.',
    labelNames: ['state'],
    type: 'gauge',
    read: () => {
      const v = view();
      return [
        { labels: { state: 'connected' }, value: v.connected ? 1 : 0 },
        { labels: { state: 'host_online' }, value: v.hostOnline ? 1 : 0 },
      ];
    },
  });
  sink.pulled({
    name: 'sparkplug_bdseq',
    help: 'The bdSeq of the Sparkplug connection (its will, its NBIRTH).',
    type: 'gauge',
    read: () => [{ labels: {}, value: view().bdSeq }],
  });
  sink.pulled({
    name: 'sparkplug_births_total',
    help: 'NBIRTHs published (new sessions and rebirths).',
    type: 'counter',
    read: () => [{ labels: {}, value: view().births }],
  });
}
