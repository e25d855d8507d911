import { Socket } from 'node:dgram';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { encode, flags } from '../../adapters/mqttsn/codec/index.js';
import { unusableSource } from '../../adapters/mqttsn/peer.js';
import { UdpSocket } from '../../adapters/mqttsn/socket.js';
import type { QoS } from '../../adapters/types.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { sendRawUdp } from './raw-udp.js';
import { type Harness, startGateway } from './setup.js';

let h: Harness | undefined;
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);
process.on('uncaughtException', onUncaught);
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(() => {
  process.off('uncaughtException', onUncaught);
  return cleanupTmpDirs();
});

const connect = (clientId: string, cleanSession: boolean) =>
  encode({
    type: 'connect',
    flags: flags({ cleanSession }),
    protocolId: 1,
    duration: 60,
    clientId,
  });

describe('mqttsn security: a datagram cannot crash the gateway', () => {
  it('a CONNECT for a device from source port 0 while its command is being retried is refused; the retry still reaches the device', async () => {
    h = await startGateway({ retry_interval: '300ms', retry_count: 3 });
    const dev = await h.client();
    expect((await dev.connect('victim', { cleanSession: false })).returnCode).toBe(0);
    const sent = h.gw.send({
      id: 'c1',
      target: 'mqttsn',
      device: 'victim',
      topic: 'ab', // a short topic name: no REGISTER first
      payload: Buffer.from('open'),
      qos: 1 as QoS,
    });
    const first = await dev.expect('publish');
    // A real datagram from UDP source port 0 with the victim's client id (it used to take the session
    // over, and the retry timer's dgram.send threw ERR_SOCKET_BAD_PORT out of the process).
    await sendRawUdp(h.port, 0, connect('victim', false));
    await waitFor(() => h!.gw.stats().drops.bad_source === 1, 'port-0 datagram refused');
    const again = await dev.expect('publish', 3000, (p) => p.flags.dup);
    expect(again.msgId).toBe(first.msgId);
    await dev.send({ type: 'puback', topicId: again.topicId, msgId: again.msgId, returnCode: 0 });
    expect(await sent).toBe('delivered');
    // the same from a usable raw source port is an ordinary CONNECT (proves the raw path itself works)
    await sendRawUdp(h.port, 40000 + (process.pid % 20000), connect('other', true));
    await waitFor(() => h!.gw.stats().clients.active === 2, 'raw CONNECT from a real port accepted');
    expect(h.gw.stats().drops.handler_error ?? 0).toBe(0);
    expect(uncaught).toEqual([]);
  });

  it('a send that throws synchronously inside a timer is reported, not thrown', async () => {
    const errors: unknown[] = [];
    const sock = new UdpSocket(
      () => undefined,
      (e) => errors.push(e),
    );
    await sock.bind('127.0.0.1', 0);
    try {
      // bounded: a throw escaping the timer would never resolve the first promise
      const ok = await Promise.race([
        new Promise<boolean>((resolve) =>
          setTimeout(() => resolve(sock.send(Buffer.from([2, 0x17]), 0, '127.0.0.1')), 1),
        ),
        sleep(1000).then(() => 'escaped'),
      ]);
      expect(ok).toBe(false);
      expect(errors).toHaveLength(1);
      expect((errors[0] as NodeJS.ErrnoException).code).toBe('ERR_SOCKET_BAD_PORT');
    } finally {
      await sock.close();
    }
    // and after close: no socket, no throw
    expect(sock.send(Buffer.from([2, 0x17]), 1884, '127.0.0.1')).toBe(true);
    expect(uncaught).toEqual([]);
  });

  it('a send that throws from a retry timer ends only that device session; the command waits in the inbox', async () => {
    h = await startGateway({ retry_interval: '200ms', retry_count: 3 });
    const dev = await h.client();
    expect((await dev.connect('flaky', { cleanSession: false })).returnCode).toBe(0);
    const bystander = await h.client();
    expect((await bystander.connect('calm')).returnCode).toBe(0);
    const sent = h.gw.send({
      id: 'c2',
      target: 'mqttsn',
      device: 'flaky',
      topic: 'ab',
      payload: Buffer.from('x'),
      qos: 1 as QoS,
    });
    await dev.expect('publish');
    // From now on dgram.send throws synchronously for this device, as it did for port 0.
    const real = Socket.prototype.send;
    const port = dev.port;
    Socket.prototype.send = function (this: Socket, ...args: unknown[]) {
      if (args[1] === port) throw Object.assign(new Error('bad port'), { code: 'ERR_SOCKET_BAD_PORT' });
      return (real as (...a: unknown[]) => void).apply(this, args);
    } as typeof real;
    try {
      expect(await sent).toBe('queued');
      await waitFor(() => h!.gw.stats().clients.offline === 1, 'flaky session ended');
    } finally {
      Socket.prototype.send = real;
    }
    expect(h.gw.stats().drops.send_error).toBeGreaterThanOrEqual(1);
    expect(h.store.inbox.pending('mqttsn', 'flaky')).toHaveLength(1);
    expect(h.gw.stats().clients.active).toBe(1); // the bystander is untouched
    await bystander.send({ type: 'pingreq' });
    await bystander.expect('pingresp');
    expect(uncaught).toEqual([]);
  });

  it('unusable sources: port 0, unspecified, this-network, broadcast and multicast addresses', () => {
    const bad = [
      ['127.0.0.1', 0],
      ['0.0.0.0', 1884],
      ['0.1.2.3', 1884],
      ['::', 1884],
      ['255.255.255.255', 1884],
      ['224.0.0.1', 1884],
      ['::ffff:239.1.1.1', 1884],
      ['ff02::1', 1884],
    ] as const;
    for (const [a, p] of bad) expect(unusableSource(a, p), `${a}:${p}`).toBeDefined();
    for (const [a, p] of [
      ['10.0.0.7', 1],
      ['fd00::7', 65535],
      ['::ffff:10.0.0.7', 50000],
    ] as const)
      expect(unusableSource(a, p), `${a}:${p}`).toBeUndefined();
  });
});
