import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { removeDurably, writeAtomic } from './atomic-file.js';
import { configHash } from './hash.js';
import type { ChangeState, PendingChange } from './records.js';

/**
 * The files of remote management:
 * - remote.config_file (default `remote-config.yaml` in the state dir): the running config once one
 *   was set remotely, and beside it `<file>.prev`, the one before it, restored by a rollback;
 * - in the state dir: `remote-pending.json`, a change awaiting confirmation; `remote-last-change.json`,
 *   the latest change's state; `remote-seed.json`, the hash of the `-c` file when a remote config
 *   was first written (a local edit of that file since wins over the remote config).
 * Every write is atomic (atomic-file.ts). All of them sit directly in the state dir by default,
 * the one directory the systemd unit lets the service write.
 */
export class ConfigStore {
  readonly dir: string;
  readonly prev: string;
  private readonly pendingFile: string;
  private readonly lastFile: string;
  private readonly seedFile: string;

  constructor(
    readonly file: string,
    readonly stateDir: string,
  ) {
    this.dir = dirname(file);
    this.prev = `${file}.prev`;
    this.pendingFile = join(stateDir, 'remote-pending.json');
    this.lastFile = join(stateDir, 'remote-last-change.json');
    this.seedFile = join(stateDir, 'remote-seed.json');
  }

  /** The remote config's text, or undefined when none was written. */
  text(): string | undefined {
    return readOptional(this.file);
  }

  pending(): PendingChange | undefined {
    return readJson<PendingChange>(this.pendingFile);
  }

  last(): ChangeState | undefined {
    return readJson<ChangeState>(this.lastFile);
  }

  seedHash(): string | undefined {
    return readJson<{ hash: string }>(this.seedFile)?.hash;
  }

  /**
   * Write a new config: the running one kept as `.prev`, the pending record, then the file. A cut
   * before the last rename leaves the old file and a pending record whose hash it does not match:
   * the next start sees the change never landed.
   */
  write(next: string, running: string, pending: PendingChange, seedText: string, inPlace: boolean): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    if (!inPlace && this.seedHash() === undefined)
      writeAtomic(this.seedFile, JSON.stringify({ hash: configHash(seedText) }));
    writeAtomic(this.prev, running);
    this.savePending(pending);
    writeAtomic(this.file, next);
  }

  savePending(p: PendingChange): void {
    writeAtomic(this.pendingFile, `${JSON.stringify(p)}\n`);
  }

  /** Put `.prev` back (idempotent: a rollback cut halfway is run again at the next start). */
  restorePrevious(): string {
    const prev = readOptional(this.prev);
    if (prev === undefined) throw new Error(`${this.prev} is missing: nothing to roll back to`);
    writeAtomic(this.file, prev);
    return prev;
  }

  /** The change is settled: its state recorded, then the pending record removed. */
  settle(state: ChangeState): void {
    this.saveLast(state);
    removeDurably(this.pendingFile);
  }

  saveLast(state: ChangeState): void {
    writeAtomic(this.lastFile, `${JSON.stringify(state)}\n`);
  }

  /** The `-c` file was edited locally since: the remote config is set aside (kept for a look). */
  supersede(): void {
    const text = readOptional(this.file);
    if (text !== undefined) writeAtomic(`${this.file}.superseded`, text);
    removeDurably(this.file);
    removeDurably(this.seedFile);
  }

  exists(): boolean {
    return existsSync(this.file);
  }
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A record that does not parse (it cannot be torn: atomic writes) counts as absent. */
function readJson<T>(path: string): T | undefined {
  const text = readOptional(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
