import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { decode, encode, flags, type Packet } from '../../adapters/mqttsn/codec/index.js';
import { freeUdpPort } from '../harness/ports.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { SnClient } from './client.js';
import { type Harness, startGateway } from './setup.js';

/** An administratively scoped group (239/8) joined on loopback only: nothing leaves the machine. */
const GROUP = '239.255.28.4';
const LO = '127.0.0.1';

/**
 * A device as Paho's clients are: a socket on the group's port joined on the loopback interface,
 * multicast sent out of loopback with TTL 1 and IP_MULTICAST_LOOP on (so this host hears it).
 */
class GroupDevice {
  readonly heard: { p: Packet; from: RemoteInfo }[] = [];
  private constructor(private readonly sock: Socket) {
    sock.on('message', (msg, from) => {
      const r = decode(msg);
      if (r.ok) this.heard.push({ p: r.packet, from });
    });
  }

  static async open(port: number): Promise<GroupDevice> {
    const sock = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((res) => sock.bind(port, GROUP, res));
    sock.addMembership(GROUP, LO);
    sock.setMulticastInterface(LO);
    sock.setMulticastTTL(1);
    sock.setMulticastLoopback(true);
    return new GroupDevice(sock);
  }

  send(p: Packet, port: number): Promise<void> {
    return new Promise((res, rej) => this.sock.send(encode(p), port, GROUP, (e) => (e ? rej(e) : res())));
  }

  of(type: Packet['type']) {
    return this.heard.filter((h) => h.p.type === type);
  }

  close(): Promise<void> {
    return new Promise((res) => this.sock.close(() => res()));
  }
}

let h: Harness | undefined;
let dev: GroupDevice | undefined;
afterEach(async () => {
  await dev?.close();
  dev = undefined;
  await h?.close();
  h = undefined;
});
afterAll(cleanupTmpDirs);

describe('mqttsn: multicast discovery on loopback', () => {
  it('SEARCHGW sent to the group gets GWINFO on the group, from the gateway address a device then connects to', async () => {
    const port = await freeUdpPort();
    h = await startGateway({ gateway_id: 7, multicast: { group: GROUP, port, interface: LO } });
    dev = await GroupDevice.open(port);
    await dev.send({ type: 'searchgw', radius: 0 }, port);
    const info = await waitFor(() => dev!.of('gwinfo')[0], 'GWINFO on the group', 3000);
    expect(info.p).toMatchObject({ type: 'gwinfo', gwId: 7 });
    // Sent from the gateway's own socket: the address a Paho client takes as the gateway's.
    expect(info.from).toMatchObject({ address: LO, port: h.port });

    const c = await SnClient.open(info.from.port);
    try {
      expect((await c.connect('found-by-multicast')).returnCode).toBe(0);
    } finally {
      await c.close();
    }
  });

  it('ADVERTISE goes to the group too', async () => {
    const port = await freeUdpPort();
    dev = await GroupDevice.open(port);
    h = await startGateway({
      gateway_id: 9,
      advertise: '200ms',
      advertise_to: `${LO}:${await freeUdpPort()}`,
      multicast: { group: GROUP, port, interface: LO },
    });
    await waitFor(() => dev!.of('advertise').length >= 2, 'two ADVERTISEs on the group', 5000);
    const a = dev.of('advertise')[0]!;
    expect(a.p).toMatchObject({ type: 'advertise', gwId: 9, duration: 1 });
    expect(a.from).toMatchObject({ address: LO, port: h.port });
  });

  it('a burst of SEARCHGW from many devices is answered by one GWINFO per second, none left unanswered', async () => {
    const port = await freeUdpPort();
    h = await startGateway({ multicast: { group: GROUP, port, interface: LO } });
    dev = await GroupDevice.open(port);
    for (let i = 0; i < 20; i++) await dev.send({ type: 'searchgw', radius: 0 }, port);
    await waitFor(() => dev!.of('gwinfo').length >= 1, 'first GWINFO', 3000);
    await sleep(1500); // the coalesced answer for the rest of the burst comes at the end of the second
    const n = dev.of('gwinfo').length;
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(3);
    // A later search is answered again.
    const before = n;
    await dev.send({ type: 'searchgw', radius: 0 }, port);
    await waitFor(() => dev!.of('gwinfo').length > before, 'GWINFO for a later search', 3000);
  });

  it('an interface address this host does not have: start fails and says which group and interface', async () => {
    const port = await freeUdpPort();
    // 192.0.2.1 (TEST-NET-1) is on no interface here: the join fails before anything is sent.
    await expect(startGateway({ multicast: { group: GROUP, port, interface: '192.0.2.1' } })).rejects.toThrow(
      new RegExp(
        `mqttsn\\.multicast: cannot join ${GROUP.replaceAll('.', '\\.')}:${port} on interface 192\\.0\\.2\\.1`,
      ),
    );
  });

  it('only SEARCHGW is acted on from the group: a PUBLISH or CONNECT sent there is ignored', async () => {
    const port = await freeUdpPort();
    h = await startGateway({
      multicast: { group: GROUP, port, interface: LO },
      qos_minus_one: { enabled: true },
      predefined_topics: { 1: 'group/x' },
    });
    dev = await GroupDevice.open(port);
    await dev.send(
      {
        type: 'publish',
        flags: flags({ qos: -1, topicIdType: 1 }),
        topicId: 1,
        msgId: 0,
        data: Buffer.from('x'),
      },
      port,
    );
    await dev.send(
      {
        type: 'connect',
        flags: flags({ cleanSession: true }),
        protocolId: 1,
        duration: 60,
        clientId: 'via-group',
      },
      port,
    );
    await sleep(300);
    expect(h.readings).toHaveLength(0);
    expect(h.gw.stats().clients.active).toBe(0);
    expect(dev.of('connack').concat(dev.of('disconnect'))).toEqual([]);
  });
});
