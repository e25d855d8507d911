import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort } from '../harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { Requester } from './requester.js';

/** An ACL as docs/remote-management.md describes: operators manage, a gateway reads only its own requests. */
const ACL = `user operator
topic readwrite fieldgate/#

user intruder
topic read fieldgate/#

user gw-i
topic read fieldgate/gw-i/admin/req/#
topic write fieldgate/gw-i/#
`;

/**
 * Requests that must be ignored, against a real mosquitto with an ACL file and a real gateway:
 * a stale retained request, one published retained, one too old, one that expired while the
 * gateway was away, one too large, one not JSON, one answering outside the gateway's prefix, one on
 * another gateway's prefix, and one from a client the ACL denies. None runs or is answered; the
 * ones the broker delivers are counted by reason.
 */
describe('remote management: requests that must be ignored', () => {
  let broker: Mosquitto;
  let gw: GatewayProcess;
  let op: Requester;
  let intruder: Requester;
  let file: string;
  let httpPort: number;

  const startGateway = async () => {
    gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('upstream: connected');
  };

  beforeAll(async () => {
    broker = await Mosquitto.start({
      users: { operator: 'op-pw', intruder: 'in-pw', 'gw-i': 'gw-pw' },
      acl: ACL,
    });
    httpPort = await freePort();
    const dir = tmpDir('fieldgate-ignored-');
    file = join(dir, 'fieldgate.yaml');
    writeFileSync(
      file,
      `gateway: { id: gw-i, state_dir: state, clock_sync: always }
upstream:
  url: ${broker.url}
  username: gw-i
  password: gw-pw
  reconnect: { min: 100ms, max: 300ms }
http: { listen: 127.0.0.1:${httpPort} }
remote: { enabled: true, max_request_size: 2KiB, max_age: 5m, info_interval: 1h }
`,
    );
    op = await Requester.connect(broker.url, { username: 'operator', password: 'op-pw' });
    intruder = await Requester.connect(broker.url, { username: 'intruder', password: 'in-pw' });
    // A stale request left retained on the broker before the gateway ever connected.
    await op.send('gw-i', 'restart', {}, { retain: true });
    await startGateway();
  }, 30_000);

  afterAll(async () => {
    await op?.close();
    await intruder?.close();
    await killAllGateways();
    await broker?.stop();
    cleanupTmpDirs();
  });

  const refused = async () =>
    ((await op.request('gw-i', 'info')).body?.requests as { refused: Record<string, number> } | undefined)
      ?.refused ?? {};

  it('answers the operator through the ACL, and never replays the stale retained request', async () => {
    expect((await op.request('gw-i', 'ping')).code).toBe('ok');
    await sleep(500);
    expect(gw.lines.some((l) => l.msg === 'restarting the gateway in this process')).toBe(false);
    // MQTT 5 Retain Handling 2: the broker never sent it, so nothing counted it either.
    expect((await refused()).retained ?? 0).toBe(0);
  });

  it('refuses a request published retained (seen by its flag) and counts it', async () => {
    const corr = await op.send('gw-i', 'restart', {}, { retain: true });
    await waitFor(async () => (await refused()).retained === 1, 'retained counted');
    expect(op.hasAnswer(corr)).toBe(false);
    expect(gw.lines.some((l) => l.msg === 'restarting the gateway in this process')).toBe(false);
    // Clear it from the broker (an empty retained message deletes the retained copy).
    await op.publish('fieldgate/gw-i/admin/req/restart', '', { retain: true });
  });

  it('refuses one too old by sent_at, one too large, one not JSON, and one answering outside its prefix', async () => {
    const old = await op.send('gw-i', 'ping', { sent_at: new Date(Date.now() - 3600_000).toISOString() });
    const big = await op.send('gw-i', 'ping', { pad: 'x'.repeat(4096) });
    const notJson = await op.send('gw-i', 'ping', {}, { raw: Buffer.from('ping please') });
    const outside = await op.send('gw-i', 'ping', {}, { replyTo: 'fieldgate/gw-other/admin/reply/x' });
    await waitFor(async () => {
      const r = await refused();
      return r.too_old === 1 && r.too_large === 1 && r.not_json === 1 && r.reply_topic === 1;
    }, 'each refusal counted');
    for (const c of [old, big, notJson, outside]) expect(op.hasAnswer(c)).toBe(false);
    // A fresh sent_at passes.
    const fresh = await op.request('gw-i', 'ping', { sent_at: new Date().toISOString() });
    expect(fresh.code).toBe('ok');
    expect(gw.lines.some((l) => /request dropped unanswered/.test(String(l.msg)))).toBe(true);
    // The same counts on /metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    // retained: the request, and the empty retained message that deleted its copy from the broker.
    expect(metrics).toContain('fieldgate_remote_requests_refused_total{reason="retained"} 2');
    for (const reason of ['too_old', 'too_large', 'not_json', 'reply_topic'])
      expect(metrics).toContain(`fieldgate_remote_requests_refused_total{reason="${reason}"} 1`);
  });

  it("ignores requests on another gateway's prefix and from a client the ACL denies", async () => {
    const before = await op.request('gw-i', 'config/get');
    const other = await op.send('gw-other', 'ping');
    // The broker refuses the intruder's publish (MQTT 5 PUBACK "not authorized"): it never reaches the gateway.
    await expect(intruder.send('gw-i', 'config/set', { patch: { rules: [] } })).rejects.toThrow(
      /Not authorized/,
    );
    await expect(intruder.send('gw-i', 'restart')).rejects.toThrow(/Not authorized/);
    await sleep(1000);
    expect(op.hasAnswer(other)).toBe(false);
    const after = await op.request('gw-i', 'config/get');
    expect(after.body?.hash).toBe(before.body?.hash);
    expect(gw.lines.some((l) => l.msg === 'restarting the gateway in this process')).toBe(false);
  });

  it('never runs a request that expired (MQTT 5 Message Expiry) while the gateway was away', async () => {
    await gw.kill();
    const expired = await op.send('gw-i', 'ping', {}, { expiry: 1 });
    const kept = await op.send('gw-i', 'ping', {}, { expiry: 120 });
    await sleep(2500);
    await startGateway();
    // The broker kept the gateway's session: the request that had not expired is answered.
    expect((await op.answer(kept)).code).toBe('ok');
    await sleep(500);
    expect(op.hasAnswer(expired)).toBe(false);
  }, 30_000);
});
