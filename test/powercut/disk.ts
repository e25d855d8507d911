import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { buildShim } from './build.js';

/** Per file name: fsyncs and writes the shim saw, and when the last fsync ended (epoch ms; 0: none). */
export type DiskStats = Record<string, { syncs: number; writes: number; lastSyncAt: number }>;

/**
 * A directory whose writes are lost on a simulated power cut unless fsynced: the C shim (shim.c)
 * runs inside the process given env(); cut() then turns the directory into what a disk would hold
 * after the power came back. Call prepare() before each start of a process on it.
 */
export class PowerCutDisk {
  readonly shadow: string;

  constructor(
    /** The directory under test (the gateway's state_dir); created if missing. */
    readonly dir: string,
    /** Where the shim keeps the synced images (outside `dir`). */
    shadowRoot: string,
  ) {
    this.shadow = join(shadowRoot, 'shadow');
    mkdirSync(dir, { recursive: true });
  }

  /**
   * What is in the directory now counts as durable (it is, after a restart: the harness just wrote
   * it, or the previous run stopped cleanly). Resets the shadow to it.
   */
  prepare(): void {
    rmSync(this.shadow, { recursive: true, force: true });
    mkdirSync(join(this.shadow, 'data'), { recursive: true });
    const lines: string[] = [];
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      const st = statSync(path);
      if (!st.isFile()) continue;
      copyFileSync(path, join(this.shadow, 'data', String(st.ino)));
      lines.push(`${st.ino}\t${name}`);
    }
    writeFileSync(join(this.shadow, 'manifest'), lines.map((l) => `${l}\n`).join(''));
  }

  /** Environment for a child process whose writes to `dir` are simulated. */
  env(): NodeJS.ProcessEnv {
    return {
      LD_PRELOAD: buildShim(),
      POWERCUT_DIR: this.dir,
      POWERCUT_SHADOW: this.shadow,
      // libuv may route fs calls through io_uring, past libc and the shim.
      UV_USE_IO_URING: '0',
    };
  }

  /**
   * The power came back (call only once the process is dead): the directory holds exactly the
   * entries of its last fsync, each with its content as of its own last fsync (empty if never).
   * With `torn`, each 512-byte sector that was written but not synced survives or not at random
   * (torn() decides per sector), as when a disk wrote back part of its cache in any order; a file
   * that grew keeps the size its last surviving sector needs (zeros where a sector did not survive).
   * Returns the names that survived.
   */
  cut(torn?: () => boolean): string[] {
    const manifest = readFileSync(join(this.shadow, 'manifest'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t') as [string, string]);
    const images = new Map<string, Buffer>();
    for (const [ino, name] of manifest) {
      const image = join(this.shadow, 'data', ino);
      let data: Buffer = existsSync(image) ? readFileSync(image) : Buffer.alloc(0);
      const live = join(this.dir, name);
      // The page cache still holds what was written: the sectors that differ were never synced.
      if (torn && existsSync(live) && String(statSync(live).ino) === ino)
        data = tear(data, readFileSync(live), torn);
      images.set(name, data);
    }
    for (const name of readdirSync(this.dir)) rmSync(join(this.dir, name), { recursive: true, force: true });
    for (const [name, data] of images) writeFileSync(join(this.dir, name), data);
    return [...images.keys()];
  }

  /** SIGKILL the process at its next fsync (`event` sync) or write of file `name` ('.' is the directory). */
  killOn(event: 'sync' | 'write', name: string): void {
    writeFileSync(join(this.shadow, `kill-on-${event}-${name}`), '');
  }

  disarm(): void {
    for (const f of readdirSync(this.shadow)) if (f.startsWith('kill-on-')) rmSync(join(this.shadow, f));
  }

  stats(): DiskStats {
    const file = join(this.shadow, 'stats');
    const out: DiskStats = {};
    if (!existsSync(file)) return out;
    for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
      const [name, ...kv] = line.split('\t');
      const f = Object.fromEntries(kv.map((x) => x.split('=') as [string, string]));
      out[name!] = {
        syncs: Number(f.syncs ?? 0),
        writes: Number(f.writes ?? 0),
        lastSyncAt: Number(f.last ?? 0),
      };
    }
    return out;
  }
}

const SECTOR = 512;

/** The synced image with a random part of the unsynced sectors of `live` on top. */
function tear(synced: Buffer, live: Buffer, keep: () => boolean): Buffer {
  let size = synced.length;
  const out = Buffer.alloc(Math.max(synced.length, live.length));
  synced.copy(out);
  for (let off = 0; off < live.length; off += SECTOR) {
    const end = Math.min(off + SECTOR, live.length);
    if (live.subarray(off, end).equals(synced.subarray(off, end)) || !keep()) continue;
    live.copy(out, off, off, end);
    size = Math.max(size, end);
  }
  return out.subarray(0, size);
}
