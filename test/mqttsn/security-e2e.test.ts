import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import type { LogLine } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { SnClient } from './client.js';

/**
 * Command injection, through the whole gateway and a real mosquitto: with the default command route and no
 * topic_prefix, a device publishing on another device's command topic used to command it.
 */
describe('mqttsn security end to end: the ACL stops command injection', () => {
  let broker: Mosquitto;
  let gateway: Gateway;
  let logs: LogLine[];
  let sub: Subscriber;
  let port: number;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    port = await freeUdpPort();
    sub = await Subscriber.connect(broker.url, ['cmd/#', 'sensors/#'], { qos: 1 });
    ({ gateway, logs } = await startGateway(`
gateway: { id: gw9, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn:
  enabled: true
  listen: 127.0.0.1:${port}
  predefined_topics: { 9: cmd/gw9/victim }
  acl:
    rules:
      - publish: ["sensors/{client}/#"]
        subscribe: ["cmd/{client}/#"]
rules:
  - match: "#"
    qos: 1
commands:
  - subscribe: cmd/{gateway}/+device
    to: mqttsn
    topic: cmd
http: { enabled: false }
`));
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected upstream');
  });

  afterAll(async () => {
    await gateway?.stop();
    await sub?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it("a device cannot publish on another device's command topic; its own readings and real commands flow", async () => {
    const victim = await SnClient.open(port);
    expect((await victim.connect('victim')).returnCode).toBe(0);
    const evil = await SnClient.open(port);
    expect((await evil.connect('evil')).returnCode).toBe(0);
    await evil.send({ type: 'register', topicId: 0, msgId: 1, topicName: 'cmd/gw9/victim' });
    expect((await evil.expect('regack')).returnCode).toBe(3);
    for (const qos of [0, 1] as const)
      await evil.send({
        type: 'publish',
        flags: flags({ qos, topicIdType: 1 }),
        topicId: 9,
        msgId: 2 + qos,
        data: Buffer.from('open'),
      });
    expect((await evil.expect('puback')).returnCode).toBe(3);
    // its own topic goes through (and, sent last, arrives after anything the refused ones would have caused)
    await evil.send({ type: 'register', topicId: 0, msgId: 4, topicName: 'sensors/evil/t' });
    const own = await evil.expect('regack');
    await evil.send({
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId: own.topicId,
      msgId: 5,
      data: Buffer.from('1'),
    });
    expect((await evil.expect('puback')).returnCode).toBe(0);
    await sub.waitForCount(1, 5000, 'sensors/evil/t');
    expect(sub.messages.filter((m) => m.topic.startsWith('cmd/'))).toEqual([]);
    // a real command from the cloud side still reaches the victim, and only that one
    await publishTo(broker.url, 'cmd/gw9/victim', 'close');
    const reg = await victim.expect('register', 5000);
    expect(reg.topicName).toBe('cmd');
    await victim.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
    const cmd = await victim.expect('publish', 5000);
    expect(cmd.data.toString()).toBe('close');
    if (cmd.msgId)
      await victim.send({ type: 'puback', topicId: cmd.topicId, msgId: cmd.msgId, returnCode: 0 });
    expect(victim.inbox.filter((p) => p.type === 'publish')).toEqual([]);
    const metrics = await gateway.observability!.metrics.text();
    expect(metrics).toMatch(/fieldgate_messages_dropped_total\{source="mqttsn",reason="acl_denied"\} 3/);
    expect(logs.some((l) => l.level === 40 && l.msg === 'mqttsn refused: acl_denied')).toBe(true);
    await victim.close();
    await evil.close();
  });
});
