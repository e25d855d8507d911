import pino from 'pino';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Reading, StoreOutcome } from '../../adapters/types.js';
import type { Store } from '../../contracts/store.js';
import { startIngest, type UplinkOutput, type UplinkRules } from '../../gateway/ingest/index.js';
import { storeConfigSchema } from '../../gateway/store/config.js';
import { openStore } from '../../gateway/store/open.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { engine, reading } from '../rules/helpers.js';

const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  cleanupTmpDirs();
});

function store(): Store {
  const s = openStore({
    dir: tmpDir('fieldgate-ingest-'),
    durability: 'process-crash',
    limits: storeConfigSchema.parse({}),
    logger: pino({ level: 'silent' }),
  });
  stores.push(s);
  return s;
}

/** Readings pushed by the test, each recording its outcome; the outbox is a real SQLite one. */
function harness(rules: () => UplinkRules) {
  const s = store();
  const readings$ = new Subject<Reading>();
  const outcomes = new Map<string, StoreOutcome>();
  const dropped: { topic: string; reason: string }[] = [];
  const sub = startIngest(readings$, {
    rules,
    outbox: s.outbox,
    dispatch: () => {},
    logger: pino({ level: 'silent' }),
    onDropped: (r, reason) => dropped.push({ topic: r.topic, reason }),
  });
  const push = (topic: string, payload = '1') =>
    readings$.next({ ...reading({ topic, payload }), settle: (o) => outcomes.set(topic, o) });
  const rows = () => s.outbox.nextQueued(0, 1000).map((r) => r.topic);
  return { push, outcomes, dropped, rows, stop: () => sub.unsubscribe() };
}

describe('ingest: one reading at a time, in arrival order, sync and async alike', () => {
  it('a reading whose rule has a JSONata filter holds back the plain ones after it', async () => {
    // slow/# passes a filter (JSONata: asynchronous); every other topic takes the default route (synchronous).
    const rules = engine({ rules: [{ match: 'slow/#', filter: 'payload > 0', publish: 'out/{topic}' }] });
    const h = harness(() => rules);
    const sent = ['a/1', 'slow/2', 'a/3', 'a/4', 'slow/5', 'slow/6', 'a/7', 'slow/8', 'a/9'];
    for (const t of sent) h.push(t);
    await waitFor(() => h.outcomes.size === sent.length, 'every reading settled');
    expect([...h.outcomes.values()].every((o) => o === 'stored')).toBe(true);
    expect(h.rows()).toEqual(sent.map((t) => (t.startsWith('slow/') ? `out/${t}` : t)));
  });

  it('readings no expression touches are evaluated within the emit (no promise per reading)', () => {
    const calls: string[] = [];
    const rules = engine({});
    const h = harness(() => ({
      uplink: (r, now) => {
        calls.push(r.topic);
        return rules.uplink(r, now);
      },
    }));
    h.push('a/1');
    h.push('a/2');
    // Synchronous: evaluated before push() returned, not on a later microtask.
    expect(calls).toEqual(['a/1', 'a/2']);
  });

  it('a rule that throws or rejects drops only its own reading; the others keep their order', async () => {
    const pass = (r: Reading): UplinkOutput => ({
      messages: [{ ...r, payload: r.payload }],
      commands: [],
    });
    const h = harness(() => ({
      uplink: (r) => {
        if (r.topic === 'bad/sync') throw new Error('boom');
        if (r.topic === 'bad/async') return Promise.reject(new Error('later boom'));
        if (r.topic.startsWith('slow/')) return Promise.resolve(pass(r));
        return pass(r);
      },
    }));
    const sent = ['a/1', 'bad/sync', 'slow/2', 'bad/async', 'a/3', 'slow/4', 'a/5'];
    for (const t of sent) h.push(t);
    await waitFor(() => h.outcomes.size === sent.length, 'every reading settled');
    expect(h.rows()).toEqual(['a/1', 'slow/2', 'a/3', 'slow/4', 'a/5']);
    expect(h.dropped).toEqual([
      { topic: 'bad/sync', reason: 'rule_error' },
      { topic: 'bad/async', reason: 'rule_error' },
    ]);
    expect(h.outcomes.get('bad/sync')).toBe('filtered');
    expect(h.outcomes.get('bad/async')).toBe('filtered');
  });

  it('a reload takes effect between two readings: those waiting behind an async one get the new rules', async () => {
    const before = engine({
      rules: [
        { match: 'slow/#', filter: 'true', publish: 'old/{topic}' },
        { match: 'a/#', publish: 'old/{topic}' },
      ],
    });
    const after = engine({ rules: [{ match: 'a/#', publish: 'new/{topic}' }] });
    let current = before;
    const h = harness(() => current);
    h.push('a/1'); // old rules, at once
    h.push('slow/2'); // old rules, pending on its filter
    h.push('a/3'); // waits for slow/2
    current = after; // SIGHUP while slow/2 is evaluated
    h.push('a/4');
    await waitFor(() => h.outcomes.size === 4, 'every reading settled');
    expect(h.rows()).toEqual(['old/a/1', 'old/slow/2', 'new/a/3', 'new/a/4']);
  });

  it('after unsubscribe, a reading still being evaluated and those waiting are let go', async () => {
    let release: (v: UplinkOutput) => void = () => {};
    const h = harness(() => ({
      uplink: (r) =>
        r.topic === 'slow/1'
          ? new Promise<UplinkOutput>((res) => {
              release = res;
            })
          : { messages: [{ ...r }], commands: [] },
    }));
    h.push('slow/1');
    h.push('a/2');
    h.stop();
    release({ messages: [{ ...reading({ topic: 'slow/1' }) }], commands: [] });
    await new Promise((r) => setImmediate(r));
    expect(h.outcomes.size).toBe(0);
    expect(h.rows()).toEqual([]);
  });
});

describe('ingest: a reading whose store step throws', () => {
  it('settles error (no ack, the device resends) and the readings after it are stored', async () => {
    const s = store();
    const readings$ = new Subject<Reading>();
    const outcomes = new Map<string, StoreOutcome>();
    const rules = engine({});
    // The real outbox, except that one enqueue throws synchronously (as a closed store could).
    const outbox = Object.create(s.outbox) as Store['outbox'];
    outbox.enqueueThen = (messages, opts, done) => {
      if (messages[0]?.topic === 'a/2') throw new Error('enqueue threw');
      s.outbox.enqueueThen(messages, opts, done);
    };
    startIngest(readings$, {
      rules: () => rules,
      outbox,
      dispatch: () => {},
      logger: pino({ level: 'silent' }),
    });
    for (const topic of ['a/1', 'a/2', 'a/3'])
      readings$.next({ ...reading({ topic }), settle: (o) => outcomes.set(topic, o) });
    await waitFor(() => outcomes.size === 3, 'every reading settled');
    expect(Object.fromEntries(outcomes)).toEqual({ 'a/1': 'stored', 'a/2': 'error', 'a/3': 'stored' });
    expect(s.outbox.nextQueued(0, 10).map((r) => r.topic)).toEqual(['a/1', 'a/3']);
  });
});
