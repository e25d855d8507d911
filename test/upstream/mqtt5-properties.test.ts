import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { engine, reading } from '../rules/helpers.js';
import { makeClient, openTestStore } from './helpers.js';

afterAll(cleanupTmpDirs);

describe('MQTT 5 properties from rules', () => {
  it('user properties, content type, payload format and the remaining expiry reach an MQTT 5 subscriber', async () => {
    const broker = await Mosquitto.start();
    const got: mqtt.IPublishPacket[] = [];
    const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'props-sub' });
    sub.on('message', (_t, _p, packet) => got.push(packet));
    await sub.subscribeAsync('site/#', { qos: 1 });

    const rules = engine({
      rules: [
        {
          match: 'sensors/+id/temp',
          publish: 'site/{gateway}/{id}',
          transform: '{"t": $number(payload)}',
          properties: { source: '{source}', device: '{device}' },
          content_type: 'application/json',
          expiry: '1h',
        },
      ],
    });
    const r = reading({ receivedAt: Date.now() - 60_000 }); // waited a minute already
    const run = await rules.uplink(r, Date.now());
    expect(run.errors).toEqual([]);
    const store = openTestStore();
    await store.outbox.enqueue(run.messages);
    const { client } = makeClient(store, { url: broker.url });
    await client.start();
    await waitFor(() => got.length === 1, 'the message at the subscriber');
    const p = got[0]!;
    expect(p.topic).toBe('site/gw1/t1');
    expect(p.properties?.userProperties).toEqual({ source: 'serial:weather', device: 'dev-a' });
    expect(p.properties?.contentType).toBe('application/json');
    expect(p.properties?.payloadFormatIndicator).toBe(true);
    // 1 h minus the minute it already waited (a second or two of slack for the test itself).
    const left = p.properties?.messageExpiryInterval ?? 0;
    expect(left).toBeLessThanOrEqual(3540);
    expect(left).toBeGreaterThan(3530);
    await client.stop();
    store.close();
    await sub.endAsync();
    await broker.stop();
  });

  it('a user property template naming an unknown value is a config error at its key path', () => {
    expect(() => engine({ rules: [{ match: 'a/+x', properties: { who: '{nope}' } }] })).toThrow(
      expect.objectContaining({
        problems: [expect.objectContaining({ path: ['rules', 0, 'properties', 'who'] })],
      }),
    );
  });
});
