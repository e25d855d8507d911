import { createReadStream, existsSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from './mosquitto.js';
import { PtyPair } from './socat.js';
import { publishTo, Subscriber } from './subscriber.js';
import { cleanupTmpDirs } from './tmp.js';

afterAll(cleanupTmpDirs);

describe('test harness', () => {
  it('starts a real mosquitto that routes messages, and restarts it on the same port', async () => {
    const broker = await Mosquitto.start();
    const sub = await Subscriber.connect(broker.url, 'h/#');
    await publishTo(broker.url, 'h/1', 'hello', { qos: 1 });
    const [m] = await sub.waitForCount(1);
    expect(m?.payload.toString()).toBe('hello');
    await sub.close();
    const port = broker.port;
    await broker.restart();
    expect(broker.port).toBe(port);
    await publishTo(broker.url, 'h/2', 'again', { qos: 0 });
    await broker.stop();
  });

  it('makes a socat pty pair whose ends talk to each other, and unplugs it', async () => {
    const pty = await PtyPair.open();
    const reader = createReadStream(pty.device);
    reader.on('error', () => {}); // a pending read on a pty whose peer vanished fails with EIO
    const first = new Promise<string>((resolve) => reader.once('data', (b) => resolve(b.toString())));
    writeFileSync(pty.sensor, 'ping\n');
    expect(await first).toBe('ping\n');
    reader.destroy();
    await pty.unplug();
    expect(existsSync(pty.device)).toBe(false);
  });
});

describe('tracked children', () => {
  it('kills a tracked child that is still running, and only counts live ones', async () => {
    const { spawn } = await import('node:child_process');
    const { killTrackedChildren, trackChild } = await import('./children.js');
    const done = trackChild(spawn('true'));
    await new Promise((r) => done.once('exit', r));
    const sleeper = trackChild(spawn('sleep', ['30']));
    const exited = new Promise<NodeJS.Signals | null>((r) => sleeper.once('exit', (_c, sig) => r(sig)));
    expect(killTrackedChildren()).toBe(1);
    expect(await exited).toBe('SIGKILL');
    expect(killTrackedChildren()).toBe(0);
  });
});
