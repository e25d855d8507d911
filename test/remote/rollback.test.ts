import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { PtyPair } from '../harness/socat.js';
import { Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { Requester } from './requester.js';
import { StreamingDevice } from './streaming-device.js';

/**
 * Automatic rollback, with a real gateway process, a real mosquitto, a real MQTT-SN device over UDP
 * streaming QoS 1 throughout and a real pty serial port: a change that cuts the gateway off (an
 * upstream URL that points nowhere, a serial port that does not exist) is rolled back within the
 * shortened remote.confirm_within, the gateway reconnects, reports `rolled_back` with the reason, and
 * nothing acknowledged to the device is lost.
 */
describe('remote management: automatic rollback', () => {
  let broker: Mosquitto;
  let gw: GatewayProcess;
  let op: Requester;
  let sub: Subscriber;
  let dev: StreamingDevice;
  let dev2: StreamingDevice;
  let dir: string;
  let pty: PtyPair;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    dir = tmpDir('fieldgate-rollback-');
    pty = await PtyPair.open(dir);
    const snPort = await freeUdpPort();
    const file = join(dir, 'fieldgate.yaml');
    writeFileSync(
      file,
      `gateway: { id: gw-r, state_dir: state }
upstream:
  url: ${broker.url}
  reconnect: { min: 100ms, max: 300ms }
  connect_timeout: 1s
store: { durability: power-loss }
mqttsn:
  enabled: true
  listen: 127.0.0.1:${snPort}
  predefined_topics: { 1: st/dev1, 2: st/dev2 }
serial:
  - name: weather
    path: ${pty.device}
    format: kv
    topic: sensors/{device}/{field}
    reopen: { min: 50ms, max: 200ms }
http: { enabled: false }
remote: { enabled: true, confirm_within: 3s, info_interval: 1h }
`,
    );
    sub = await Subscriber.connect(broker.url, 'st/#', { qos: 1, clientId: 'rollback-sub', clean: false });
    gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up');
    op = await Requester.connect(broker.url);
    dev = await StreamingDevice.start(snPort, 'dev1', 1);
    dev2 = await StreamingDevice.start(snPort, 'dev2', 2);
    await waitFor(() => dev.acked.length >= 20 && dev2.acked.length >= 20, 'devices streaming');
  }, 60_000);

  afterAll(async () => {
    await dev?.stop();
    await dev2?.stop();
    await op?.close();
    await killAllGateways();
    await broker?.stop();
    await pty?.close();
    cleanupTmpDirs();
  });

  async function changeAndExpectRollback(patch: Record<string, unknown>, reason: RegExp, busyCheck = false) {
    const before = await op.request('gw-r', 'config/get');
    const a = await op.request('gw-r', 'config/set', { patch });
    expect(a.code, a.message).toBe('pending');
    expect(a.body).toMatchObject({ apply: 'restart', previous_hash: before.body?.hash, confirm_by_s: 3 });
    const changeId = String(a.body?.change_id);
    if (busyCheck) {
      // While it awaits confirmation (the uplink is up, the port is not), another change is answered busy.
      const busy = await op.request('gw-r', 'config/set', { patch: { rules: [] } });
      expect(busy.code).toBe('busy');
      expect(busy.body).toMatchObject({ pending: changeId });
    }
    const rolled = await op.waitFor(
      'fieldgate/gw-r/admin/change',
      (j) => j.change_id === changeId && j.state === 'rolled_back',
      30_000,
    );
    expect(String(rolled.reason)).toMatch(reason);
    const info = await op.request('gw-r', 'info');
    expect(info.body?.config).toMatchObject({ hash: before.body?.hash });
    expect(info.body?.last_change).toMatchObject({ change_id: changeId, state: 'rolled_back' });
    expect(info.body?.uplink).toMatchObject({ state: 'connected' });
    const audit = await op.waitFor(
      'fieldgate/gw-r/admin/audit',
      (j) => j.change_id === changeId && j.result === 'rolled_back',
    );
    expect(audit.actor).toBe('test-operator');
    const after = await op.request('gw-r', 'config/get');
    expect(after.body?.hash).toBe(before.body?.hash);
    return changeId;
  }

  it('rolls back an upstream URL that points nowhere, reconnects and reports it; the device loses nothing acked', async () => {
    const ackedBefore = dev.acked.length;
    await changeAndExpectRollback({ upstream: { url: 'mqtt://127.0.0.1:1' } }, /uplink not connected/);
    expect(gw.lines.filter((l) => l.msg === 'restarting the gateway in this process').length).toBe(2);
    // The device kept streaming through both restarts.
    await waitFor(() => dev.acked.length > ackedBefore + 20, 'device streaming after the rollback', 20_000);
  }, 60_000);

  it('rolls back a serial port path that does not exist', async () => {
    const missing = join(dir, 'no-such-tty');
    expect(existsSync(missing)).toBe(false);
    await changeAndExpectRollback(
      { serial: [{ name: 'weather', path: missing, format: 'kv', topic: 'sensors/{device}/{field}' }] },
      /not up: serial:weather/,
      true,
    );
    const running = readFileSync(join(dir, 'state', 'remote-config.yaml'), 'utf8');
    expect(running).toContain(pty.device);
  }, 60_000);

  it('lost nothing the devices were acked for, through every restart', async () => {
    await dev.stop();
    await dev2.stop();
    for (const [d, topic] of [
      [dev, 'st/dev1'],
      [dev2, 'st/dev2'],
    ] as const) {
      const acked = new Set(d.acked.map(String));
      await waitFor(
        () => {
          const got = new Set(sub.messages.filter((m) => m.topic === topic).map((m) => m.payload.toString()));
          return [...acked].every((n) => got.has(n));
        },
        `all ${acked.size} acked messages of ${topic} at the subscriber`,
        30_000,
      );
      expect(acked.size).toBeGreaterThan(40);
    }
  }, 60_000);
});
