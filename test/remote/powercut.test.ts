import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { configHash } from '../../gateway/remote/hash.js';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { PowerCutDisk } from '../powercut/disk.js';
import { Requester } from './requester.js';
import { StreamingDevice } from './streaming-device.js';

/**
 * Power cuts (the project's simulator, test/powercut/README.md: what was not fsynced is lost, torn
 * sectors, cuts placed inside an fsync) while a new config is written and while a rollback runs.
 * After each cut the gateway comes up with the old or the new config, never a torn or empty file,
 * settles the change, and every message acknowledged to a streaming QoS 1 MQTT-SN device reaches
 * the broker.
 */
describe('remote management: power cuts during a change and a rollback', () => {
  let broker: Mosquitto;
  let gw: GatewayProcess;
  let op: Requester;
  let sub: Subscriber;
  let dev: StreamingDevice;
  let disk: PowerCutDisk;
  let file: string;
  let seedText: string;

  const state = (name: string) => join(disk.dir, name);
  const start = async () => {
    disk.prepare();
    gw = GatewayProcess.start(['run', '-c', file], disk.env());
    await gw.waitForLog('upstream: connected', 20_000);
    // The device streams through every restart (it connects again when an ack does not come).
    if (dev) {
      const n = dev.acked.length;
      await waitFor(() => dev.acked.length > n + 5, 'the device acked again after the start', 20_000);
    }
  };
  /** Wait for the process to die at the armed event, then cut the power (torn or not). */
  const cutAtEvent = async (torn: boolean) => {
    const died = await Promise.race([gw.exited(30_000).then(() => true), sleep(20_000).then(() => false)]);
    expect(died, 'the armed event came').toBe(true);
    disk.disarm();
    disk.cut(torn ? () => Math.random() < 0.5 : undefined);
  };
  /** The config file on disk is exactly one of the complete texts (or absent: the -c file runs). */
  const expectWhole = (name: string, texts: string[]) => {
    if (!existsSync(state(name))) return;
    expect(texts).toContain(readFileSync(state(name), 'utf8'));
  };

  beforeAll(async () => {
    broker = await Mosquitto.start();
    const root = tmpDir('fieldgate-remote-cut-');
    disk = new PowerCutDisk(join(root, 'state'), root);
    const snPort = await freeUdpPort();
    file = join(root, 'fieldgate.yaml');
    seedText = `gateway: { id: gw-p, state_dir: state }
upstream:
  url: ${broker.url}
  reconnect: { min: 100ms, max: 300ms }
  connect_timeout: 1s
store: { durability: power-loss }
mqttsn:
  enabled: true
  listen: 127.0.0.1:${snPort}
  predefined_topics: { 1: st/p1 }
rules:
  - match: st/p1
    publish: st/p1
http: { enabled: false }
remote: { enabled: true, confirm_within: 3s, info_interval: 1h }
`;
    writeFileSync(file, seedText);
    sub = await Subscriber.connect(broker.url, 'st/#', { qos: 1, clientId: 'cut-sub', clean: false });
    await start();
    op = await Requester.connect(broker.url);
    dev = await StreamingDevice.start(snPort, 'p1', 1);
    await waitFor(() => dev.acked.length >= 20, 'device streaming');
  }, 60_000);

  afterAll(async () => {
    await dev?.stop();
    await op?.close();
    await killAllGateways();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it('a cut inside the fsync of the new config leaves the old one; the change is reported failed, the unanswered request runs again', async () => {
    const before = await op.request('gw-p', 'config/get');
    disk.killOn('sync', '.remote-config.yaml.tmp');
    const corr = await op.send('gw-p', 'config/set', {
      patch: { rules: [{ match: 'st/p1', publish: 'st/p1/new' }] },
    });
    await cutAtEvent(true);
    // The new config's temp file never became durable: the old config (here: the -c file) is whole.
    expect(existsSync(state('remote-config.yaml'))).toBe(false);
    expect(readFileSync(state('remote-config.yaml.prev'), 'utf8')).toBe(seedText);
    await start();
    const failed = await op.waitFor('fieldgate/gw-p/admin/change', (j) => j.state === 'failed');
    expect(String(failed.reason)).toMatch(/not written/);
    expect(failed.previous_hash).toBe(before.body?.hash);
    // The request was never answered, so never acknowledged: the broker hands it over again, and
    // this time it is applied (and answered, once).
    const a = await op.answer(corr);
    expect(a.code, a.message).toBe('ok');
    expect(a.body?.change_id).not.toBe(failed.change_id);
    expect(readFileSync(state('remote-config.yaml'), 'utf8')).toContain('st/p1/new');
  }, 60_000);

  it('a torn cut at a directory fsync of the write leaves the old or the new config, whole', async () => {
    const nextRules = [{ match: 'st/p1', publish: 'st/p1/v2' }];
    disk.killOn('sync', '.');
    await op.send('gw-p', 'config/set', { patch: { rules: nextRules } });
    await cutAtEvent(true);
    await start();
    const after = await op.request('gw-p', 'config/get');
    const running = readFileSync(state('remote-config.yaml'), 'utf8');
    // Whole: it parses, and it is the old config or the new one (the unanswered request may have run again).
    const parsed = parseYaml(running) as { gateway: { id: string }; rules: { publish: string }[] };
    expect(parsed.gateway.id).toBe('gw-p');
    expect(['st/p1/new', 'st/p1/v2']).toContain(parsed.rules[0]?.publish);
    expect(after.body?.hash).toBe(configHash(running));
    // Hot change: if it landed it is confirmed at the next start; either way nothing is left pending.
    await waitFor(async () => (await op.request('gw-p', 'info')).body?.pending_change === null, 'settled');
  }, 60_000);

  it('a cut inside the rollback finishes the rollback at the next start and reports it', async () => {
    const before = await op.request('gw-p', 'config/get');
    const goodText = readFileSync(state('remote-config.yaml'), 'utf8');
    const a = await op.request('gw-p', 'config/set', { patch: { upstream: { url: 'mqtt://127.0.0.1:1' } } });
    expect(a.code).toBe('pending');
    const badText = readFileSync(state('remote-config.yaml'), 'utf8');
    // The next fsync of a new config file is the rollback restoring the previous one.
    disk.killOn('sync', '.remote-config.yaml.tmp');
    await cutAtEvent(false);
    expectWhole('remote-config.yaml', [goodText, badText]);
    expectWhole('remote-config.yaml.prev', [goodText]);
    await start();
    const rolled = await op.waitFor(
      'fieldgate/gw-p/admin/change',
      (j) => j.change_id === a.body?.change_id && j.state === 'rolled_back',
    );
    expect(String(rolled.reason)).toMatch(/uplink not connected/);
    expect((await op.request('gw-p', 'config/get')).body?.hash).toBe(before.body?.hash);
    expect(readFileSync(state('remote-config.yaml'), 'utf8')).toBe(goodText);
  }, 60_000);

  it('a cut while the rollback marks its record rolls back at the next start (deadline passed)', async () => {
    const before = await op.request('gw-p', 'config/get');
    const a = await op.request('gw-p', 'config/set', { patch: { upstream: { url: 'mqtt://127.0.0.1:1' } } });
    expect(a.code).toBe('pending');
    disk.killOn('sync', '.remote-pending.json.tmp');
    await cutAtEvent(true);
    await start();
    const rolled = await op.waitFor(
      'fieldgate/gw-p/admin/change',
      (j) => j.change_id === a.body?.change_id && j.state === 'rolled_back',
    );
    expect(String(rolled.reason)).toMatch(/not confirmed/);
    expect((await op.request('gw-p', 'config/get')).body?.hash).toBe(before.body?.hash);
  }, 60_000);

  it('a change that was answered survives a cut right after the answer', async () => {
    const a = await op.request('gw-p', 'config/set', {
      patch: { rules: [{ match: 'st/p1', publish: 'st/p1/v3' }] },
    });
    expect(a.code, a.message).toBe('ok');
    await gw.kill();
    disk.cut();
    await start();
    expect((await op.request('gw-p', 'config/get')).body?.hash).toBe(a.body?.hash);
    expect((await op.request('gw-p', 'info')).body?.last_change).toMatchObject({
      change_id: a.body?.change_id,
      state: 'confirmed',
    });
  }, 60_000);

  it('lost nothing acknowledged to the device through every cut', async () => {
    await dev.stop();
    const acked = new Set(dev.acked.map(String));
    await waitFor(
      () => {
        const got = new Set(sub.messages.map((m) => m.payload.toString()));
        return [...acked].every((n) => got.has(n));
      },
      `all ${acked.size} acked messages at the subscriber`,
      30_000,
    );
    expect(acked.size).toBeGreaterThan(40);
  }, 60_000);
});
