import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { open } from './helpers.js';

afterEach(cleanupTmpDirs);

const CHILD = fileURLToPath(new URL('./fixtures/enqueue-until-killed.ts', import.meta.url));

describe('durability', () => {
  it('keeps every message whose enqueue resolved when the process is SIGKILLed', async () => {
    const dir = tmpDir();
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let committed = 0;
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buf += chunk.toString();
        for (const m of buf.matchAll(/committed (\d+)\n/g)) committed = Number(m[1]);
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
        if (committed >= 3000) {
          child.kill('SIGKILL'); // mid-stream: more enqueues are in flight
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    await exited;

    const { store } = open(dir);
    const rows = store.outbox.nextQueued(0, committed + 10_000);
    expect(rows.length).toBeGreaterThanOrEqual(committed);
    expect(store.outbox.stats().rows).toBe(rows.length);
    // In order and without gaps: the first `committed` are exactly messages 0..committed-1.
    expect(rows.slice(0, committed).every((r, i) => r.payload.toString() === String(i))).toBe(true);
    store.close();
  });
});
