import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { type Harness, startGateway } from './setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(cleanupTmpDirs);

describe('mqttsn over UDP: connect, will, keep-alive', () => {
  it('runs the will exchange before CONNACK, and a lost device publishes its will as a reading', async () => {
    h = await startGateway();
    const c = await h.client();
    await c.send({
      type: 'connect',
      flags: flags({ will: true, cleanSession: true }),
      protocolId: 1,
      duration: 1,
      clientId: 'w1',
    });
    await c.expect('willtopicreq');
    await c.send({ type: 'willtopic', flags: flags({ qos: 1, retain: true }), topic: 'dev/w1/status' });
    await c.expect('willmsgreq');
    await c.expectNone('connack', 50);
    await c.send({ type: 'willmsg', msg: Buffer.from('offline') });
    expect((await c.expect('connack')).returnCode).toBe(0);
    // keep-alive 1 s: silent for 1.5 s -> lost, will emitted
    const will = await h.reading(1);
    expect(will).toMatchObject({
      source: 'mqttsn',
      device: 'w1',
      topic: 'dev/w1/status',
      qos: 1,
      retain: true,
    });
    expect(will.payload.toString()).toBe('offline');
    expect(h.gw.stats().states.lost).toBe(1);
    expect(h.gw.stats().clients.active).toBe(0);
  });

  it('WILLTOPICUPD / WILLMSGUPD change the will; a clean DISCONNECT publishes none', async () => {
    h = await startGateway();
    const c = await h.client();
    expect((await c.connect('w2', { duration: 1 })).returnCode).toBe(0);
    await c.send({ type: 'willtopicupd', flags: flags({ qos: 0 }), topic: 'dev/w2/lwt' });
    expect((await c.expect('willtopicresp')).returnCode).toBe(0);
    await c.send({ type: 'willmsgupd', msg: Buffer.from('gone') });
    expect((await c.expect('willmsgresp')).returnCode).toBe(0);
    const c2 = await h.client();
    expect((await c2.connect('w3', { duration: 1 })).returnCode).toBe(0);
    await c2.send({ type: 'willtopicupd', flags: flags(), topic: 'dev/w3/lwt' });
    await c2.expect('willtopicresp');
    await c2.send({ type: 'disconnect' });
    await c2.expect('disconnect');
    const r = await h.reading(1);
    expect(r).toMatchObject({ device: 'w2', topic: 'dev/w2/lwt', qos: 0 });
    expect(r.payload.toString()).toBe('gone');
    await sleep(600);
    expect(h.readings).toHaveLength(1); // none for w3
  });

  it('keeps a device that pings alive; PINGREQ without client id is answered', async () => {
    h = await startGateway();
    const c = await h.client();
    await c.connect('p1', { duration: 1 });
    for (let i = 0; i < 4; i++) {
      await c.send({ type: 'pingreq' });
      await c.expect('pingresp');
      await sleep(400);
    }
    expect(h.gw.stats().clients.active).toBe(1);
  });

  it('SEARCHGW gets GWINFO; ADVERTISE is sent periodically when configured', async () => {
    const probe = await import('./client.js').then((m) => m.SnClient.open(1));
    h = await startGateway({ gateway_id: 7, advertise: '200ms', advertise_to: `127.0.0.1:${probe.port}` });
    const adv = await probe.expect('advertise', 2000);
    expect(adv).toEqual({ type: 'advertise', gwId: 7, duration: 1 }); // 200 ms rounds up to 1 s, never 0
    await probe.expect('advertise', 1000);
    await probe.close();
    const c = await h.client();
    await c.send({ type: 'searchgw', radius: 1 });
    expect(await c.expect('gwinfo')).toEqual({ type: 'gwinfo', gwId: 7 });
  });

  it('refuses bad CONNECTs: protocol id, empty or long client id, allow-list, max_clients', async () => {
    h = await startGateway({ allow: ['ok1', 'ok2', 'ok3'], max_clients: 2 });
    const c = await h.client();
    await c.send({ type: 'connect', flags: flags(), protocolId: 2, duration: 10, clientId: 'ok1' });
    expect((await c.expect('connack')).returnCode).toBe(3);
    expect((await c.connect('x'.repeat(24))).returnCode).toBe(3);
    expect((await c.connect('intruder')).returnCode).toBe(3);
    expect((await c.connect('ok1')).returnCode).toBe(0);
    const c2 = await h.client();
    expect((await c2.connect('ok2')).returnCode).toBe(0);
    const c3 = await h.client();
    expect((await c3.connect('ok3')).returnCode).toBe(1); // congestion: max_clients
    const s = h.gw.stats();
    expect(s.drops).toMatchObject({ rejected: 2, not_allowed: 1, max_clients: 1 });
  });

  it('forgets a CONNECT whose will exchange never finishes', async () => {
    h = await startGateway({ retry_interval: '100ms', retry_count: 1 });
    const c = await h.client();
    await c.send({
      type: 'connect',
      flags: flags({ will: true }),
      protocolId: 1,
      duration: 10,
      clientId: 'half',
    });
    await c.expect('willtopicreq');
    await waitFor(() => h!.gw.stats().clients['will-topic'] === 0, 'half-open session removed', 2000);
  });
});
