import { describe, expect, it } from 'vitest';
import { Connection } from '../../gateway/upstream/connection.js';
import { PoisonProbe } from '../../gateway/upstream/poison-probe.js';
import { Mosquitto } from '../harness/mosquitto.js';

describe('PoisonProbe: which row the broker drops the connection on', () => {
  it('probes one row at a time after a drop with no ack, and convicts a row alone in flight at its second quick drop', () => {
    const p = new PoisonProbe();
    let started = 0;
    p.attached();
    p.sent();
    expect(p.dropped([{ id: 1 }, { id: 2 }], () => started++)).toBeUndefined();
    expect([p.probing, p.window(32), started]).toEqual([true, 1, 1]);
    p.attached();
    p.sent();
    expect(p.dropped([{ id: 1 }], () => started++)).toBeUndefined(); // first strike
    p.attached();
    p.sent();
    expect(p.dropped([{ id: 1 }], () => started++)).toBe(1); // second strike
    expect(started).toBe(1);
  });

  it('an ack on the connection clears it of blame, and a delivery ends the probing', () => {
    const p = new PoisonProbe();
    p.sent();
    p.acked();
    expect(p.dropped([{ id: 1 }], () => {})).toBeUndefined();
    expect(p.probing).toBe(false);
    p.attached();
    p.dropped([{ id: 1 }], () => {});
    expect(p.probing).toBe(true);
    p.delivered();
    expect([p.probing, p.window(32)]).toEqual([false, 32]);
  });
});

describe('Connection.closedLocally: only drops by the broker or the network count against rows', () => {
  it('is true after our destroy() (keep-alive timeout, store failure), false when the broker goes away', async () => {
    const broker = await Mosquitto.start();
    const dial = (clientId: string) =>
      Connection.dial({
        url: broker.url,
        tls: undefined,
        connect: {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId,
          clean: true,
          keepalive: 30,
        },
        protocolVersion: 4,
        timeoutMs: 3000,
        maxPacketSize: 1 << 20,
      });
    try {
      const ours = (await dial('ours')).conn;
      ours.destroy('keep-alive timeout');
      expect(ours.closedLocally).toBe(true);
      const theirs = (await dial('theirs')).conn;
      const closed = new Promise<string>((r) => theirs.onClose(r));
      await broker.stop();
      expect(await closed).toMatch(/closed by broker|ECONNRESET|EPIPE/);
      expect(theirs.closedLocally).toBe(false);
    } finally {
      await broker.stop();
    }
  });
});
