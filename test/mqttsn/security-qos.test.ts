import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flags, shortNameToId } from '../../adapters/mqttsn/codec/index.js';
import { QOS2_RECEIVED, QOS2_RECEIVED_TTL_MS, Qos2Ids, qos2Key } from '../../adapters/mqttsn/qos2-ids.js';
import type { Reading } from '../../adapters/types.js';
import type { Store } from '../../contracts/store.js';
import { storeConfigSchema } from '../../gateway/store/config.js';
import { openStore } from '../../gateway/store/open.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import type { SnClient } from './client.js';
import { type Harness, startGateway } from './setup.js';

let h: Harness | undefined;
const stores: Store[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const s of stores.splice(0)) s.close();
});
afterAll(cleanupTmpDirs);

const newStore = () => {
  const s = openStore({
    dir: tmpDir('fieldgate-mqttsn-qos-'),
    durability: 'process-crash',
    limits: storeConfigSchema.parse({}),
    logger: pino({ level: 'silent' }),
  });
  stores.push(s);
  return s;
};

/** What the gateway's ingest does: the message and Reading.remember in one commit, then settle. */
async function storeLikeGateway(store: Store, r: Reading) {
  await store.outbox.enqueue(
    [
      {
        source: r.source,
        device: r.device,
        topic: r.topic,
        payload: r.payload,
        qos: r.qos,
        retain: r.retain,
        receivedAt: r.receivedAt,
      },
    ],
    r.remember ? { remember: r.remember } : {},
  );
  r.settle?.('stored');
}

const qosMinusOne = (c: SnClient, topicId: number) =>
  c.send({
    type: 'publish',
    flags: flags({ qos: -1, topicIdType: 2 }),
    topicId,
    msgId: 0,
    data: Buffer.from('q'),
  });

describe('mqttsn security: QoS -1 and QoS 2 msgId memory', () => {
  it('QoS -1 is off by default, also for a connected device sending QoS -1 flags', async () => {
    h = await startGateway();
    const c = await h.client();
    await qosMinusOne(c, shortNameToId('ab')!);
    await c.connect('d1');
    await qosMinusOne(c, shortNameToId('ab')!);
    await waitFor(() => h!.gw.stats().drops.not_allowed === 2, 'both refused');
    // a QoS 0 publish on the same short topic, sent after, does arrive: the two above were not delayed
    await c.send({
      type: 'publish',
      flags: flags({ qos: 0, topicIdType: 2 }),
      topicId: shortNameToId('ab')!,
      msgId: 0,
      data: Buffer.from('0'),
    });
    await h.reading(1);
    expect(h.readings.map((r) => r.qos)).toEqual([0]);
    expect(h.readings[0]!.payload.toString()).toBe('0');
  });

  it('when enabled, a connected device on the QoS -1 allow-list publishes under its client id; others are refused', async () => {
    h = await startGateway({ qos_minus_one: { enabled: true, allow: ['127.0.0.1'] } });
    const c = await h.client();
    await c.connect('d2');
    await qosMinusOne(c, shortNameToId('ab')!);
    expect((await h.reading(1)).device).toBe('d2');
    const other = await h.client(undefined, '127.0.0.2');
    await other.connect('d3');
    await qosMinusOne(other, shortNameToId('ab')!);
    await waitFor(() => h!.gw.stats().drops.not_allowed === 1, 'off-list sender refused');
    await sleep(20);
    expect(h.readings).toHaveLength(1);
  });

  it('QoS 2 msgId rows: written with the message, deleted on PUBREL and on a clean-session CONNECT', async () => {
    const store = newStore();
    h = await startGateway({}, { store, autoSettle: null });
    h.gw.readings$.subscribe((r) => void storeLikeGateway(store, r));
    const rows = () => store.state.list(QOS2_RECEIVED).map((r) => r.key);
    const c = await h.client();
    await c.connect('q2', { cleanSession: false });
    const pub = (msgId: number) =>
      c.send({
        type: 'publish',
        flags: flags({ qos: 2, topicIdType: 2 }),
        topicId: shortNameToId('ab')!,
        msgId,
        data: Buffer.from('x'),
      });
    await pub(7);
    await c.expect('pubrec', 2000, (p) => p.msgId === 7);
    expect(rows()).toEqual([qos2Key('q2', 7)]);
    await c.send({ type: 'pubrel', msgId: 7 });
    await c.expect('pubcomp');
    expect(rows()).toEqual([]);
    await pub(8); // never released
    await c.expect('pubrec', 2000, (p) => p.msgId === 8);
    expect(rows()).toEqual([qos2Key('q2', 8)]);
    await c.connect('q2', { cleanSession: true });
    await waitFor(() => rows().length === 0, 'row of the earlier session deleted');
  });

  it('QoS 2 msgId rows are bounded: per device, by age at start, and for sessions long gone', async () => {
    const store = newStore();
    const now = Date.now();
    await store.state.put(QOS2_RECEIVED, qos2Key('old', 1), { at: now - QOS2_RECEIVED_TTL_MS - 1 });
    await store.state.put(QOS2_RECEIVED, qos2Key('ghost', 2), { at: now });
    const ids = new Qos2Ids(
      store.state,
      (t) => void t,
      () => Date.now(),
      2,
    );
    ids.load();
    await waitFor(() => store.state.list(QOS2_RECEIVED).length === 1, 'expired row deleted at load');
    expect(ids.has('ghost', 2)).toBe(true);
    // the store commits a row, then the adapter indexes it: a third unreleased id evicts the oldest
    for (const m of [10, 11, 12]) {
      await store.state.put(QOS2_RECEIVED, qos2Key('dev', m), { at: now + m });
      ids.added('dev', m, now + m);
    }
    await waitFor(
      () => store.state.get(QOS2_RECEIVED, qos2Key('dev', 10)) === undefined,
      'oldest row evicted',
    );
    expect([ids.has('dev', 10), ids.has('dev', 11), ids.has('dev', 12)]).toEqual([false, true, true]);
    expect(store.state.list(QOS2_RECEIVED)).toHaveLength(3); // ghost 2, dev 11, dev 12
    // the session of 'ghost' no longer exists anywhere: a clean-session CONNECT still forgets its row
    h = await startGateway({}, { store });
    const c = await h.client();
    await c.connect('ghost', { cleanSession: true });
    await waitFor(
      () => store.state.get(QOS2_RECEIVED, qos2Key('ghost', 2)) === undefined,
      'ghost row deleted',
    );
  });
});
