import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/gateway.js';
import type { LogLine } from '../harness/gateway-process.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { RabbitMq, rabbitmqInstalled } from '../harness/rabbitmq.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { httpBase, startStatusGateway } from '../status/gateway.js';
import { listen } from '../upstream/helpers.js';
import { snPublish } from '../upstream/sn-device.js';
import { decode } from '../sparkplug/decode.js';

if (!rabbitmqInstalled())
  throw new Error('rabbitmq-server is not installed (apt-get install rabbitmq-server); .ci/run installs it');

/**
 * Debian's RabbitMQ 3.10 with rabbitmq_mqtt, a broker nobody on the project wrote: MQTT 3.1.1
 * only (it closes the socket on an MQTT 5 CONNECT without a CONNACK), and QoS 2 taken as QoS 1
 * (a QoS 2 PUBLISH gets a PUBACK). The gateway runs with the DEFAULT upstream config (protocol 5).
 */
describe('RabbitMQ 3.10 (rabbitmq_mqtt) with the default config', () => {
  let rabbit: RabbitMq | undefined;
  let gateway: Gateway;
  let logs: LogLine[];
  let base: string;
  let snPort: number;
  /** /health before the broker was up. */
  let before: { status: string; reason?: string };

  beforeAll(async () => {
    snPort = await freeUdpPort();
    const mqttPort = await freePort();
    // The gateway starts first, with nothing listening yet: /health must not say "ok".
    ({ gateway, logs } = await startStatusGateway(`
gateway: { id: rmq, state_dir: state }
upstream: { url: "mqtt://127.0.0.1:${mqttPort}", reconnect: { min: 100ms, max: 1s } }
mqttsn:
  enabled: true
  listen: "127.0.0.1:${snPort}"
  predefined_topics: { 1: rmq/q0, 2: rmq/q1, 3: rmq/q2 }
rules:
  - match: rmq/q0
    qos: 0
  - match: rmq/q1
    qos: 1
  - match: rmq/q2
    qos: 2
http: { listen: "127.0.0.1:${await freePort()}" }
availability: { enabled: false }
`));
    base = httpBase(gateway);
    await waitFor(() => gateway.observability!.health().upstream === 'disconnected', 'first attempt');
    before = await health();
    // The port the gateway dials is the one the broker gets (freePort said it was free just now).
    rabbit = await RabbitMq.start(mqttPort);
    console.log(`RabbitMQ on ${rabbit.mqttPort}: MQTT listener up ${rabbit.startMs} ms after start`);
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await rabbit?.stop();
    cleanupTmpDirs();
  }, 60_000);

  async function health() {
    return (await (await fetch(`${base}/health`)).json()) as { status: string; reason?: string };
  }
  const metric = async (name: string) => {
    const text = await gateway.observability!.metrics.text();
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  it('/health is degraded while the gateway has never connected; RabbitMQ starts; the gateway falls back to 3.1.1 and /api/status says so', async () => {
    expect(before.status).toBe('degraded');
    expect(before.reason).toMatch(/uplink has never connected since start/);
    await waitFor(() => gateway.observability!.health().upstream === 'connected', 'connected', 30_000);
    const status = (await (await fetch(`${base}/api/status`)).json()) as {
      uplink: { protocol: string; protocol_fallback: { reason: string; at: number } | null };
    };
    expect(status.uplink.protocol).toBe('3.1.1');
    expect(status.uplink.protocol_fallback?.reason).toMatch(/closed before CONNACK|ECONNRESET|bad packet/);
    expect((await health()).status).toBe('ok');
    const fallback = logs.filter((l) => /falling back to MQTT 3.1.1/.test(String(l.msg)));
    expect(fallback).toHaveLength(1);
    expect(fallback[0]).toMatchObject({ level: 40, reason: status.uplink.protocol_fallback?.reason });
  }, 120_000);

  it('QoS 0, 1 and 2 devices all deliver; QoS 2 is counted as downgraded; a QoS 1 device is never held up by QoS 2 rows', async () => {
    await waitFor(() => gateway.observability!.health().upstream === 'connected', 'connected', 30_000);
    const sub = await listen(rabbit!.url, 'rmq/#', { qos: 1 });
    const devs = await Promise.all([0, 1, 2].map(() => SnClient.open(snPort)));
    try {
      for (const [i, d] of devs.entries()) expect((await d.connect(`rmq-q${i}`)).returnCode).toBe(0);
      const [q0, q1, q2] = devs as [SnClient, SnClient, SnClient];
      // More QoS 2 readings than the QoS 2 window (max_inflight_qos2 10), interleaved with QoS 1 ones.
      const N = 30;
      for (let i = 1; i <= N; i++) {
        await snPublish(q2, 3, i, 2, `q2:${i}`);
        await snPublish(q1, 2, i, 1, `q1:${i}`);
        if (i % 3 === 0) await snPublish(q0, 1, 0, 0, `q0:${i}`);
      }
      await waitFor(() => gateway.observability!.health().outbox.rows === 0, 'outbox drained', 20_000);
      const got = (topic: string) =>
        sub.messages.filter((m) => m.topic === topic).map((m) => m.payload.toString());
      await waitFor(
        () => got('rmq/q1').length >= N && got('rmq/q2').length >= N && got('rmq/q0').length >= N / 3,
        'every reading at the subscriber',
      );
      const seq = (p: string, n: number, step = 1) =>
        Array.from({ length: n / step }, (_, k) => `${p}:${(k + 1) * step}`);
      expect(got('rmq/q1')).toEqual(seq('q1', N));
      expect(got('rmq/q2')).toEqual(seq('q2', N)); // at QoS 1 from RabbitMQ: here once each
      expect(got('rmq/q0')).toEqual(seq('q0', N, 3));
      const downgraded =
        (await metric('fieldgate_upstream_qos_downgraded_total\\{reason="puback"\\}')) +
        (await metric('fieldgate_upstream_qos_downgraded_total\\{reason="broker_maximum_qos"\\}'));
      expect(await metric('fieldgate_upstream_qos_downgraded_total\\{reason="puback"\\}')).toBeGreaterThan(0);
      expect(downgraded).toBe(N);
      expect(gateway.observability!.health().outbox.set_aside ?? 0).toBe(0);
      expect(await metric('fieldgate_upstream_reconnects_total')).toBe(0);
      // Said once per connection, not once per message.
      expect(logs.filter((l) => /answered a QoS 2 message with PUBACK/.test(String(l.msg)))).toHaveLength(1);
      expect((await health()).status).toBe('ok');
    } finally {
      for (const d of devs) await d.close();
      await sub.close();
    }
  }, 60_000);

  it('with protocol "3.1.1" too: QoS 2 readings beyond the QoS 2 window complete (PUBACK), and QoS 1 readings flow beside them', async () => {
    const port = await freeUdpPort();
    const { gateway: gw } = await startStatusGateway(`
gateway: { id: rmq311, state_dir: state }
upstream: { url: "${rabbit!.url}", protocol: "3.1.1", max_inflight_qos2: 2, reconnect: { min: 100ms, max: 1s } }
mqttsn:
  enabled: true
  listen: "127.0.0.1:${port}"
  predefined_topics: { 1: rmq311/q1, 2: rmq311/q2 }
rules:
  - match: rmq311/q1
    qos: 1
  - match: rmq311/q2
    qos: 2
http: { enabled: false }
availability: { enabled: false }
`);
    const sub = await listen(rabbit!.url, 'rmq311/#', { qos: 1 });
    const q1 = await SnClient.open(port);
    const q2 = await SnClient.open(port);
    try {
      await waitFor(() => gw.observability!.health().upstream === 'connected', 'connected');
      expect((await q1.connect('rmq311-q1')).returnCode).toBe(0);
      expect((await q2.connect('rmq311-q2')).returnCode).toBe(0);
      for (let i = 1; i <= 10; i++) {
        await snPublish(q2, 2, i, 2, `q2:${i}`);
        await snPublish(q1, 1, i, 1, `q1:${i}`);
      }
      await waitFor(() => sub.messages.length >= 20, `20 readings (have ${sub.messages.length})`, 15_000);
      await waitFor(() => gw.observability!.health().outbox.rows === 0, 'outbox drained');
      const got = (t: string) => sub.messages.filter((m) => m.topic === t).map((m) => m.payload.toString());
      expect(got('rmq311/q2')).toEqual(Array.from({ length: 10 }, (_, k) => `q2:${k + 1}`));
      expect(got('rmq311/q1')).toEqual(Array.from({ length: 10 }, (_, k) => `q1:${k + 1}`));
      const text = await gw.observability!.metrics.text();
      expect(text).toMatch(/^fieldgate_upstream_qos_downgraded_total\{reason="puback"\} [1-9]/m);
    } finally {
      await q1.close();
      await q2.close();
      await sub.close();
      await gw.stop();
    }
  }, 60_000);

  it('Sparkplug B: RabbitMQ turns "spBv1.0" into "spBv1/0" in topic names; the node sees it in its own NBIRTH, says so once, and /health is degraded', async () => {
    const port = await freeUdpPort();
    const sub = await listen(rabbit!.url, 'spBv1.0/#', { qos: 1 });
    const { gateway: gw, logs: gwLogs } = await startStatusGateway(`
gateway: { id: rmqspb, state_dir: state }
upstream: { url: "${rabbit!.url}", reconnect: { min: 100ms, max: 1s } }
mqttsn:
  enabled: true
  listen: "127.0.0.1:${port}"
  predefined_topics: { 1: plant/temp }
sparkplug:
  enabled: true
  group_id: rmq
  sources: [{ source: mqttsn, report: every_poll, metrics: [{ topic: plant/temp, name: temp, datatype: Double }] }]
http: { enabled: false }
availability: { enabled: false }
`);
    const dev = await SnClient.open(port);
    let stopped = false;
    try {
      await waitFor(
        () => (gw.observability!.health().sparkplug as { born?: boolean } | undefined)?.born === true,
        'the node born on RabbitMQ (its own connection fell back to 3.1.1 too)',
        30_000,
      );
      expect((await dev.connect('boiler')).returnCode).toBe(0);
      for (const t of [20.5, 21, 21.5]) await snPublish(dev, 1, 0, 1, String(t));
      // What a host subscribed to spBv1.0/# gets from RabbitMQ: the payloads whole, the topics rewritten.
      const spb = () =>
        sub.messages
          .filter((m) => m.topic.startsWith('spBv1/0/'))
          .map((m) => decode({ ...m, topic: m.topic.replace('spBv1/0/', 'spBv1.0/') }));
      await waitFor(() => spb().filter((m) => m.verb === 'DDATA').length >= 3, 'three DDATA', 15_000);
      expect(sub.messages.some((m) => m.topic.startsWith('spBv1.0/'))).toBe(false);
      const msgs = spb();
      expect(msgs[0]).toMatchObject({ topic: 'spBv1.0/rmq/NBIRTH/rmqspb', seq: 0 });
      expect(msgs.filter((m) => m.verb === 'DDATA').map((m) => m.metrics[0]!.value)).toEqual([
        20.5, 21, 21.5,
      ]);
      expect(msgs.map((m) => m.seq)).toEqual(msgs.map((_, i) => i));
      // The gateway noticed (its own NBIRTH came back rewritten) and says what it means, once.
      await waitFor(
        () => gwLogs.some((l) => /the broker rewrites "\." in topic names/.test(String(l.msg))),
        'the rewrite logged',
      );
      expect(
        gwLogs.filter((l) => /the broker rewrites "\." in topic names/.test(String(l.msg))),
      ).toHaveLength(1);
      const h = gw.observability!.health();
      expect(h.degraded).toEqual(
        expect.arrayContaining([expect.stringMatching(/rewrites "\." in Sparkplug/)]),
      );
      const bdSeq = msgs[0]!.metrics.find((m) => m.name === 'bdSeq')!.num;
      await gw.stop();
      stopped = true;
      await waitFor(() => spb().some((m) => m.verb === 'NDEATH'), 'NDEATH on a clean stop');
      expect(
        spb()
          .find((m) => m.verb === 'NDEATH')!
          .metrics.find((m) => m.name === 'bdSeq')!.num,
      ).toBe(bdSeq);
    } finally {
      await dev.close();
      await sub.close();
      if (!stopped) await gw.stop();
    }
  }, 60_000);
});
