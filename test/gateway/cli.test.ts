import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways, runCli } from '../harness/gateway-process.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(async () => {
  await killAllGateways();
  cleanupTmpDirs();
});

describe('fieldgate CLI (real child process)', () => {
  it('check prints all three mistakes with key path and line, and exits non-zero', async () => {
    const dir = tmpDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'gateway:',
        '  id: gw1',
        'upstream:',
        '  url: mqtt://127.0.0.1:1883',
        '  keepalive: soon', // line 5: wrong type
        'store:',
        '  overflow: drop-newest', // line 7: not an option
        'rules:',
        '  - match: sensors/+device/temp',
        '    publish: site/{gatway}/{device}', // line 10: unknown placeholder
      ].join('\n'),
    );
    const { code, out } = await runCli(['check', '-c', file]);
    expect(code).toBe(1);
    expect(out).toMatch(/3 problems/);
    expect(out).toMatch(/line 5: upstream\.keepalive: .*number/);
    expect(out).toMatch(/line 7: store\.overflow: .*drop-oldest.*reject-new/);
    expect(out).toMatch(/line 10: rules\.0\.publish: .*gatway/);
  });

  it('check accepts the shipped example config', async () => {
    const { code, out } = await runCli(['check', '-c', 'examples/fieldgate.yaml']);
    expect(out).toMatch(/OK/);
    expect(code).toBe(0);
  });

  it('run starts without a broker, keeps running (buffering), and exits 0 on SIGINT', async () => {
    const dir = tmpDir();
    const file = join(dir, 'gw.yaml');
    const [brokerPort, httpPort, udpPort] = [await freePort(), await freePort(), await freeUdpPort()];
    writeFileSync(
      file,
      [
        'gateway: { id: gw-run, state_dir: state }',
        `upstream: { url: "mqtt://127.0.0.1:${brokerPort}", reconnect: { min: 100ms, max: 300ms } }`,
        `mqttsn: { enabled: true, listen: "127.0.0.1:${udpPort}" }`,
        `http: { listen: "127.0.0.1:${httpPort}" }`,
      ].join('\n'),
    );
    const gw = GatewayProcess.start(['run', '-c', file]);
    try {
      const up = await gw.waitForLog('fieldgate up');
      expect(up.adapters).toEqual(['mqttsn']);
      await gw.waitForLog(/upstream: reconnect in/);
      const health = await fetch(`http://127.0.0.1:${httpPort}/health`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { upstream: string }).upstream).toBe('disconnected');

      // SIGHUP: a broken file is refused with its error, a good one is applied.
      const good = readFileSync(file, 'utf8');
      writeFileSync(file, `${good}\nrules: [{ match: a/b, publish: "x/{nope}" }]\n`);
      gw.signal('SIGHUP');
      const refused = await gw.waitForLog('reload failed; keeping the running config');
      expect(JSON.stringify(refused.err)).toMatch(/nope/);
      writeFileSync(file, `${good}\nrules: [{ match: a/b, publish: x/y }]\n`);
      gw.signal('SIGHUP');
      expect((await gw.waitForLog(/^config reloaded/)).rules).toBe(1);

      gw.signal('SIGINT');
      const { code } = await gw.exited(10_000);
      expect(code).toBe(0);
      expect(gw.lines.map((l) => l.msg)).toContain('stopped');
    } finally {
      await gw.kill();
    }
  });

  it('version and ports answer without a config (ports works without udevadm)', async () => {
    const v = await runCli(['version']);
    expect(v.out).toMatch(/\d+\.\d+\.\d+/);
    const p = await runCli(['ports', '--json']);
    expect(p.code).toBe(0);
    expect(Array.isArray(JSON.parse(p.out.trim()))).toBe(true);
  });
});
