import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { encode, flags } from '../../adapters/mqttsn/codec/index.js';
import { AddressPins } from '../../adapters/mqttsn/pinning.js';
import { throttledLog } from '../../contracts/throttled-log.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { type Harness, startGateway } from './setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(cleanupTmpDirs);

/** A pino logger whose JSON lines land in `lines`. */
function capture() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    }),
  );
  return { lines, logger };
}
const WARN = 40;

/** 127.0.0.2 on the loopback plays another machine on the LAN. */
const ELSEWHERE = '127.0.0.2';

describe('mqttsn security: sessions cannot be taken over', () => {
  it('a pinned client id is refused from another address (CONNACK rc 3); the real device keeps its session', async () => {
    const { lines, logger } = capture();
    h = await startGateway({ clients: { meter: { address: '127.0.0.1' } } }, { logger });
    const dev = await h.client();
    expect((await dev.connect('meter')).returnCode).toBe(0);
    await dev.send({ type: 'subscribe', flags: flags({ qos: 0 }), msgId: 1, topic: 'cmd/meter/#' });
    await dev.expect('suback');
    const thief = await h.client(undefined, ELSEWHERE);
    for (let i = 0; i < 20; i++) expect((await thief.connect('meter')).returnCode).toBe(3);
    expect(h.gw.stats().drops.address_pinned).toBe(20);
    // one warning line for the burst, not twenty (rate-limited)
    expect(lines.filter((l) => l.msg === 'mqttsn refused: address_pinned')).toHaveLength(1);
    // the session stayed with the device
    await h.gw.deliver({ topic: 'cmd/meter/x', payload: Buffer.from('still mine'), qos: 0, retain: false });
    const reg = await dev.expect('register');
    await dev.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
    expect((await dev.expect('publish')).data.toString()).toBe('still mine');
    expect(thief.inbox.filter((p) => p.type !== 'connack')).toEqual([]);
  });

  it("PINGREQ with a pinned sleeper's client id from elsewhere gets nothing; the sleeper still gets everything", async () => {
    h = await startGateway({ clients: { sleepy: { address: ['10.9.0.0/16', '127.0.0.1'] } } });
    const dev = await h.client();
    await dev.connect('sleepy', { duration: 30 });
    await dev.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 1, topic: 'cmd/sleepy/#' });
    await dev.expect('suback');
    await dev.send({ type: 'disconnect', duration: 30 });
    await dev.expect('disconnect');
    await h.gw.deliver({ topic: 'cmd/sleepy/led', payload: Buffer.from('on'), qos: 1, retain: false });
    const thief = await h.client(undefined, ELSEWHERE);
    await thief.send({ type: 'pingreq', clientId: 'sleepy' });
    await waitFor(() => h!.gw.stats().drops.address_pinned === 1, 'PINGREQ refused');
    await thief.expectNone('pingresp', 200);
    expect(thief.inbox).toEqual([]);
    expect(h.gw.stats().clients.asleep).toBe(1);
    // the real device wakes and gets its message
    await dev.send({ type: 'pingreq', clientId: 'sleepy' });
    const reg = await dev.expect('register');
    await dev.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
    const pub = await dev.expect('publish');
    expect(pub.data.toString()).toBe('on');
    await dev.send({ type: 'puback', topicId: pub.topicId, msgId: pub.msgId, returnCode: 0 });
    await dev.expect('pingresp');
  });

  it('unpinned: a known client id connecting from another host moves the session, logged at warn', async () => {
    const { lines, logger } = capture();
    h = await startGateway({}, { logger });
    const a = await h.client();
    await a.connect('roamer');
    const b = await h.client(undefined, ELSEWHERE);
    expect((await b.connect('roamer')).returnCode).toBe(0);
    const warn = lines.find((l) => l.level === WARN && l.reason === 'client-moved');
    expect(warn).toMatchObject({ clientId: 'roamer', to: expect.stringMatching(/^127\.0\.0\.2:/) });
    // a new port on the same host (a reboot) is not a move
    const c = await h.client(undefined, ELSEWHERE);
    expect((await c.connect('roamer')).returnCode).toBe(0);
    expect(lines.filter((l) => l.reason === 'client-moved')).toHaveLength(1);
  });

  it('refuses client ids unsafe in topics (/ + # control characters) with CONNACK rc 3; invalid UTF-8 is malformed', async () => {
    h = await startGateway();
    const c = await h.client();
    for (const id of ['a/b', 'a+b', 'dev#1', 'bad\u0001id', 'del\u007f', 'nl\n'])
      expect((await c.connect(id)).returnCode, JSON.stringify(id)).toBe(3);
    expect(h.gw.stats().drops.unsafe_client_id).toBe(6);
    const bad = Buffer.from(
      encode({ type: 'connect', flags: flags(), protocolId: 1, duration: 60, clientId: 'abc' }),
    );
    bad[bad.length - 1] = 0xff; // not UTF-8
    await c.sendRaw(bad);
    await waitFor(() => h!.gw.stats().drops.malformed === 1, 'invalid UTF-8 refused');
    expect((await c.connect('ok-1.sensor_2')).returnCode).toBe(0);
    expect(c.inbox).toEqual([]);
    expect(h.gw.stats().clients.active).toBe(1);
  });

  it('pin matching: host, host:port, CIDR, IPv6 and IPv4-mapped IPv6', () => {
    const pins = new AddressPins({
      a: { address: ['10.0.3.7'] },
      b: { address: ['10.0.3.7:50000'] },
      c: { address: ['10.0.3.0/24', 'fd00::/64'] },
      d: { address: ['[fd00::7]:1884'] },
    });
    const at = (address: string, port = 1884) => ({ address, port });
    expect(pins.admits('a', at('10.0.3.7', 1))).toBe(true);
    expect(pins.admits('a', at('::ffff:10.0.3.7'))).toBe(true);
    expect(pins.admits('a', at('10.0.3.8'))).toBe(false);
    expect(pins.admits('b', at('10.0.3.7', 50000))).toBe(true);
    expect(pins.admits('b', at('10.0.3.7', 50001))).toBe(false);
    expect(pins.admits('c', at('10.0.3.200'))).toBe(true);
    expect(pins.admits('c', at('10.0.4.1'))).toBe(false);
    expect(pins.admits('c', at('fd00::1234'))).toBe(true);
    expect(pins.admits('c', at('fd01::1'))).toBe(false);
    expect(pins.admits('d', at('fd00::7'))).toBe(true);
    expect(pins.admits('d', at('fd00::7', 1885))).toBe(false);
    expect(pins.admits('unpinned', at('192.0.2.1'))).toBe(true);
  });

  it('refusal warnings: one line per reason per interval, carrying how many were held back', () => {
    const { lines, logger } = capture();
    let now = 0;
    const log = throttledLog(logger, 1000, () => now);
    for (let i = 0; i < 5; i++) log('acl_denied', { reason: 'acl_denied' }, 'refused');
    log('bad_source', { reason: 'bad_source' }, 'refused', 'error');
    now = 1500;
    log('acl_denied', { reason: 'acl_denied' }, 'refused');
    expect(lines.map((l) => [l.reason, l.level, l.suppressed])).toEqual([
      ['acl_denied', 40, undefined],
      ['bad_source', 50, undefined],
      ['acl_denied', 40, 4],
    ]);
  });
});
