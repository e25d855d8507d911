import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { SlaveModel, TcpSlave } from '../modbus/slave.js';
import { big, decode, metric, type SpbMessage } from './decode.js';

const STATE = 'spBv1.0/STATE/scada';

/**
 * Primary host and store-and-forward, on the real gateway process: a Modbus counter the test steps
 * (each value one reading), published both as Sparkplug and, as the oracle, on a plain QoS 1 topic.
 * The host goes offline and online, the broker goes away, the gateway is SIGKILLed: every value the
 * plain topic got also came as a DDATA, births before data, stored readings historical, in order,
 * with the time they were read.
 */
describe('sparkplug primary host, store and forward (real gateway, real mosquitto, Tahu decoder)', () => {
  let broker: Mosquitto;
  let model: SlaveModel;
  let slave: TcpSlave;
  let sub: Subscriber;
  let plain: Subscriber;
  let gw: GatewayProcess;
  let file: string;
  let counter = 0;
  let stepper: NodeJS.Timeout;
  /** Wall-clock ms at which the slave started to hold each counter value. */
  const setAt = new Map<number, number>();
  let stateTs = Date.now();
  // The host's STATE (JSON) arrives on the same wildcard: only the edge node's messages are decoded.
  const ours = (n = 0) => sub.messages.slice(n).filter((m) => !m.topic.startsWith('spBv1.0/STATE/'));
  const msgs = () => ours().map(decode);
  const since = (n: number) => ours(n).map(decode);
  const host = (online: boolean, timestamp = ++stateTs) =>
    publishTo(broker.url, STATE, JSON.stringify({ online, timestamp }), { qos: 1, retain: true });

  beforeAll(async () => {
    // The watchers' sessions persist and get QoS 0 queued too: a birth published while they reconnect
    // after the broker's restart is not missed.
    broker = await Mosquitto.start({ persistence: true, extra: ['queue_qos0_messages true'] });
    model = new SlaveModel();
    slave = await TcpSlave.start(model);
    const step = () => {
      counter = (counter + 1) % 65536;
      setAt.set(counter, Date.now());
      model.setRegisters(1, 3, 0, [counter]);
    };
    step();
    stepper = setInterval(step, 40);
    const dir = tmpDir();
    file = join(dir, 'gw.yaml');
    writeFileSync(
      file,
      `gateway: { id: edge2, state_dir: ${join(dir, 'state')}, stop_grace: 5s }
upstream: { url: "${broker.url}", keepalive: 5, reconnect: { min: 100ms, max: 300ms } }
store: { durability: power-loss }
http: { enabled: false }
modbus:
  - name: plc
    tcp: 127.0.0.1:${slave.port}
    timeout: 200ms
    topic: plain/{device}/{point}
    qos: 1
    devices:
      - name: line1
        poll: 25ms
        points:
          - { name: count, fc: 3, address: 0 }
sparkplug:
  enabled: true
  group_id: plant
  primary_host_id: scada
  data_qos: 1
  sources:
    - { source: "modbus:plc", publish: both, report: exception }
`,
    );
    sub = await Subscriber.connect(broker.url, 'spBv1.0/#', { qos: 1, clientId: 'spb-watch', clean: false });
    plain = await Subscriber.connect(broker.url, 'plain/#', {
      qos: 1,
      clientId: 'plain-watch',
      clean: false,
    });
    gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up', 20_000);
  });

  afterAll(async () => {
    clearInterval(stepper);
    await sub?.close();
    await plain?.close();
    await killAllGateways();
    await slave?.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  /** Checks one session from its NBIRTH: births first, then DDATA; stored rows historical, in order, timed. */
  let lastBdSeq = -1n;

  /**
   * One session from its NBIRTH: its bdSeq is new (every CONNECT carries the next one, failed
   * attempts during an outage too), births come first, stored rows are historical, in order, timed.
   */
  function checkSession(after: SpbMessage[], expectHistorical: boolean): bigint {
    const n = after.findIndex((m) => m.verb === 'NBIRTH');
    expect(n).toBeGreaterThanOrEqual(0);
    const nbirth = after[n]!;
    expect(after.slice(0, n).filter((m) => m.verb === 'DDATA' || m.verb === 'DBIRTH')).toEqual([]);
    const bdSeq = big(metric(nbirth, 'bdSeq')?.value)!;
    expect(bdSeq).toBeGreaterThan(lastBdSeq);
    lastBdSeq = bdSeq;
    const session = after.slice(n);
    expect(session[1]?.verb).toBe('DBIRTH');
    const data = session.filter((m) => m.verb === 'DDATA');
    const historical = data.filter((m) => metric(m, 'count')?.isHistorical === true);
    if (expectHistorical) expect(historical.length).toBeGreaterThan(0);
    // Historical first, then live; each with the time its value was read, before the NBIRTH.
    const firstLive = data.findIndex((m) => metric(m, 'count')?.isHistorical !== true);
    if (firstLive >= 0)
      expect(data.slice(firstLive).some((m) => metric(m, 'count')?.isHistorical)).toBe(false);
    // In the order they were read: the counter only goes up.
    const values = data.map((m) => metric(m, 'count')!.value as number);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    for (const m of historical) {
      const c = metric(m, 'count')!;
      expect(c.ts!).toBeLessThanOrEqual(nbirth.timestamp!);
      const set = setAt.get(c.value as number)!;
      expect(c.ts! - set).toBeGreaterThanOrEqual(-50);
      expect(c.ts! - set).toBeLessThan(2000);
    }
    const seqs = session.filter((m) => m.verb !== 'NDEATH').map((m) => m.seq);
    expect(seqs).toEqual(seqs.map((_, k) => k % 256));
    return bdSeq;
  }

  it('no STATE yet: nothing is published; readings wait in the outbox', async () => {
    await plain.waitForCount(20, 15_000);
    await sleep(500);
    expect(msgs()).toEqual([]);
  });

  it('STATE online: NBIRTH and DBIRTH, then the stored readings as historical DDATA in order, then live data', async () => {
    await host(true);
    await waitFor(
      () => msgs().some((m) => m.verb === 'DDATA' && metric(m, 'count')?.isHistorical !== true),
      'live DDATA',
      15_000,
    );
    expect(checkSession(msgs(), true)).toBe(0n);
  });

  it('STATE offline: NDEATH and nothing more; online again: a new session (bdSeq + 1) with what was stored', async () => {
    const from = sub.messages.length;
    await host(false);
    await waitFor(() => since(from).some((m) => m.verb === 'NDEATH'), 'NDEATH', 10_000);
    const death = since(from).find((m) => m.verb === 'NDEATH')!;
    expect(big(metric(death, 'bdSeq')?.value)).toBe(0n);
    await sleep(300); // a DDATA already on its way may still arrive: then silence
    const quiet = sub.messages.length;
    await sleep(1000);
    expect(since(quiet)).toEqual([]);
    await host(true);
    await waitFor(
      () => since(quiet).some((m) => m.verb === 'DDATA' && metric(m, 'count')?.isHistorical !== true),
      'live again',
      15_000,
    );
    expect(checkSession(since(quiet), true)).toBe(1n);
  });

  it('a STATE older than the last one is ignored', async () => {
    const from = sub.messages.length;
    await publishTo(broker.url, STATE, JSON.stringify({ online: false, timestamp: stateTs - 10 }), {
      qos: 1,
      retain: false,
    });
    await sleep(800);
    expect(since(from).some((m) => m.verb === 'NDEATH')).toBe(false);
    expect(since(from).some((m) => m.verb === 'DDATA')).toBe(true);
  });

  it('broker outage: after it returns, a new bdSeq, births first, then what was stored', async () => {
    await broker.stop();
    const stoppedAt = Date.now(); // whatever was sent before the broker was gone is older
    await sleep(1500);
    const from = sub.messages.length;
    await broker.restart();
    await waitFor(
      () => since(from).some((m) => m.verb === 'DDATA' && metric(m, 'count')?.isHistorical !== true),
      'live after outage',
      20_000,
    );
    // The watcher's persistent session may still hold messages of the session before the outage
    // (published before it, delivered after the restart): they are not this session's.
    const after = since(from).filter((m) => m.verb !== 'NDEATH' && (m.timestamp ?? 0) >= stoppedAt);
    checkSession(after, true);
  });

  it('gateway SIGKILL: the will says NDEATH with the session bdSeq; the restart comes back with a new bdSeq, births first', async () => {
    const killedAt = sub.messages.length;
    const session = lastBdSeq;
    await gw.kill();
    await waitFor(() => since(killedAt).some((m) => m.verb === 'NDEATH'), 'NDEATH (the will)', 20_000);
    expect(big(metric(since(killedAt).find((m) => m.verb === 'NDEATH')!, 'bdSeq')?.value)).toBe(session);
    await sleep(1000);
    const from = sub.messages.length;
    gw = GatewayProcess.start(['run', '-c', file]);
    await waitFor(
      () => since(from).some((m) => m.verb === 'DDATA' && metric(m, 'count')?.isHistorical !== true),
      'live after restart',
      20_000,
    );
    // Historical rows only if the meter was polled before the births: not asserted here.
    checkSession(since(from), false);
  });

  it('readings stored while the host is away survive a SIGKILL and go out historical, in order, after the restart', async () => {
    await host(false);
    const away = Date.now();
    await sleep(1500);
    const storedBefore = [...setAt]
      .filter(([, at]) => at >= away + 100 && at <= Date.now() - 100)
      .map(([v]) => v);
    await gw.kill();
    await sleep(500);
    const from = sub.messages.length;
    gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up', 20_000);
    await host(true);
    await waitFor(
      () => since(from).some((m) => m.verb === 'DDATA' && metric(m, 'count')?.isHistorical !== true),
      'live after restart',
      20_000,
    );
    checkSession(since(from), true);
    const historical = new Set(
      since(from)
        .filter((m) => m.verb === 'DDATA' && metric(m, 'count')?.isHistorical)
        .map((m) => metric(m, 'count')!.value as number),
    );
    expect(storedBefore.length).toBeGreaterThan(10);
    // Report by exception: a value the meter held across two polls is one reading; each one polled
    // while the host was away is here (the plain QoS 1 topic is the oracle below).
    const plainValues = new Set(plain.messages.map((m) => Number(m.payload.toString())));
    expect(storedBefore.filter((v) => plainValues.has(v) && !historical.has(v))).toEqual([]);
  });

  it('a device that went offline while the host was away: its stored readings between a DBIRTH and a DDEATH', async () => {
    await host(false);
    await sleep(800);
    model.silent.add(1);
    await sleep(2000); // a failed poll (timeout 200 ms, one retry) makes it offline
    const from = sub.messages.length;
    await host(true);
    await waitFor(() => since(from).some((m) => m.verb === 'DDEATH'), 'DDEATH after the stored rows', 15_000);
    const after = since(from);
    const verbs = after.map((m) => m.verb);
    const death = verbs.indexOf('DDEATH');
    expect(verbs[0]).toBe('NBIRTH');
    expect(verbs.slice(1, death)).toEqual(['DBIRTH', ...verbs.slice(2, death).map(() => 'DDATA')]);
    expect(death).toBeGreaterThan(2);
    expect(after.slice(2, death).every((m) => metric(m, 'count')?.isHistorical === true)).toBe(true);
    model.silent.delete(1);
    await waitFor(
      () =>
        since(from)
          .slice(death)
          .some((m) => m.verb === 'DDATA' && metric(m, 'count')?.isHistorical !== true),
      'live again',
      15_000,
    );
    const back = since(from).slice(death + 1);
    expect(back[0]?.verb).toBe('DBIRTH');
  });

  it('no stored reading is missing: every value the plain QoS 1 topic got also came as a DDATA', async () => {
    clearInterval(stepper);
    await sleep(1000);
    const plainValues = new Set(plain.messages.map((m) => Number(m.payload.toString())));
    await waitFor(
      () => {
        const got = new Set(
          msgs()
            .filter((m) => m.verb === 'DDATA')
            .map((m) => metric(m, 'count')?.value as number),
        );
        return [...plainValues].every((v) => got.has(v));
      },
      'every plain value as DDATA',
      20_000,
    );
    expect(plainValues.size).toBeGreaterThan(50);
  });
});
