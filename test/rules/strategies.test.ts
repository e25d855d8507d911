import { describe, expect, it } from 'vitest';
import type { OutboxMessage } from '../../contracts/store.js';
import { ReportState } from '../../rules/strategies.js';
import type { RawRules } from './helpers.js';
import { engine, reading, text } from './helpers.js';

type Report = NonNullable<NonNullable<RawRules['rules']>[number]['report']>;

const withReport = (report: Report) =>
  engine({ rules: [{ match: 'sensors/+device/temp', publish: 'out/{device}', report }] });

async function send(e: ReturnType<typeof engine>, payload: string, now: number, device = 't1') {
  return e.uplink(reading({ topic: `sensors/${device}/temp`, payload }), now);
}

describe('report strategies', () => {
  it('on_change publishes only when the payload changes', async () => {
    const e = withReport({ on_change: true });
    expect((await send(e, '20', 0)).messages).toHaveLength(1);
    expect(await send(e, '20', 1000)).toMatchObject({ messages: [], dropped: 'unchanged' });
    expect((await send(e, '21', 2000)).messages).toHaveLength(1);
    expect((await send(e, '20', 3000)).messages).toHaveLength(1);
  });

  it('keeps state per output topic', async () => {
    const e = withReport({ on_change: true });
    await send(e, '20', 0, 'a');
    expect((await send(e, '20', 1, 'b')).messages).toHaveLength(1);
    expect((await send(e, '20', 2, 'a')).dropped).toBe('unchanged');
  });

  it('deadband publishes when a number moved by more than X from the last published value', async () => {
    const e = withReport({ deadband: 0.5 });
    expect((await send(e, '20', 0)).messages).toHaveLength(1);
    expect((await send(e, '20.4', 1)).dropped).toBe('deadband');
    expect((await send(e, '20.5', 2)).dropped).toBe('deadband'); // exactly X is not "more than"
    expect((await send(e, '20.6', 3)).messages).toHaveLength(1);
    // baseline is the last published value (20.6), not the last seen one, so slow drift still reports
    expect((await send(e, '20.9', 4)).dropped).toBe('deadband');
    expect((await send(e, '21.2', 5)).messages).toHaveLength(1);
  });

  it('deadband reads a JSON object with a single numeric field', async () => {
    const e = withReport({ deadband: 1 });
    await send(e, '{"t":10}', 0);
    expect((await send(e, '{"t":10.5}', 1)).dropped).toBe('deadband');
    expect((await send(e, '{"t":12}', 2)).messages).toHaveLength(1);
  });

  it('deadband falls back to on-change for non-numeric payloads', async () => {
    const e = withReport({ deadband: 1 });
    await send(e, 'open', 0);
    expect((await send(e, 'open', 1)).dropped).toBe('unchanged');
    expect((await send(e, 'closed', 2)).messages).toHaveLength(1);
  });

  it('throttle lets at most one message per N ms through per topic', async () => {
    const e = withReport({ throttle: '10s' });
    expect((await send(e, '1', 0)).messages).toHaveLength(1);
    expect(await send(e, '2', 5_000)).toMatchObject({ messages: [], dropped: 'throttled' });
    expect((await send(e, '3', 9_999)).dropped).toBe('throttled');
    expect((await send(e, '4', 5_000, 'other')).messages).toHaveLength(1);
    expect((await send(e, '5', 10_000)).messages).toHaveLength(1);
  });

  it('heartbeat re-publishes the latest value via tick() when the topic was silent', async () => {
    const e = withReport({ on_change: true, heartbeat: '60s' });
    await send(e, '20', 0);
    expect(e.tick(59_999)).toEqual([]);
    await send(e, '20', 30_000); // unchanged: not published, does not reset the heartbeat clock
    const beats = e.tick(60_000);
    expect(beats).toHaveLength(1);
    expect(beats[0]).toMatchObject({ topic: 'out/t1', device: 'dev-a', receivedAt: 60_000 });
    expect(text(beats[0]!.payload)).toBe('20');
    expect(e.tick(61_000)).toEqual([]); // next one due a full period later
    expect(e.tick(120_000)).toHaveLength(1);
  });

  it('heartbeat clock restarts on every real publication', async () => {
    const e = withReport({ heartbeat: '60s' });
    await send(e, '20', 0);
    await send(e, '21', 50_000);
    expect(e.tick(60_000)).toEqual([]);
    expect(text(e.tick(110_000)[0]!.payload)).toBe('21');
  });

  it('throttle + heartbeat eventually publishes the value the throttle held back', async () => {
    const e = withReport({ throttle: '10s', heartbeat: '10s' });
    await send(e, '1', 0);
    expect((await send(e, '2', 1_000)).dropped).toBe('throttled');
    expect(e.tick(10_000).map((m) => text(m.payload))).toEqual(['2']);
  });

  it('tick() is empty for rules without heartbeat', async () => {
    const e = withReport({ on_change: true });
    await send(e, '20', 0);
    expect(e.tick(1e9)).toEqual([]);
  });
});

describe('report state bounds', () => {
  it('keeps at most its cap of output topics, forgetting the one seen first', () => {
    const state = new ReportState({ on_change: true }, 3);
    const msg = (topic: string): OutboxMessage => ({
      source: 's',
      device: 'd',
      topic,
      payload: Buffer.from('20'),
      qos: 1,
      retain: false,
      receivedAt: 0,
    });
    for (const t of ['a', 'b', 'c', 'd']) expect(state.offer(msg(t), 0)).toEqual({ publish: true });
    expect(state.size).toBe(3);
    expect(state.offer(msg('c'), 1)).toEqual({ publish: false, reason: 'unchanged' }); // remembered
    expect(state.offer(msg('a'), 2)).toEqual({ publish: true }); // forgotten: goes out as the first
    expect(state.size).toBe(3);
  });
});
