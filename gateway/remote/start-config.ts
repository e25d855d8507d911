import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { configChecks } from '../config/checks.js';
import { ConfigError, parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { bootMs } from './boot-clock.js';
import { ConfigStore } from './config-store.js';
import { configHash } from './hash.js';
import type { PendingChange } from './records.js';

/** Starts of an unconfirmed config before it is rolled back without waiting (a crash loop). */
export const MAX_UNCONFIRMED_STARTS = 3;

/** The config a (re)start runs with, and where it came from. */
export interface StartConfig {
  config: Config;
  text: string;
  hash: string;
  /** `seed`: the `-c` file; `remote`: the file remote management wrote. */
  source: 'seed' | 'remote';
  /** The `-c` file: paths in either config are relative to its directory, and problems name it. */
  seedFile: string;
  seedText: string;
  /** Remote management's files (undefined when remote management is off in the `-c` file). */
  store?: ConfigStore;
}

/** Where a remote config is written: remote.config_file (relative to the `-c` file), else the state dir. */
export function remoteConfigFile(seed: Config, seedFile: string): string {
  const f = seed.remote.config_file;
  return f ? resolve(dirname(resolve(seedFile)), f) : resolve(seed.gateway.state_dir, 'remote-config.yaml');
}

/** Parse a config as `fieldgate check` would the `-c` file with this text (same checks, same messages). */
export function parseAsSeed(text: string, seedFile: string): Config {
  return parseConfig(text, seedFile, process.env, configChecks);
}

/**
 * Decide the config to run: the `-c` file, or the one remote management wrote (unless the `-c` file
 * was edited since). A change still awaiting confirmation is settled first: one whose file never
 * landed (power cut while writing) failed; a rollback cut halfway is finished; one that has started
 * MAX_UNCONFIRMED_STARTS times, or whose deadline passed in this boot, is rolled back now.
 * Throws ConfigError when the `-c` file itself is invalid.
 */
export function resolveStartConfig(seedFile: string, logger: Logger): StartConfig {
  const seedText = readSeed(seedFile);
  const seed = parseAsSeed(seedText, seedFile);
  const seedOnly: StartConfig = {
    config: seed,
    text: seedText,
    hash: configHash(seedText),
    source: 'seed',
    seedFile,
    seedText,
  };
  if (!seed.remote.enabled) return seedOnly;
  const file = remoteConfigFile(seed, seedFile);
  const store = new ConfigStore(file, seed.gateway.state_dir);
  const inPlace = resolve(file) === resolve(seedFile);
  const log = logger.child({ part: 'remote' });
  settlePending(store, seedText, log);
  // Written in place: a rollback just now may have put the previous text into the -c file itself.
  if (inPlace) {
    const now = readSeed(seedFile);
    return now === seedText
      ? { ...seedOnly, store }
      : {
          ...seedOnly,
          config: parseAsSeed(now, seedFile),
          text: now,
          hash: configHash(now),
          seedText: now,
          store,
        };
  }
  const text = store.text();
  if (text === undefined) return { ...seedOnly, store };
  const seedHash = store.seedHash();
  if (seedHash !== undefined && seedHash !== configHash(seedText)) {
    log.warn(
      { file: seedFile, remoteFile: file },
      'the -c file was edited since a config was set remotely: it wins; the remote config is set aside as .superseded',
    );
    store.supersede();
    return { ...seedOnly, store };
  }
  try {
    const config = parseAsSeed(text, seedFile);
    log.info({ file, hash: configHash(text) }, 'running the config set remotely (not the -c file)');
    return { config, text, hash: configHash(text), source: 'remote', seedFile, seedText, store };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.error(
      { file, problems: err.problems },
      'the config set remotely does not load now: running the -c file',
    );
    return { ...seedOnly, store };
  }
}

function readSeed(seedFile: string): string {
  try {
    return readFileSync(seedFile, 'utf8');
  } catch (err) {
    throw new ConfigError(seedFile, [
      { path: '', line: null, message: `cannot read: ${(err as Error).message}` },
    ]);
  }
}

function settlePending(store: ConfigStore, seedText: string, log: Logger): void {
  const p = store.pending();
  if (!p) return;
  const current = configHash(store.text() ?? seedText);
  if (p.state === 'rolling_back') {
    store.restorePrevious();
    finish(store, p, 'rolled_back', p.reason ?? 'rolled back', log);
    return;
  }
  if (current !== p.hash) {
    // The pending record was written, the config was not (a cut in between): nothing changed.
    finish(store, p, 'failed', 'the new config was not written (the gateway stopped while writing it)', log);
    return;
  }
  const now = bootMs();
  const sameBoot = now >= p.written_boot_ms;
  const starts = p.starts + 1;
  const why =
    starts > MAX_UNCONFIRMED_STARTS
      ? `not confirmed after ${p.starts} starts (the gateway does not stay up with it)`
      : sameBoot && now >= p.deadline_boot_ms
        ? `not confirmed within ${Math.round(p.confirm_within_ms / 1000)} s`
        : undefined;
  if (why) {
    rollBack(store, p, why, log);
    return;
  }
  // A reboot: the time before it is unknown (no RTC), so the change gets a full window again.
  const next: PendingChange = sameBoot
    ? { ...p, starts }
    : { ...p, starts, written_boot_ms: now, deadline_boot_ms: now + p.confirm_within_ms };
  store.savePending(next);
}

/** Roll back a pending change now: mark it, restore `.prev`, settle (each step atomic and repeatable). */
export function rollBack(store: ConfigStore, p: PendingChange, reason: string, log: Logger): void {
  log.error(
    { changeId: p.change_id, hash: p.hash, restoring: p.previous_hash, reason },
    'config change rolled back',
  );
  store.savePending({ ...p, state: 'rolling_back', reason });
  store.restorePrevious();
  finish(store, p, 'rolled_back', reason, log);
}

function finish(
  store: ConfigStore,
  p: PendingChange,
  state: 'rolled_back' | 'failed' | 'confirmed',
  reason: string,
  log: Logger,
): void {
  store.settle({
    change_id: p.change_id,
    state,
    reason,
    hash: p.hash,
    previous_hash: p.previous_hash,
    at: new Date().toISOString(),
    actor: p.actor,
    diff: p.diff,
    reported: false,
  });
  if (state === 'failed') log.warn({ changeId: p.change_id, state, reason }, 'config change failed');
}

/** The change is confirmed: recorded, pending record removed. */
export function confirmChange(store: ConfigStore, p: PendingChange, log: Logger): void {
  finish(store, p, 'confirmed', 'uplink connected and adapters up', log);
  log.info({ changeId: p.change_id, hash: p.hash }, 'config change confirmed');
}
