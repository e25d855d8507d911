import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';

afterAll(cleanupTmpDirs);

describe('MQTT 5 request/response for commands (issue 15)', () => {
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
});
