import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { CommandReply } from '../../adapters/serial/commands.js';
import { encodeLengthCrc16 } from '../../adapters/serial/framing/length-crc16.js';
import { slipEncode } from '../../adapters/serial/framing/slip.js';
import type { Command } from '../../adapters/types.js';
import { storeConfigSchema } from '../../gateway/store/config.js';
import { openStore } from '../../gateway/store/open.js';
import { PtyPair } from '../harness/socat.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { memoryLogger, Sensor, startAdapter } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(cleanupTmpDirs);

const cmd = (id: string, payload: string, extra: Partial<Command> = {}): Command => ({
  id,
  target: 'serial:bench',
  device: 'bench',
  topic: 'cmd/bench',
  payload: Buffer.from(payload),
  qos: 1,
  ...extra,
});

async function setup(config: Record<string, unknown> = {}) {
  const pty = await PtyPair.open();
  cleanups.push(() => pty.close());
  const sensor = await Sensor.open(pty.sensor);
  cleanups.push(() => sensor.close());
  const store = openStore({
    dir: tmpDir('fieldgate-serial-store-'),
    durability: 'process-crash',
    limits: storeConfigSchema.parse({}),
    logger: memoryLogger().logger,
  });
  cleanups.push(() => store.close());
  const a = await startAdapter(pty, config, store.inbox);
  cleanups.push(() => a.adapter.stop());
  return { ...a, pty, sensor, store };
}

describe('serial commands through a real pty', () => {
  it('writes line-framed commands to the device in order', async () => {
    const { adapter, sensor } = await setup({ delimiter: '\\r\\n' });
    expect(await adapter.send(cmd('c1', 'LED ON'))).toBe('delivered');
    expect(await adapter.send(cmd('c2', 'LED OFF'))).toBe('delivered');
    await waitFor(() => sensor.text() === 'LED ON\r\nLED OFF\r\n', 'commands at the sensor', 3000);
    expect(await adapter.send(cmd('c3', 'x', { target: 'serial:other' }))).toBe('unknown-device');
  });

  it('writes SLIP-framed commands', async () => {
    const { adapter, sensor } = await setup({ commands: { framing: 'slip' } });
    const payload = Buffer.from([1, 0xc0, 2]);
    expect(await adapter.send({ ...cmd('c1', ''), payload })).toBe('delivered');
    await waitFor(() => sensor.received.equals(slipEncode(payload)), 'slip frame at the sensor', 3000);
  });

  it('writes length-crc16 commands and refuses ones too long to frame', async () => {
    const { adapter, sensor, store } = await setup({ commands: { framing: 'length-crc16' } });
    expect(await adapter.send(cmd('c1', 'PING'))).toBe('delivered');
    await waitFor(
      () => sensor.received.equals(encodeLengthCrc16(Buffer.from('PING'))),
      'frame at the sensor',
      3000,
    );
    await expect(adapter.send(cmd('c2', 'x'.repeat(300)))).rejects.toThrow(RangeError);
    expect(store.inbox.count()).toBe(0);
  });

  it('keeps commands in the durable inbox while unplugged and delivers them in order after replug', async () => {
    const { adapter, pty, store } = await setup();
    let sensor: Sensor | undefined;
    cleanups.push(() => sensor?.close());
    await pty.unplug();
    await waitFor(() => adapter.state$.value === 'retrying', 'port lost', 3000);
    const queued = await Promise.all([adapter.send(cmd('c1', 'SET 1')), adapter.send(cmd('c2', 'SET 2'))]);
    expect(queued).toEqual(['queued', 'queued']);
    const rows = store.inbox.pending('serial:bench', 'bench');
    expect(rows.map((r) => r.payload.toString())).toEqual(['SET 1', 'SET 2']);
    expect(rows[0]!.expiresAt).toBeGreaterThan(Date.now() + 3000e3); // default ttl 1h
    expect(
      await adapter.send(cmd('old', 'NEVER', { expiresAt: Date.now() - 1 })).catch((e: Error) => e.name),
    ).toBe('CommandExpiredError');

    await pty.plug();
    sensor = await Sensor.open(pty.sensor);
    await waitFor(() => adapter.state$.value === 'open', 'reopen', 3000);
    expect(await adapter.send(cmd('c3', 'SET 3'))).toBe('delivered'); // after the drained ones
    await waitFor(() => sensor?.text() === 'SET 1\nSET 2\nSET 3\n', 'drained commands at the sensor', 3000);
    await waitFor(() => store.inbox.count() === 0, 'inbox emptied', 3000);
    expect(adapter.counters.commands).toMatchObject({ queued: 2, drained: 2, delivered: 3, expired: 1 });
  });

  it('commands.ttl bounds how long a command waits for the port, also when the rule gave a longer ttl', async () => {
    const { adapter, pty, store } = await setup({ commands: { ttl: '300ms' } });
    let sensor: Sensor | undefined;
    cleanups.push(() => sensor?.close());
    await pty.unplug();
    await waitFor(() => adapter.state$.value === 'retrying', 'port lost', 3000);
    const sentAt = Date.now();
    // Command rules always set expiresAt (their own ttl, 1 h by default).
    expect(await adapter.send(cmd('late', 'TOO LATE', { expiresAt: sentAt + 3600e3 }))).toBe('queued');
    const [row] = store.inbox.pending('serial:bench', 'bench');
    expect(row?.expiresAt).toBeLessThanOrEqual(Date.now() + 300);
    // pending() leaves out (and deletes) expired rows; the gateway's 1 s expiry would do the same.
    await waitFor(() => store.inbox.pending('serial:bench', 'bench').length === 0, 'command expired', 3000);
    await waitFor(() => store.inbox.count() === 0, 'expired row deleted', 3000);
    await pty.plug();
    sensor = await Sensor.open(pty.sensor);
    await waitFor(() => adapter.state$.value === 'open', 'reopen', 3000);
    expect(await adapter.send(cmd('fresh', 'FRESH'))).toBe('delivered');
    await waitFor(() => sensor?.text() === 'FRESH\n', 'only the fresh command at the sensor', 3000);
  });

  it('captures the reply to a command (request/response), and reports a timeout', async () => {
    const { adapter, sensor, readings } = await setup({
      commands: { reply_pattern: '^OK (?<value>\\d+)$', reply_timeout: '300ms' },
    });
    const replies: CommandReply[] = [];
    adapter.replies$.subscribe((r) => replies.push(r));
    expect(await adapter.send(cmd('r1', 'GET interval'))).toBe('delivered');
    await waitFor(() => sensor.text() === 'GET interval\n', 'request at the sensor', 3000);
    await sensor.write('temp:5\n'); // a reading in between is still a reading
    await sensor.write('OK 60\r\n');
    await waitFor(() => replies.length === 1, 'reply', 3000);
    expect(replies[0]).toEqual({
      commandId: 'r1',
      device: 'bench',
      status: 'ok',
      reply: 'OK 60',
      groups: { value: '60' },
    });
    expect(readings.map((r) => r.topic)).toEqual(['sensors/bench/temp']); // the reply is not a reading

    expect(await adapter.send(cmd('r2', 'GET nothing'))).toBe('delivered');
    await waitFor(() => replies.length === 2, 'timeout', 3000);
    expect(replies[1]).toEqual({ commandId: 'r2', device: 'bench', status: 'timeout' });
    await sleep(10);
    expect(adapter.counters.commands).toMatchObject({ replies: 1, replyTimeouts: 1 });
  });

  it('queues a command behind one awaiting its reply in the inbox at once, then writes it after the reply', async () => {
    const { adapter, sensor, store } = await setup({
      commands: { reply_pattern: '^OK (?<value>\\d+)$', reply_timeout: '5s' },
    });
    const replies: CommandReply[] = [];
    adapter.replies$.subscribe((r) => replies.push(r));
    expect(await adapter.send(cmd('a', 'GET a'))).toBe('delivered');
    await waitFor(() => sensor.text() === 'GET a\n', 'first request at the sensor', 3000);
    // Resolves while the device has not answered 'a' yet: the caller is not held for reply_timeout.
    expect(await adapter.send(cmd('b', 'GET b'))).toBe('queued');
    expect(store.inbox.count()).toBe(1);
    await sleep(100);
    expect(sensor.text()).toBe('GET a\n'); // not written before the reply to 'a'
    await sensor.write('OK 1\r\n');
    await waitFor(() => sensor.text() === 'GET a\nGET b\n', 'second request after the first reply', 3000);
    await sensor.write('OK 2\r\n');
    await waitFor(() => replies.length === 2, 'both replies', 3000);
    expect(replies.map((r) => [r.commandId, r.reply])).toEqual([
      ['a', 'OK 1'],
      ['b', 'OK 2'],
    ]);
    await waitFor(() => store.inbox.count() === 0, 'inbox emptied', 3000);
  });
});
