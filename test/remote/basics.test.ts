import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways, runCli } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { Requester } from './requester.js';

/**
 * Remote management against a real gateway process and a real mosquitto: ping, info, config/get
 * (secrets redacted), a rules change applied hot (info shows the new hash), an invalid config
 * refused with `fieldgate check`'s text and nothing changed.
 */
describe('remote management: reading and hot changes', () => {
  let broker: Mosquitto;
  let gw: GatewayProcess;
  let op: Requester;
  let dir: string;
  let file: string;
  const yaml = (rulesTopic: string) => `# the seed config
gateway: { id: gw-a, state_dir: state }
upstream:
  url: mqtt://fg:s3cret@127.0.0.1:PORT
  password: hunter2
  reconnect: { min: 100ms, max: 400ms }
rules:
  - match: sensors/+device/temp
    publish: ${rulesTopic}
http: { enabled: false }
remote: { enabled: true, info_interval: 1h }
`;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    dir = tmpDir('fieldgate-remote-');
    file = join(dir, 'fieldgate.yaml');
    writeFileSync(file, yaml('site/{device}/t').replace('PORT', String(broker.port)));
    gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up');
    op = await Requester.connect(broker.url);
  });

  afterAll(async () => {
    await op?.close();
    await killAllGateways();
    await broker?.stop();
    cleanupTmpDirs();
  });

  it('answers ping with its uptime, echoing the correlation data', async () => {
    const a = await op.request('gw-a', 'ping');
    expect(a.code).toBe('ok');
    expect(typeof a.body?.uptime_s).toBe('number');
  });

  it('keeps a retained info and answers info', async () => {
    const retained = await op.waitFor('fieldgate/gw-a/admin/info', (j) => j.id === 'gw-a');
    expect(retained.uplink).toMatchObject({ state: 'connected' });
    const a = await op.request('gw-a', 'info');
    expect(a.body).toMatchObject({ id: 'gw-a', config: { source: 'seed' }, uplink: { state: 'connected' } });
    expect(a.body?.node).toBe(process.version);
    expect(a.body?.boot_count).toBeGreaterThanOrEqual(1);
    expect(a.body?.disk_free_bytes).toBeGreaterThan(0);
    expect(a.body).toMatchObject({
      outbox: { rows: expect.any(Number), bytes: expect.any(Number), oldest_age_s: expect.any(Number) },
      set_aside: 0,
      devices: { total: expect.any(Number), online: expect.any(Number) },
      clock: { synchronized: expect.any(String) },
      last_change: null,
    });
    expect(String(JSON.stringify(a.body))).not.toContain('s3cret');
  });

  it('config/get returns the running YAML with every secret redacted, comments kept', async () => {
    const a = await op.request('gw-a', 'config/get');
    const text = String(a.body?.yaml);
    expect(text).toContain('# the seed config');
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('password: <redacted>');
    expect(text).toContain('mqtt://<redacted>@127.0.0.1');
    expect(a.body?.hash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('applies a rules change hot: no restart, secrets kept, info shows the new hash', async () => {
    const got = await op.request('gw-a', 'config/get');
    const before = String(got.body?.hash);
    const edited = String(got.body?.yaml).replace('site/{device}/t', 'site/{device}/temperature');
    const a = await op.request('gw-a', 'config/set', { yaml: edited, if_match: before });
    expect(a.code, a.message).toBe('ok');
    expect(a.body).toMatchObject({ apply: 'hot', previous_hash: before });
    const hash = String(a.body?.hash);
    expect(hash).not.toBe(before);
    await op.waitFor('fieldgate/gw-a/admin/change', (j) => j.hash === hash && j.state === 'confirmed');
    const info = await op.request('gw-a', 'info');
    expect(info.body?.config).toMatchObject({ hash, source: 'remote' });
    expect(gw.lines.some((l) => l.msg === 'restarting the gateway in this process')).toBe(false);
    // The secrets sent back as <redacted> are the running ones again, not the placeholder.
    const again = await op.request('gw-a', 'config/get');
    expect(again.body?.hash).toBe(hash);
    const written = readFileSync(join(dir, 'state', 'remote-config.yaml'), 'utf8');
    expect(written).toContain('password: hunter2');
    expect(written).toContain('mqtt://fg:s3cret@127.0.0.1');
    expect(written).toContain('# the seed config');
    expect(readFileSync(join(dir, 'state', 'remote-config.yaml.prev'), 'utf8')).toBe(
      readFileSync(file, 'utf8'),
    );
    const audit = await op.waitFor('fieldgate/gw-a/admin/audit', (j) => j.result === 'applying');
    expect(audit.actor).toBe('test-operator');
    expect(JSON.stringify(audit.diff)).toContain('site/{device}/temperature');
  });

  it('dry_run validates and shows the diff without writing anything', async () => {
    const before = await op.request('gw-a', 'config/get');
    const a = await op.request('gw-a', 'config/set', {
      patch: { store: { max_rows: 5000 } },
      dry_run: true,
    });
    expect(a.code).toBe('ok');
    expect(a.body).toMatchObject({ apply: 'restart', diff: [{ path: 'store', to: { max_rows: 5000 } }] });
    expect((await op.request('gw-a', 'config/get')).body?.hash).toBe(before.body?.hash);
  });

  it('refuses a stale if_match with conflict', async () => {
    const a = await op.request('gw-a', 'config/set', { patch: { rules: [] }, if_match: '0000000000000000' });
    expect(a.code).toBe('conflict');
  });

  it('refuses an invalid config with the text fieldgate check prints, and changes nothing', async () => {
    const before = await op.request('gw-a', 'config/get');
    const bad = String(before.body?.yaml).replace('reconnect:', 'reconect:');
    const a = await op.request('gw-a', 'config/set', { yaml: bad });
    expect(a.code).toBe('invalid');
    // The same text `fieldgate check` prints for this file.
    const badFile = join(dir, 'fieldgate.yaml');
    const seedText = readFileSync(badFile, 'utf8');
    writeFileSync(join(dir, 'check.yaml'), bad);
    const checked = await runCli(['check', '-c', join(dir, 'check.yaml')]);
    expect(checked.code).toBe(1);
    expect(checked.out).toContain(a.message.replace(badFile, join(dir, 'check.yaml')));
    expect(a.message).toContain('upstream.reconect: unknown key "reconect" (typo?)');
    const after = await op.request('gw-a', 'config/get');
    expect(after.body?.hash).toBe(before.body?.hash);
    expect(seedText).toContain('reconnect:');
  });

  it('answers an unknown request with unknown_request', async () => {
    const a = await op.request('gw-a', 'frobnicate');
    expect(a.code).toBe('unknown_request');
  });
});
