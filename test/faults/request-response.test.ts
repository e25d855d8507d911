import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';

afterAll(cleanupTmpDirs);

describe('MQTT 5 request/response for commands', () => {
  it("a command's result answers the request's Response Topic with its Correlation Data", async () => {
    const broker = await Mosquitto.start();
    const port = await freeUdpPort();
    const { gateway } = await startGateway(`
gateway: { id: gwq, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn: { enabled: true, listen: 127.0.0.1:${port} }
commands:
  - subscribe: cmd/{gateway}/sn/+device
    to: mqttsn
    topic: cm
    qos: 1
    result_topic: res/{device}
http: { enabled: false }
`);
    const got: mqtt.IPublishPacket[] = [];
    const app = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'requester' });
    app.on('message', (_t, _p, packet) => got.push(packet));
    await app.subscribeAsync(['reply/#', 'res/#'], { qos: 1 });
    // The gateway subscribes once connected: ask until an answer comes (unknown device: answered at once).
    let n = 0;
    await waitFor(
      async () => {
        await app.publishAsync('cmd/gwq/sn/nobody', 'open', {
          qos: 1,
          properties: { responseTopic: 'reply/app-1', correlationData: Buffer.from(`req-${++n}`) },
        });
        return waitFor(() => got.length > 0, 'an answer', 500).catch(() => false);
      },
      'the gateway answering',
      15_000,
      0,
    );
    const answer = got[0]!;
    // The requester's Response Topic wins over the rule's result_topic.
    expect(answer.topic).toBe('reply/app-1');
    expect(got.some((m) => m.topic.startsWith('res/'))).toBe(false);
    expect(answer.properties?.correlationData?.toString()).toMatch(/^req-\d+$/);
    expect(answer.properties?.contentType).toBe('application/json');
    expect(JSON.parse(answer.payload.toString())).toMatchObject({
      outcome: 'unknown-device',
      device: 'nobody',
    });
    await gateway.stop();
    await app.endAsync();
    await broker.stop();
  }, 30_000);
  it("a Response Topic is screened: another gateway's commands, the gateway's own topics and anything outside upstream.response_topics are refused", async () => {
    const broker = await Mosquitto.start();
    const port = await freeUdpPort();
    const { gateway, logs } = await startGateway(`
gateway: { id: gwr, state_dir: state }
upstream:
  url: ${broker.url}
  reconnect: { min: 100ms, max: 400ms }
  response_topics: ["reply/#", "fieldgate/#"]
mqttsn: { enabled: true, listen: 127.0.0.1:${port} }
commands:
  - subscribe: cmd/{gateway}/sn/+device
    to: mqttsn
    topic: cm
    qos: 1
    result_topic: res/{device}
http: { enabled: false }
`);
    const got: mqtt.IPublishPacket[] = [];
    const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'watcher' });
    watcher.on('message', (_t, _p, packet) => got.push(packet));
    await watcher.subscribeAsync('#', { qos: 1 });
    const app = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'attacker' });
    const ask = (device: string, responseTopic: string) =>
      app.publishAsync(`cmd/gwr/sn/${device}`, 'open', {
        qos: 1,
        properties: { responseTopic, correlationData: Buffer.from(device) },
      });
    // Until the gateway subscribed: its result for an unknown device comes at once (on res/…).
    await waitFor(
      async () => {
        await app.publishAsync('cmd/gwr/sn/probe', 'open', { qos: 1 });
        return waitFor(() => got.some((m) => m.topic === 'res/probe'), 'a result', 500).catch(() => false);
      },
      'the gateway answering',
      15_000,
      0,
    );
    await ask('d1', 'cmd/gw-other/door-3/unlock'); // another gateway's command topic
    await ask('d2', 'fieldgate/gwr/status'); // allowed prefix, but the gateway's own status topic
    await ask('d3', 'cmd/gwr/sn/d9'); // its own command filter, outside the allowed prefixes
    await ask('d5', 'reply/+'); // under the prefix, but a wildcard is no topic name
    await ask('d4', 'reply/app-1'); // allowed
    await waitFor(() => got.some((m) => m.topic === 'reply/app-1'), 'the allowed answer');
    await waitFor(
      () => ['d1', 'd2', 'd3', 'd5'].every((d) => got.some((m) => m.topic === `res/${d}`)),
      'results',
    );
    const topics = got.map((m) => m.topic);
    expect(topics).not.toContain('cmd/gw-other/door-3/unlock');
    expect(topics).not.toContain('cmd/gwr/sn/d9');
    // The status topic carries only the gateway's retained 'online'.
    expect(got.filter((m) => m.topic === 'fieldgate/gwr/status').map((m) => m.payload.toString())).toEqual([
      'online',
    ]);
    // Refused requests still run; their result goes to result_topic, without the Correlation Data.
    const d1 = got.find((m) => m.topic === 'res/d1')!;
    expect(d1.properties?.correlationData).toBeUndefined();
    expect(got.find((m) => m.topic === 'reply/app-1')!.properties?.correlationData?.toString()).toBe('d4');
    const metrics = await gateway.observability!.metrics.text();
    expect(metrics).toMatch(
      /fieldgate_messages_dropped_total\{source="upstream",reason="response_topic"\} 2\b/,
    );
    expect(metrics).toMatch(/fieldgate_messages_dropped_total\{source="upstream",reason="loop_guard"\} 1\b/);
    expect(metrics).toMatch(
      /fieldgate_messages_dropped_total\{source="upstream",reason="invalid_topic"\} 1\b/,
    );
    // Logged, rate-limited: one line per reason.
    const lines = logs.filter((l) => String(l.msg).startsWith("command's Response Topic refused"));
    expect(lines.map((l) => l.reason).sort()).toEqual(['invalid_topic', 'loop_guard', 'response_topic']);
    await gateway.stop();
    await app.endAsync();
    await watcher.endAsync();
    await broker.stop();
  }, 30_000);
});
