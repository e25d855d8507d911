import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { bootMs } from '../../gateway/remote/boot-clock.js';
import { configHash } from '../../gateway/remote/hash.js';
import type { PendingChange } from '../../gateway/remote/records.js';
import { MAX_UNCONFIRMED_STARTS, resolveStartConfig } from '../../gateway/remote/start-config.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';

afterAll(cleanupTmpDirs);

const log = pino({ level: 'silent' });
const seed = (id: string) => `gateway: { id: ${id}, state_dir: state }
upstream: { url: mqtt://127.0.0.1:1883 }
http: { enabled: false }
remote: { enabled: true, confirm_within: 1m }
`;

/** A state dir with a remote config awaiting confirmation (as config/set leaves it), on real files. */
function pendingSetup(over: Partial<PendingChange> = {}) {
  const dir = tmpDir('fieldgate-startcfg-');
  const file = join(dir, 'fieldgate.yaml');
  const oldText = seed('gw-old');
  const newText = `${seed('gw-old')}rules: []\n`;
  writeFileSync(file, oldText);
  const state = join(dir, 'state');
  mkdirSync(state);
  writeFileSync(join(state, 'remote-config.yaml'), newText);
  writeFileSync(join(state, 'remote-config.yaml.prev'), oldText);
  writeFileSync(join(state, 'remote-seed.json'), JSON.stringify({ hash: configHash(oldText) }));
  const now = bootMs();
  const p: PendingChange = {
    change_id: 'c1',
    hash: configHash(newText),
    previous_hash: configHash(oldText),
    actor: 'alice',
    at: new Date().toISOString(),
    apply: 'restart',
    confirm_within_ms: 60_000,
    written_boot_ms: now,
    deadline_boot_ms: now + 60_000,
    starts: 0,
    state: 'pending',
    diff: [],
    ...over,
  };
  writeFileSync(join(state, 'remote-pending.json'), JSON.stringify(p));
  return { file, state, oldText, newText };
}

const last = (state: string) => JSON.parse(readFileSync(join(state, 'remote-last-change.json'), 'utf8'));

describe('the config a start runs with', () => {
  it('runs an unconfirmed remote config, counting the start', () => {
    const { file, state, newText } = pendingSetup();
    const s = resolveStartConfig(file, log);
    expect(s.source).toBe('remote');
    expect(s.text).toBe(newText);
    expect(JSON.parse(readFileSync(join(state, 'remote-pending.json'), 'utf8')).starts).toBe(1);
  });

  it(`rolls back a config that started ${MAX_UNCONFIRMED_STARTS} times unconfirmed (a crash loop)`, () => {
    const { file, state, oldText } = pendingSetup({ starts: MAX_UNCONFIRMED_STARTS });
    const s = resolveStartConfig(file, log);
    expect(s.text).toBe(oldText);
    expect(readFileSync(join(state, 'remote-config.yaml'), 'utf8')).toBe(oldText);
    expect(existsSync(join(state, 'remote-pending.json'))).toBe(false);
    expect(last(state)).toMatchObject({ change_id: 'c1', state: 'rolled_back', reported: false });
    expect(last(state).reason).toMatch(/not confirmed after 3 starts/);
  });

  it('rolls back at start when the deadline passed in this boot', () => {
    const now = bootMs();
    const { file, state, oldText } = pendingSetup({
      written_boot_ms: now - 120_000,
      deadline_boot_ms: now - 60_000,
    });
    expect(resolveStartConfig(file, log).text).toBe(oldText);
    expect(last(state).reason).toMatch(/not confirmed within 60 s/);
  });

  it('after a reboot (the boot clock is behind the record) gives the change a full window again', () => {
    const now = bootMs();
    const { file, state, newText } = pendingSetup({
      written_boot_ms: now + 3_600_000,
      deadline_boot_ms: now + 3_660_000,
    });
    expect(resolveStartConfig(file, log).text).toBe(newText);
    const p = JSON.parse(readFileSync(join(state, 'remote-pending.json'), 'utf8')) as PendingChange;
    expect(p.deadline_boot_ms - p.written_boot_ms).toBe(60_000);
    expect(p.written_boot_ms).toBeLessThanOrEqual(bootMs());
  });

  it('finishes a rollback that a cut interrupted', () => {
    const { file, state, oldText } = pendingSetup({ state: 'rolling_back', reason: 'uplink not connected' });
    expect(resolveStartConfig(file, log).text).toBe(oldText);
    expect(last(state)).toMatchObject({ state: 'rolled_back', reason: 'uplink not connected' });
  });

  it('reports a change whose file never landed as failed, and runs the old config', () => {
    const { file, state, oldText } = pendingSetup();
    writeFileSync(join(state, 'remote-config.yaml'), oldText);
    expect(resolveStartConfig(file, log).text).toBe(oldText);
    expect(last(state)).toMatchObject({ state: 'failed' });
  });

  it('lets a local edit of the -c file win over the remote config', () => {
    const { file, state } = pendingSetup({ state: 'rolling_back' });
    const edited = `${seed('gw-edited')}`;
    writeFileSync(file, edited);
    const s = resolveStartConfig(file, log);
    expect(s.source).toBe('seed');
    expect(s.text).toBe(edited);
    expect(existsSync(join(state, 'remote-config.yaml.superseded'))).toBe(true);
  });
});

describe('a remote config written in place (remote.config_file is the -c file)', () => {
  it('rolls the -c file itself back and runs the restored text', () => {
    const dir = tmpDir('fieldgate-inplace-');
    const file = join(dir, 'fieldgate.yaml');
    const oldText = `${seed('gw-in')}remote: { enabled: true, config_file: fieldgate.yaml }\n`.replace(
      'remote: { enabled: true, confirm_within: 1m }\n',
      '',
    );
    const newText = `${oldText}rules: []\n`;
    writeFileSync(file, newText);
    writeFileSync(`${file}.prev`, oldText);
    mkdirSync(join(dir, 'state'));
    const now = bootMs();
    const p: PendingChange = {
      change_id: 'c2',
      hash: configHash(newText),
      previous_hash: configHash(oldText),
      actor: 'alice',
      at: new Date().toISOString(),
      apply: 'restart',
      confirm_within_ms: 1000,
      written_boot_ms: now - 5000,
      deadline_boot_ms: now - 4000,
      starts: 0,
      state: 'pending',
      diff: [],
    };
    writeFileSync(join(dir, 'state', 'remote-pending.json'), JSON.stringify(p));
    const s = resolveStartConfig(file, log);
    expect(s.text).toBe(oldText);
    expect(s.hash).toBe(configHash(oldText));
    expect(readFileSync(file, 'utf8')).toBe(oldText);
    expect(last(join(dir, 'state'))).toMatchObject({ change_id: 'c2', state: 'rolled_back' });
  });
});
