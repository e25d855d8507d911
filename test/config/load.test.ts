import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../gateway/config/load.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(cleanupTmpDirs);

function problems(text: string, env: NodeJS.ProcessEnv = {}) {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

const minimal = 'gateway:\n  id: gw1\nupstream:\n  url: mqtt://127.0.0.1:1883\n';

describe('config loading', () => {
  it('accepts the shipped example config and fills defaults', () => {
    const c = loadConfig('examples/fieldgate.yaml', {});
    expect(c.gateway.id).toBe('example-gw');
    expect(c.store.max_bytes).toBe(256 * 1024 * 1024);
    expect(c.store.max_age).toBe(7 * 86400e3);
    expect(c.store.commit_interval).toBe(750);
    expect(c.upstream.clean_session).toBe(false);
    expect(c.mqttsn.listen).toEqual({ host: '127.0.0.1', port: 1884 });
  });

  it('reports every mistake with its key path and line, including unknown keys', () => {
    const ps = problems(
      [
        'gateway:', //                   1
        '  id: gw1', //                  2
        'upstream:', //                  3
        '  url: http://broker', //       4  wrong scheme
        '  keepalvie: 30', //            5  typo
        'store:', //                     6
        '  max_bytes: lots', //          7  bad size
        'serial:', //                    8
        '  - name: w', //                9
        '    path: /dev/ttyUSB0', //     10
        '    baud: fast', //             11 wrong type
      ].join('\n'),
    );
    expect(ps.map((p) => [p.path, p.line])).toEqual(
      expect.arrayContaining([
        ['upstream.url', 4],
        ['upstream.keepalvie', 5],
        ['store.max_bytes', 7],
        ['serial.0.baud', 11],
      ]),
    );
    expect(ps).toHaveLength(4);
    expect(ps.find((p) => p.path === 'upstream.keepalvie')?.message).toMatch(/unknown key/);
    expect(ps.find((p) => p.path === 'serial.0.baud')?.message).toMatch(/expected number/);
  });

  it('bounds store.commit_interval: a duration, at most 5s', () => {
    const ps = problems(`${minimal}store:\n  commit_interval: 10s\n`);
    expect(ps.map((p) => p.path)).toEqual(['store.commit_interval']);
    expect(ps[0]!.message).toMatch(/at most 5s/);
    expect(
      parseConfig(`${minimal}store:\n  commit_interval: 0\n`, 'test.yaml', {}).store.commit_interval,
    ).toBe(0);
  });

  it('names a missing required section', () => {
    const ps = problems('gateway:\n  id: gw1\n');
    expect(ps).toEqual([{ path: 'upstream', line: 1, message: expect.stringMatching(/required/) }]);
  });

  it('reports YAML syntax errors with their line', () => {
    const ps = problems('gateway:\n  id: gw1\n upstream: [\n');
    expect(ps[0]?.line).toBeGreaterThan(1);
    expect(ps[0]?.message).toMatch(/^YAML/);
  });

  it('takes secrets from the environment or a *_file key, never requiring them in the YAML', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'pw'), 's3cret\n');
    const file = join(dir, 'c.yaml');
    writeFileSync(file, `${minimal}  password_file: pw\n`);
    expect(loadConfig(file, {}).upstream.password).toBe('s3cret');
    expect(loadConfig(file, { FIELDGATE_UPSTREAM_PASSWORD: 'fromenv' }).upstream.password).toBe('fromenv');
    writeFileSync(file, `${minimal}  password_file: missing\n`);
    expect(() => loadConfig(file, {})).toThrow(/line 5: upstream.password_file: cannot read .*ENOENT/);
  });

  it('resolves state_dir and TLS files relative to the config file', () => {
    const dir = tmpDir();
    const file = join(dir, 'c.yaml');
    writeFileSync(file, `${minimal}  tls: { ca: ca.pem }\n`.replace('gw1\n', 'gw1\n  state_dir: st\n'));
    const c = loadConfig(file, {});
    expect(c.gateway.state_dir).toBe(join(dir, 'st'));
    expect(c.upstream.tls?.ca).toBe(join(dir, 'ca.pem'));
  });

  it('resolves http.auth.password_file relative to the config file', () => {
    const dir = tmpDir();
    const file = join(dir, 'c.yaml');
    writeFileSync(file, `${minimal}http: { auth: { password_file: http-passwords } }\n`);
    expect(loadConfig(file, {}).http.auth?.password_file).toBe(join(dir, 'http-passwords'));
  });

  it('refuses a response_topics entry that is no topic filter and an allowed_hosts entry that is no name', () => {
    const ps = problems(
      `${minimal}  response_topics: ["reply/#/x"]\nhttp: { allowed_hosts: ["evil.example/x"] }\n`,
    );
    expect(ps.map((p) => p.path)).toEqual(['upstream.response_topics.0', 'http.allowed_hosts.0']);
    expect(ps[0]!.message).toMatch(/not a topic filter/);
  });

  it('runs semantic checks and maps their paths to lines', () => {
    const text = readFileSync('examples/fieldgate.yaml', 'utf8');
    expect(() =>
      parseConfig(text, 'ex.yaml', {}, [() => [{ path: ['rules', 0, 'publish'], message: 'bad template' }]]),
    ).toThrow(/line \d+: rules\.0\.publish: bad template/);
  });
});
