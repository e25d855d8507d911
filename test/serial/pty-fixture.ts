import { afterAll, afterEach } from 'vitest';
import { PtyPair } from '../harness/socat.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { Sensor, startAdapter } from './helpers.js';

/**
 * A real pty pair with the real serial adapter on one end and a scripted sensor on the other, closed
 * after each test (newest first). Call at a test file's top level: it registers the hooks.
 */
export function ptyAdapterFixture() {
  const open: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(x: T): T => {
    open.push(x);
    return x;
  };
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await x.close();
  });
  afterAll(cleanupTmpDirs);
  return async function setup(config: Record<string, unknown>) {
    const pty = track(await PtyPair.open());
    const a = await startAdapter(pty, config);
    track({ close: () => a.adapter.stop() });
    const sensor = track(await Sensor.open(pty.sensor));
    return { ...a, pty, sensor };
  };
}
