import { afterAll, describe, expect, it } from 'vitest';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { listen, makeClient, msg, nextEvent, openTestStore } from '../upstream/helpers.js';

afterAll(cleanupTmpDirs);

describe('broker failover', () => {
  it('the first of two brokers dies while 10 devices stream QoS 1 and 2: the client moves on and every message arrives', async () => {
    // Two independent brokers (not bridged): what one cluster node loses, the other never had.
    // A keeps what it acknowledged across its stop (persistence), as a production broker does: a
    // message it acked just before SIGTERM may not have reached its subscriber yet, and that loss
    // would be the broker's, not the gateway's. It comes out after A's restart below.
    const [a, b] = await Promise.all([Mosquitto.start({ persistence: true }), Mosquitto.start()]);
    const subA = await listen(a.url, 'fo/#', { qos: 2, clientId: 'fo-sub-a', clean: false });
    const subB = await listen(b.url, 'fo/#', { qos: 2 });
    const store = openTestStore();
    const { client, events, lines } = makeClient(store, {
      url: [a.url, b.url],
      reconnect: { min: '100ms', max: '300ms' },
    });
    await client.start();
    await nextEvent(client.events$, 'connected');
    expect(client.brokerUrl).toBe(a.url);

    const devices = Array.from({ length: 10 }, (_, i) => `d${i}`);
    const BATCHES = 60;
    let killed: Promise<void> | undefined;
    for (let n = 0; n < BATCHES; n++) {
      // Odd devices QoS 2, even QoS 1: one reading each per batch.
      await store.outbox.enqueue(devices.map((d, i) => msg(d, `fo/${d}`, `${d}:${n}`, i % 2 === 0 ? 1 : 2)));
      if (n === 20) killed = a.stop(); // mid-stream, with rows in flight
      await sleep(15); // a stream, not one backlog (pacing only; nothing is asserted on time)
    }
    await killed;
    await waitFor(() => store.outbox.stats().rows === 0, 'outbox drained through the second broker', 20_000);
    expect(client.brokerUrl).toBe(b.url);
    expect(events.some((e) => e.type === 'broker-move')).toBe(true);
    expect(lines.some((l) => l.msg === 'upstream: trying the next broker')).toBe(true);

    // At least once across the move: every reading reached a subscriber of one broker or the other.
    // (PUBCOMP can come back before the broker's own delivery to the subscriber: wait for them, and
    // bring A back so that what it acknowledged before it stopped reaches its subscriber.)
    await a.restart();
    const missing = () => {
      const got = new Set([...subA.messages, ...subB.messages].map((m) => m.payload.toString()));
      const out: string[] = [];
      for (let n = 0; n < BATCHES; n++)
        for (const d of devices) if (!got.has(`${d}:${n}`)) out.push(`${d}:${n}`);
      return out;
    };
    await waitFor(() => missing().length === 0, 'every reading at a subscriber', 5000).catch(() => undefined);
    expect(missing()).toEqual([]);
    expect(subA.messages.length).toBeGreaterThan(0); // the first broker did carry part of the stream
    expect(subB.messages.length).toBeGreaterThan(0);

    // Healthy on the second broker: it stays there (no move back while connected).
    const moves = events.filter((e) => e.type === 'broker-move').length;
    await store.outbox.enqueue([msg('d0', 'fo/d0', 'd0:last', 1)]);
    await waitFor(() => subB.messages.some((m) => m.payload.toString() === 'd0:last'), 'a later message');
    expect(events.filter((e) => e.type === 'broker-move').length).toBe(moves);

    await client.stop();
    store.close();
    await Promise.all([subA.close(), subB.close()]);
    await Promise.all([a.stop(), b.stop()]);
  }, 60_000);

  it('a whole gateway: fieldgate_upstream_broker{url} shows the broker in use, credentials redacted, and follows a move', async () => {
    const [a, b] = await Promise.all([Mosquitto.start(), Mosquitto.start()]);
    // mosquitto without a password file ignores the credentials; they must not reach the metric.
    const { gateway, logs } = await startGateway(`
gateway: { id: gwf, state_dir: state }
upstream:
  url: ["mqtt://gw:s3cret@127.0.0.1:${a.port}", "mqtt://127.0.0.1:${b.port}"]
  reconnect: { min: 100ms, max: 300ms }
http: { enabled: false }
`);
    const metric = async (url: string) => {
      const series = `fieldgate_upstream_broker{url="${url}"}`;
      const text = await gateway.observability!.metrics.text();
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const urlA = `mqtt://***@127.0.0.1:${a.port}`;
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected');
    expect([await metric(urlA), await metric(b.url)]).toEqual([1, 0]);
    await a.stop();
    await waitFor(async () => (await metric(b.url)) === 1, 'the metric following the move');
    expect(await metric(urlA)).toBe(0);
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected to b');
    expect(JSON.stringify(logs)).not.toContain('s3cret');
    expect((await gateway.observability!.metrics.text()).includes('s3cret')).toBe(false);
    await gateway.stop();
    await b.stop();
  }, 30_000);
});
