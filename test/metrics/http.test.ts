import { afterEach, describe, expect, it } from 'vitest';
import type { Health } from '../../gateway/metrics/health.js';
import { type HttpServer, startHttpServer } from '../../gateway/metrics/http.js';
import { mqttsnMetrics } from '../../adapters/mqttsn/metrics.js';
import { type SerialPortState, serialMetrics } from '../../adapters/serial/metrics.js';
import { Metrics } from '../../gateway/metrics/metrics.js';

const servers: HttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(metrics: Metrics, health: () => Health | Promise<Health>) {
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, metrics, health });
  servers.push(server);
  const { port } = server.address();
  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, signal: AbortSignal.timeout(5000) });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };
  return { server, get };
}

/** The value of one sample line in Prometheus text, e.g. value(text, 'fieldgate_outbox_rows'). */
function value(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

const okHealth = (over: Partial<Health> = {}): Health => ({
  serving: true,
  upstream: 'connected',
  outbox: { rows: 0, bytes: 0, oldest_age_seconds: 0 },
  ...over,
});

describe('GET /metrics over real HTTP', () => {
  it('serves Prometheus text whose values follow counters and sources', async () => {
    let now = 1_000_000;
    const m = new Metrics({ now: () => now });
    let outbox = { rows: 0, bytes: 0, oldestAt: null as number | null, inflight: 0 };
    let upstream = { connected: false, inflight: 0 };
    let ports: SerialPortState[] = [{ port: 'weather', state: 'open' }];
    m.setOutboxSource(() => outbox);
    m.setUpstreamSource(() => upstream);
    m.setInboxSource(() => ({ rows: 2 }));
    mqttsnMetrics(m.sink, () => ({ active: 3, asleep: 1, lost: 0 }));
    serialMetrics(m.sink, () => ports);
    const { get } = await serve(m, () => okHealth());

    let r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/plain');
    expect(value(r.text, 'fieldgate_outbox_rows')).toBe(0);
    expect(value(r.text, 'fieldgate_upstream_connected')).toBe(0);
    expect(value(r.text, 'fieldgate_inbox_rows')).toBe(2);
    expect(value(r.text, 'fieldgate_mqttsn_devices{state="active"}')).toBe(3);
    expect(value(r.text, 'fieldgate_serial_ports{port="weather",state="open"}')).toBe(1);
    // Default process metrics are in the private registry too.
    expect(r.text).toContain('process_cpu_seconds_total');
    expect(r.text).toContain('nodejs_eventloop_lag_seconds');

    m.messageIn('serial:weather', 5);
    m.messageIn('mqttsn');
    m.messageOut(1, 4);
    m.dropped('mqttsn', 'max_rows', 2);
    m.upstreamReconnected();
    m.command('serial:weather', 'sent');
    m.observeE2eLatency(now - 20); // 20 ms
    m.observeE2eLatency(now - 2 * 3600e3); // a 2 h backlog
    m.observeStoreCommit(0.003);
    outbox = { rows: 7, bytes: 700, oldestAt: now - 90_000, inflight: 0 };
    upstream = { connected: true, inflight: 3 };
    ports = [{ port: 'weather', state: 'reopening' }];
    now += 10_000;

    r = await get('/metrics');
    expect(value(r.text, 'fieldgate_messages_in_total{source="serial:weather"}')).toBe(5);
    expect(value(r.text, 'fieldgate_messages_in_total{source="mqttsn"}')).toBe(1);
    expect(value(r.text, 'fieldgate_messages_out_total{qos="1"}')).toBe(4);
    expect(value(r.text, 'fieldgate_messages_dropped_total{source="mqttsn",reason="max_rows"}')).toBe(2);
    expect(value(r.text, 'fieldgate_upstream_reconnects_total')).toBe(1);
    expect(value(r.text, 'fieldgate_commands_total{target="serial:weather",outcome="sent"}')).toBe(1);
    expect(value(r.text, 'fieldgate_outbox_rows')).toBe(7);
    expect(value(r.text, 'fieldgate_outbox_bytes')).toBe(700);
    expect(value(r.text, 'fieldgate_outbox_oldest_age_seconds')).toBe(100);
    expect(value(r.text, 'fieldgate_upstream_connected')).toBe(1);
    expect(value(r.text, 'fieldgate_upstream_inflight')).toBe(3);
    // The old state is gone, the new one is reported.
    expect(value(r.text, 'fieldgate_serial_ports{port="weather",state="open"}')).toBeUndefined();
    expect(value(r.text, 'fieldgate_serial_ports{port="weather",state="reopening"}')).toBe(1);
    expect(value(r.text, 'fieldgate_e2e_latency_seconds_bucket{le="0.025"}')).toBe(1);
    expect(value(r.text, 'fieldgate_e2e_latency_seconds_bucket{le="3600"}')).toBe(1);
    expect(value(r.text, 'fieldgate_e2e_latency_seconds_bucket{le="14400"}')).toBe(2);
    expect(value(r.text, 'fieldgate_e2e_latency_seconds_count')).toBe(2);
    expect(value(r.text, 'fieldgate_store_commit_seconds_bucket{le="0.005"}')).toBe(1);
  });

  it('a source that throws leaves its gauge stale but /metrics up', async () => {
    const m = new Metrics({ defaultMetrics: false });
    let fail = false;
    m.setOutboxSource(() => {
      if (fail) throw new Error('db closed');
      return { rows: 4, bytes: 40, oldestAt: null };
    });
    const { get } = await serve(m, () => okHealth());
    expect(value((await get('/metrics')).text, 'fieldgate_outbox_rows')).toBe(4);
    fail = true;
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(value(r.text, 'fieldgate_outbox_rows')).toBe(4);
  });

  it('two Metrics instances do not share values', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.messageIn('mqttsn', 3);
    expect(value(await a.text(), 'fieldgate_messages_in_total{source="mqttsn"}')).toBe(3);
    expect(value(await b.text(), 'fieldgate_messages_in_total{source="mqttsn"}')).toBeUndefined();
  });
});

describe('GET /health over real HTTP', () => {
  it('200 with the status JSON while serving; an upstream outage is still 200', async () => {
    let health = okHealth({
      outbox: { rows: 3, bytes: 30, oldest_age_seconds: 1.5 },
      listeners: { mqttsn: true },
    });
    const { get } = await serve(new Metrics({ defaultMetrics: false }), () => health);
    let r = await get('/health');
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/json');
    expect(JSON.parse(r.text)).toEqual({
      status: 'ok',
      upstream: 'connected',
      outbox: { rows: 3, bytes: 30, oldest_age_seconds: 1.5 },
      listeners: { mqttsn: true },
    });

    health = okHealth({
      upstream: 'disconnected',
      outbox: { rows: 5000, bytes: 1e6, oldest_age_seconds: 600 },
    });
    r = await get('/health');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({
      status: 'ok',
      upstream: 'disconnected',
      outbox: { rows: 5000 },
    });
  });

  it('503 with a reason when not serving, or when the health check itself fails', async () => {
    let mode: 'down' | 'throws' | 'rejects' = 'down';
    const { get } = await serve(new Metrics({ defaultMetrics: false }), () => {
      if (mode === 'throws') throw new Error('store is closed');
      if (mode === 'rejects') return Promise.reject(new Error('timeout'));
      return okHealth({ serving: false, reason: 'mqttsn listener not bound: EADDRINUSE' });
    });
    let r = await get('/health');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text)).toMatchObject({
      status: 'unavailable',
      reason: 'mqttsn listener not bound: EADDRINUSE',
    });
    mode = 'throws';
    r = await get('/health');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text).reason).toContain('store is closed');
    mode = 'rejects';
    r = await get('/health');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.text).reason).toContain('timeout');
  });

  it('404 for other paths, 405 for other methods, HEAD without a body', async () => {
    const { get } = await serve(new Metrics({ defaultMetrics: false }), () => okHealth());
    expect((await get('/')).status).toBe(404);
    expect((await get('/metricsx')).status).toBe(404);
    expect((await get('/health', 'POST')).status).toBe(405);
    const head = await get('/health', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect((await get('/metrics?name[]=x')).status).toBe(200);
  });

  it('binds loopback by default, rejects on a port in use, and close() frees the port', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const first = await startHttpServer({ port: 0, metrics: m, health: () => okHealth() });
    servers.push(first);
    expect(first.address().host).toBe('127.0.0.1');
    const { port } = first.address();
    await expect(startHttpServer({ port, metrics: m, health: () => okHealth() })).rejects.toThrow(
      /EADDRINUSE/,
    );
    // A keep-alive connection must not hold close() open.
    await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) }).then((r) =>
      r.text(),
    );
    await servers.pop()!.close();
    const again = await startHttpServer({ port, metrics: m, health: () => okHealth() });
    servers.push(again);
    expect(again.address().port).toBe(port);
  });
});
