import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { Requester } from './requester.js';
import { open } from '../store/helpers.js';
import { Subscriber } from '../harness/subscriber.js';

/** The CLI's actions, remotely, and a request over MQTT 3.1.1 (reply topic and id in the JSON). */
describe('remote management: actions and MQTT 3.1.1', () => {
  let broker: Mosquitto;
  let gw: GatewayProcess;
  let op: Requester;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    const dir = tmpDir('fieldgate-actions-');
    const file = join(dir, 'fieldgate.yaml');
    // Three rows a broker would not take, set aside in the gateway's own store before it starts.
    const { store } = open(join(dir, 'state'));
    const ids = await store.outbox.enqueue(
      ['a', 'b', 'c'].map((p) => ({
        source: 'test',
        device: 'd',
        topic: `dead/${p}`,
        payload: Buffer.from(p),
        qos: 1 as const,
        retain: false,
        receivedAt: Date.now(),
      })),
    );
    for (const id of ids) await store.outbox.setAside(id, 'not_authorized');
    store.close();
    writeFileSync(
      file,
      `gateway: { id: gw-x, state_dir: state }
upstream:
  url: ${broker.url}
  reconnect: { min: 100ms, max: 300ms }
http: { enabled: false }
remote: { enabled: true, info_interval: 1s }
`,
    );
    gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up');
    op = await Requester.connect(broker.url);
  }, 30_000);

  afterAll(async () => {
    await op?.close();
    await killAllGateways();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it('logs: the newest events of the log ring at a least level, oldest first', async () => {
    const all = await op.request('gw-x', 'logs', { lines: 1000, level: 'info' });
    const events = all.body?.events as { msg: string; level: string; time: string }[];
    expect(events.some((e) => e.msg === 'fieldgate up')).toBe(true);
    expect(Date.parse(events[0]!.time)).toBeLessThanOrEqual(Date.parse(events.at(-1)!.time));
    const two = await op.request('gw-x', 'logs', { lines: 2 });
    expect(two.body?.events).toHaveLength(2);
    const warn = await op.request('gw-x', 'logs', { level: 'warn' });
    const levels = ((warn.body?.events ?? []) as { level: string }[]).map((e) => e.level);
    expect(levels.every((l) => ['warn', 'error', 'fatal'].includes(l))).toBe(true);
    expect((await op.request('gw-x', 'logs', { lines: 5000 })).code).toBe('refused');
  });

  it('log_level/set: a level that reverts by itself', async () => {
    const a = await op.request('gw-x', 'log_level/set', { level: 'debug', expires_in_s: 1 });
    expect(a.code).toBe('ok');
    expect(typeof a.body?.reverts_at).toBe('string');
    await op.request('gw-x', 'ping');
    expect(gw.lines.some((l) => l.msg === 'remote: request' && l.level === 20)).toBe(true);
    await gw.waitForLog('remote: log level reverted', 10_000);
    const debugLines = gw.lines.filter((l) => l.level === 20).length;
    await op.request('gw-x', 'ping');
    expect(gw.lines.filter((l) => l.level === 20).length).toBe(debugLines);
    expect((await op.request('gw-x', 'log_level/set', { level: 'loud' })).code).toBe('refused');
  });

  it('rules/reload, queue/retry and queue/purge-dead (the count must match)', async () => {
    expect((await op.request('gw-x', 'rules/reload')).code).toBe('ok');
    expect((await op.request('gw-x', 'info')).body?.set_aside).toBe(3);
    // A purge with the wrong count removes nothing and says how many there are.
    const wrong = await op.request('gw-x', 'queue/purge-dead', { count: 5 });
    expect(wrong).toMatchObject({ code: 'refused', body: { count: 3 } });
    expect((await op.request('gw-x', 'info')).body?.set_aside).toBe(3);
    // Retried: back at the end of the outbox, and this broker takes them.
    const sub = await Subscriber.connect(broker.url, 'dead/#', { qos: 1 });
    try {
      const retry = await op.request('gw-x', 'queue/retry');
      expect(retry).toMatchObject({ code: 'ok', body: { requeued: 3 } });
      const got = await sub.waitForCount(3);
      expect(got.map((m) => m.payload.toString()).sort()).toEqual(['a', 'b', 'c']);
    } finally {
      await sub.close();
    }
    expect((await op.request('gw-x', 'info')).body?.set_aside).toBe(0);
    expect((await op.request('gw-x', 'queue/purge-dead', {})).code).toBe('refused');
    expect(await op.request('gw-x', 'queue/purge-dead', { count: 0 })).toMatchObject({
      code: 'ok',
      body: { purged: 0 },
    });
  });

  it('restart: answered, then the gateway restarts in-process and counts the boot', async () => {
    const boots = (await op.request('gw-x', 'info')).body?.boot_count as number;
    const a = await op.request('gw-x', 'restart');
    expect(a.code).toBe('ok');
    await gw.waitForLog('restarting the gateway in this process');
    await waitFor(
      async () =>
        (await op.request('gw-x', 'info', {}, 3000).catch(() => undefined))?.body?.boot_count === boots + 1,
      'boot counted',
      20_000,
    );
    const audit = await op.waitFor('fieldgate/gw-x/admin/audit', (j) => j.request === 'restart');
    expect(audit.actor).toBe('test-operator');
  }, 30_000);

  it('republishes the retained info every info_interval', async () => {
    const n = op.seen.filter((m) => m.topic === 'fieldgate/gw-x/admin/info').length;
    await waitFor(
      () => op.seen.filter((m) => m.topic === 'fieldgate/gw-x/admin/info').length >= n + 2,
      'two more info messages',
      10_000,
    );
  });

  it('answers a request over MQTT 3.1.1: reply_to and correlation in the JSON', async () => {
    const client = mqtt.connect(broker.url, {
      protocolVersion: 4,
      clientId: `op311-${randomUUID().slice(0, 6)}`,
    });
    await new Promise<void>((r) => client.once('connect', () => r()));
    const replyTo = 'fieldgate/gw-x/admin/reply/op311';
    const got = new Promise<Record<string, unknown>>((resolve) =>
      client.on('message', (_t, p) => resolve(JSON.parse(p.toString()) as Record<string, unknown>)),
    );
    await client.subscribeAsync(replyTo, { qos: 1 });
    await client.publishAsync(
      'fieldgate/gw-x/admin/req/ping',
      JSON.stringify({ reply_to: replyTo, correlation: 'c-311', actor: 'bob' }),
      { qos: 1 },
    );
    const answer = await got;
    expect(answer).toMatchObject({ request: 'ping', code: 'ok', correlation: 'c-311' });
    await client.endAsync();
  });
});
