import { afterEach, describe, expect, it } from 'vitest';
import { ReturnCode } from '../../adapters/mqttsn/codec/index.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep } from '../harness/wait.js';
import { type Harness, startGateway } from './setup.js';

/**
 * CONNECTs with fresh ids at a full table (max_clients) take the place of a device silent for
 * evict_idle_after: never a configured device's, and never a sleeper's inside its own sleep.
 */
describe('mqttsn: unknown ids cannot push out configured devices or sleepers', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    cleanupTmpDirs();
  });

  const command = (device: string) => ({
    id: `c-${device}`,
    target: 'mqttsn',
    device,
    topic: 'cmd/unlock',
    payload: Buffer.from('PIN 4711'),
    qos: 1 as const,
  });

  it('a pinned sleeper keeps its session and its queued command while new ids flood a full table', async () => {
    h = await startGateway({
      max_clients: 2,
      evict_idle_after: '200ms',
      clients: { 'door-3': { address: '127.0.0.1' } },
    });
    const door = await h.client();
    expect((await door.connect('door-3', { cleanSession: false })).returnCode).toBe(0);
    await door.send({ type: 'disconnect', duration: 60 });
    await door.expect('disconnect');
    expect(await h.gw.send(command('door-3'))).toBe('queued');
    const idle = await h.client();
    expect((await idle.connect('idle', { duration: 600 })).returnCode).toBe(0);
    await sleep(400); // both silent longer than evict_idle_after

    const fresh = await h.client();
    expect((await fresh.connect('x1')).returnCode).toBe(ReturnCode.ACCEPTED); // 'idle' gave way
    for (let i = 2; i < 20; i++) {
      const c = await h.client();
      expect((await c.connect(`x${i}`)).returnCode).toBe(ReturnCode.CONGESTION);
    }
    expect(h.gw.stats().drops.session_evicted).toBe(1);

    // It wakes: its command is still there, then PINGRESP.
    await door.send({ type: 'pingreq', clientId: 'door-3' });
    const reg = await door.expect('register', 3000);
    await door.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
    const p = await door.expect('publish', 3000);
    expect(p.data.toString()).toBe('PIN 4711');
    await door.send({ type: 'puback', topicId: p.topicId, msgId: p.msgId, returnCode: 0 });
    await door.expect('pingresp', 3000);
  });

  it('an unconfigured sleeper is not idle inside its sleep duration; past it, it gives way', async () => {
    h = await startGateway({ max_clients: 1, evict_idle_after: '200ms' });
    const s = await h.client();
    expect((await s.connect('sleeper', { cleanSession: false })).returnCode).toBe(0);
    await s.send({ type: 'disconnect', duration: 2 });
    await s.expect('disconnect');
    await sleep(400);
    const c = await h.client();
    expect((await c.connect('newcomer')).returnCode).toBe(ReturnCode.CONGESTION);
    await sleep(1800); // now silent longer than its 2 s sleep (not yet lost: that is 3 s)
    expect((await c.connect('newcomer')).returnCode).toBe(ReturnCode.ACCEPTED);
    // Evicted live (DISCONNECT), then its kept session gave way too: counted once each.
    expect(h.gw.stats().drops.session_evicted).toBe(2);
    expect(h.gw.stats().clients).toMatchObject({ active: 1, asleep: 0, offline: 0 });
  });
});
