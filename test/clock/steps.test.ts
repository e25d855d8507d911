import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import { type GatewayProcess, killAllGateways, type LogLine } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import type { Packet } from '../../adapters/mqttsn/codec/index.js';
import { encodeRegisters } from '../../adapters/modbus/codec.js';
import { makeCerts } from '../harness/certs.js';
import { PtyPair } from '../harness/socat.js';
import { SlaveModel, TcpSlave } from '../modbus/slave.js';
import { SnClient } from '../mqttsn/client.js';
import { Sensor } from '../serial/helpers.js';
import { FakeClock, http, metric, v5Subscriber } from './faketime.js';

/**
 * The real gateway process under libfaketime: only its wall clock steps (as NTP steps a Pi's clock
 * that booted with an old time); its monotonic clock, the broker and the test run on true time.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  await killAllGateways();
});
afterAll(() => cleanupTmpDirs());

interface Setup {
  dir: string;
  clock: FakeClock;
  broker: Mosquitto;
  udp: number;
  httpPort: number;
  file: string;
}

async function setup(opts: {
  offset: string;
  synced: boolean;
  store?: string;
  extra?: string;
}): Promise<Setup> {
  const dir = tmpDir();
  const clock = new FakeClock(dir, opts.offset, opts.synced);
  const broker = await Mosquitto.start({ persistence: true });
  cleanups.push(() => broker.stop());
  const udp = await freeUdpPort();
  const httpPort = await freePort();
  const file = join(dir, 'gw.yaml');
  writeFileSync(
    file,
    `gateway: { id: clk, state_dir: state, stop_grace: 5s, ${clock.gatewayKeys()} }
upstream: { url: "${broker.url}", keepalive: 5, reconnect: { min: 100ms, max: 300ms } }
store: { durability: process-crash${opts.store ? `, ${opts.store}` : ''} }
http: { listen: "127.0.0.1:${httpPort}" }
mqttsn: { enabled: true, listen: "127.0.0.1:${udp}", open_subscriptions: true, predefined_topics: { 1: clk/q1, 2: clk/q2 } }
${opts.extra ?? ''}`,
  );
  return { dir, clock, broker, udp, httpPort, file };
}

/** A device sends n readings on predefined topic `topicId` at `qos`, each acknowledged before the next. */
async function sendReadings(
  udp: number,
  clientId: string,
  topicId: 1 | 2,
  qos: 1 | 2,
  n: number,
): Promise<void> {
  const c = await SnClient.open(udp);
  try {
    expect((await c.connect(clientId)).returnCode).toBe(0);
    for (let i = 1; i <= n; i++) {
      await c.send({
        type: 'publish',
        flags: flags({ qos, topicIdType: 1 }),
        topicId,
        msgId: i,
        data: Buffer.from(`${clientId}-${i}`),
      });
      if (qos === 1) {
        expect((await c.expect('puback', 5000, (p) => p.msgId === i)).returnCode).toBe(0);
      } else {
        await c.expect('pubrec', 5000, (p) => p.msgId === i);
        await c.send({ type: 'pubrel', msgId: i });
        await c.expect('pubcomp', 5000, (p) => p.msgId === i);
      }
    }
    await c.send({ type: 'disconnect' });
  } finally {
    await c.close();
  }
}

/** The gateway's step log lines (checked last: the behaviour under test comes first). */
function steps(gw: GatewayProcess): LogLine[] {
  return gw.lines.filter((l) => /^wall clock stepped/.test(String(l.msg)));
}

/** The step is seen within a second; give it two (and the store's expiry a turn on the new clock). */
const afterStep = () => sleep(2000);

function expectAll(payloads: string[], prefix: string, n: number): void {
  const got = new Set(payloads.filter((p) => p.startsWith(`${prefix}-`)));
  const missing = Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`).filter((p) => !got.has(p));
  expect(missing).toEqual([]);
}

describe('a wall-clock step under the real gateway process', () => {
  it('forward 35 days with the broker down: all 100 QoS 1 and 100 QoS 2 readings arrive, none dropped, the step is counted', async () => {
    const s = await setup({ offset: '-35d', synced: false });
    const sub = await v5Subscriber(s.broker.url, 'clk/#', 'clk-sub-1');
    cleanups.push(() => sub.close());
    await s.broker.stop();
    const gw = s.clock.start(s.file);
    await gw.waitForLog('fieldgate up', 20_000);
    const health = JSON.parse(await http(s.httpPort, '/health')) as {
      status: string;
      clock: { synchronized: string };
    };
    expect(health.clock.synchronized).toBe('unsynchronized');
    expect(health.status).not.toBe('unavailable'); // not an error
    expect(metric(await http(s.httpPort, '/metrics'), 'fieldgate_clock_synchronized')).toBe(0);

    await sendReadings(s.udp, 'q1dev', 1, 1, 100);
    await sendReadings(s.udp, 'q2dev', 2, 2, 100);

    s.clock.ntpSync();
    await afterStep();
    await s.broker.restart();
    await sub.waitForCount(200, 30_000);
    expectAll(
      sub.messages.map((m) => m.payload),
      'q1dev',
      100,
    );
    expectAll(
      sub.messages.map((m) => m.payload),
      'q2dev',
      100,
    );
    expect(sub.messages.filter((m) => m.payload.startsWith('q2dev-'))).toHaveLength(100); // exactly once
    const metrics = await http(s.httpPort, '/metrics');
    expect(metric(metrics, 'fieldgate_messages_dropped_total{source="store",reason="max_age"}')).toBe(0);
    expect(metric(metrics, 'fieldgate_clock_steps_total{direction="forward"}')).toBe(1);
    expect(steps(gw)).toHaveLength(1);
    expect(metric(metrics, 'fieldgate_clock_synchronized')).toBe(1);
    expect(steps(gw)[0]).toMatchObject({ direction: 'forward' });
    expect(Number(steps(gw)[0]!.stepS)).toBeGreaterThan(35 * 86400 - 60);
    const status = JSON.parse(await http(s.httpPort, '/api/status')) as {
      clock: { synchronized: string; steps: number; last_step: { step_s: number } | null };
    };
    expect(status.clock.synchronized).toBe('synchronized');
    expect(status.clock.steps).toBe(1);
    expect(status.clock.last_step?.step_s).toBeGreaterThan(35 * 86400 - 60);
    // Their times were written while the clock was wrong: marked.
    expect(sub.messages.every((m) => m.user.time_quality === 'unsynchronized')).toBe(true);
  }, 90_000);

  it('a restart between the readings and the step: rows of the earlier, unsynchronized run all arrive, marked', async () => {
    const s = await setup({ offset: '-35d', synced: false });
    const sub = await v5Subscriber(s.broker.url, 'clk/#', 'clk-sub-2');
    cleanups.push(() => sub.close());
    await s.broker.stop();
    let gw = s.clock.start(s.file);
    await gw.waitForLog('fieldgate up', 20_000);
    await sendReadings(s.udp, 'q1dev', 1, 1, 100);
    await sendReadings(s.udp, 'q2dev', 2, 2, 100);
    gw.signal('SIGTERM');
    expect((await gw.exited()).code).toBe(0);

    gw = s.clock.start(s.file);
    const up = await gw.waitForLog('fieldgate up', 20_000);
    expect(up.backlog).toBeGreaterThanOrEqual(200); // and the devices' availability messages

    s.clock.ntpSync();
    await afterStep();
    await s.broker.restart();
    await sub.waitForCount(200, 30_000);
    const payloads = sub.messages.map((m) => m.payload);
    expectAll(payloads, 'q1dev', 100);
    expectAll(payloads, 'q2dev', 100);
    expect(payloads.filter((p) => p.startsWith('q2dev-'))).toHaveLength(100);
    const metrics = await http(s.httpPort, '/metrics');
    expect(metric(metrics, 'fieldgate_messages_dropped_total{source="store",reason="max_age"}')).toBe(0);
    expect(sub.messages.every((m) => m.user.time_quality === 'unsynchronized')).toBe(true);
    // Stopped and started unsynchronized: the downtime is not counted, and it says so once.
    expect(gw.lines.filter((l) => /^downtime not counted/.test(String(l.msg)))).toHaveLength(1);
    expect(steps(gw)).toHaveLength(1);
  }, 90_000);

  it('a restart with the clock synchronized at the stop and at the start counts the downtime in ages', async () => {
    const s = await setup({ offset: '+0', synced: true, store: 'max_age: 10s' });
    await s.broker.stop();
    let gw = s.clock.start(s.file);
    await gw.waitForLog('fieldgate up', 20_000);
    await sendReadings(s.udp, 'r2', 1, 1, 1);
    gw.signal('SIGTERM');
    expect((await gw.exited()).code).toBe(0);
    await sleep(8000); // down 8 s of the 10 s max_age
    gw = s.clock.start(s.file);
    await gw.waitForLog('fieldgate up', 20_000);
    const startedAt = Date.now();
    const dropped = async () =>
      metric(
        await http(s.httpPort, '/metrics'),
        'fieldgate_messages_dropped_total{source="store",reason="max_age"}',
      );
    // Counted, the reading is past max_age 2 s after the start (seen at the next expiry pass, <= 5 s);
    // not counted, it would live 10 s more.
    await waitFor(async () => (await dropped()) >= 1, 'the reading dropped for max_age', 9000);
    expect(Date.now() - startedAt).toBeLessThan(9000);
    expect(gw.lines.filter((l) => /^downtime not counted/.test(String(l.msg)))).toEqual([]);
    expect(Number((await gw.waitForLog('fieldgate up')).downtimeCountedMs)).toBeGreaterThan(7500);
  }, 60_000);

  it('backward one day: max_age and a command TTL still expire once the real time has passed', async () => {
    const s = await setup({
      offset: '+0',
      synced: true,
      store: 'max_age: 4s',
      extra: `commands:
  - subscribe: cmd/{gateway}/+device
    to: mqttsn
    topic: cmd
    ttl: 3s
    result_topic: res/{device}
    report_expired: true`,
    });
    const sub = await Subscriber.connect(s.broker.url, 'res/#', {
      qos: 1,
      clientId: 'clk-sub-3',
      clean: false,
    });
    cleanups.push(() => sub.close());
    const gw = s.clock.start(s.file);
    await gw.waitForLog('fieldgate up', 20_000);
    await waitFor(
      async () => (await http(s.httpPort, '/health')).includes('"upstream":"connected"'),
      'uplink',
    );

    const sleeper = await SnClient.open(s.udp);
    cleanups.push(() => sleeper.close());
    expect((await sleeper.connect('sleeper3')).returnCode).toBe(0);
    await sleeper.send({ type: 'disconnect', duration: 3600 });
    await sleeper.expect('disconnect');
    await publishTo(s.broker.url, 'cmd/clk/sleeper3', 'later', { qos: 1 });
    await sub.waitForCount(1, 10_000, 'res/sleeper3'); // "queued"
    const queuedAt = Date.now();

    await s.broker.stop();
    await sendReadings(s.udp, 'pub3', 1, 1, 1);
    const readAt = Date.now();
    s.clock.set('-1d');

    const dropped = async () =>
      metric(
        await http(s.httpPort, '/metrics'),
        'fieldgate_messages_dropped_total{source="store",reason="max_age"}',
      );
    const expired = async () =>
      metric(
        await http(s.httpPort, '/metrics'),
        'fieldgate_commands_total{target="mqttsn",outcome="expired"}',
      );
    // The first row to go is the reading (or the device's availability message enqueued just before it).
    await waitFor(async () => (await dropped()) >= 1, 'the reading dropped for max_age', 15_000);
    expect(Date.now() - readAt).toBeGreaterThanOrEqual(3500); // not before its time either
    await waitFor(async () => (await expired()) === 1, 'the command expired', 15_000);
    expect(Date.now() - queuedAt).toBeGreaterThanOrEqual(2500);
    expect(
      metric(await http(s.httpPort, '/metrics'), 'fieldgate_clock_steps_total{direction="backward"}'),
    ).toBe(1);
    expect(steps(gw)[0]).toMatchObject({ direction: 'backward' });
  }, 90_000);

  it('MQTT 5: after a step the message expiry is max_age minus the real wait, within 1 s; a time_field is the true time', async () => {
    const s = await setup({
      offset: '-35d',
      synced: false,
      store: 'max_age: 60s',
      extra: `rules:
  - match: clk/q1
    transform: '{"v": payload}'
    time_field: at`,
    });
    const sub = await v5Subscriber(s.broker.url, 'clk/#', 'clk-sub-5');
    cleanups.push(() => sub.close());
    await s.broker.stop();
    const gw = s.clock.start(s.file);
    await gw.waitForLog('fieldgate up', 20_000);
    const sentAt = Date.now();
    await sendReadings(s.udp, 'x5', 1, 1, 1);
    await sleep(3000);
    s.clock.ntpSync();
    await afterStep();
    await s.broker.restart();
    await sub.waitForCount(1, 20_000);
    const m = sub.messages[0]!;
    const waitedS = (m.at - sentAt) / 1000;
    expect(m.expiry).toBeDefined();
    expect(Math.abs(m.expiry! - (60 - waitedS))).toBeLessThanOrEqual(1);
    // Read 35 days "before" by the clock of then; the time written at send is the corrected one.
    const body = JSON.parse(m.payload) as { v: string; at: number };
    expect(body.v).toBe('x5-1');
    expect(Math.abs(body.at - sentAt)).toBeLessThan(2000);
    expect(m.user.time_quality).toBeUndefined();
    expect(steps(gw)).toHaveLength(1);
  }, 60_000);

  it('a sleeping device keeps its session and gets its TTL 1 h commands across a 35-day step', async () => {
    const s = await setup({
      offset: '-35d',
      synced: false,
      extra: `commands:
  - subscribe: cmd/{gateway}/+device
    to: mqttsn
    topic: cmd
    ttl: 1h`,
    });
    // The broker must have the gateway's subscription before the commands are published.
    const gw = s.clock.start(s.file);
    await gw.waitForLog('fieldgate up', 20_000);
    await waitFor(
      async () => (await http(s.httpPort, '/health')).includes('"upstream":"connected"'),
      'uplink',
    );
    // The subscription_ttl of its traffic is 1 h too.
    const dev = await SnClient.open(s.udp);
    cleanups.push(() => dev.close());
    expect((await dev.connect('s4dev', { cleanSession: false })).returnCode).toBe(0);
    await dev.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: 1, topic: 'down/s4' });
    expect((await dev.expect('suback')).returnCode).toBe(0);
    await dev.send({ type: 'disconnect', duration: 600 });
    await dev.expect('disconnect');
    await waitFor(
      async () => (await http(s.httpPort, '/api/devices')).includes('"state":"asleep"'),
      'the device asleep',
    );
    await publishTo(s.broker.url, 'down/s4', 'subscribed-msg', { qos: 1 });
    await publishTo(s.broker.url, 'cmd/clk/s4dev', 'command-msg', { qos: 1 });
    await waitFor(
      async () =>
        (JSON.parse(await http(s.httpPort, '/health')) as { inbox: { rows: number } }).inbox.rows === 2,
      'both waiting in the inbox',
    );

    s.clock.ntpSync();
    await afterStep();
    await sleep(1000); // inbox expiry and the session sweeps run every second

    await dev.send({ type: 'pingreq', clientId: 's4dev' });
    const got: string[] = [];
    for (let done = false; !done; ) {
      const p = await nextPacket(dev.inbox);
      if (!p) break;
      if (p.type === 'register')
        await dev.send({ type: 'regack', topicId: p.topicId, msgId: p.msgId, returnCode: 0 });
      if (p.type === 'publish') {
        got.push(p.data.toString());
        if (p.flags.qos === 1)
          await dev.send({ type: 'puback', topicId: p.topicId, msgId: p.msgId, returnCode: 0 });
      }
      if (p.type === 'pingresp') done = true;
    }
    expect(got.sort()).toEqual(['command-msg', 'subscribed-msg']);
    const metrics = await http(s.httpPort, '/metrics');
    expect(metric(metrics, 'fieldgate_commands_total{target="mqttsn",outcome="expired"}')).toBe(0);
    expect(gw.lines.filter((l) => /expired/.test(String(l.msg)))).toEqual([]);
    expect(steps(gw)).toHaveLength(1);
  }, 90_000);

  it('timers stay steady: serial, MQTT-SN and Modbus devices live through a step forward and back', async () => {
    const pty = await PtyPair.open(tmpDir());
    cleanups.push(() => pty.close());
    const sensor = await Sensor.open(pty.sensor);
    cleanups.push(() => sensor.close());
    const model = new SlaveModel();
    model.setRegisters(1, 3, 0, encodeRegisters(42, 'uint16', 'ABCD'));
    const slave = await TcpSlave.start(model);
    cleanups.push(() => slave.close());
    const s = await setup({
      offset: '+0',
      synced: true,
      extra: `serial:
  - { name: tty, path: ${pty.device}, format: kv, topic: "ser/{device}/{field}", silence_timeout: 3s }
modbus:
  - name: plant
    tcp: 127.0.0.1:${slave.port}
    topic: mb/{device}/{point}
    devices:
      - { name: meter, unit: 1, poll: 500ms, points: [{ name: v, fc: 3, address: 0 }] }
# An idle uplink (readings are counted, not published): only its keep-alive keeps it up.
default_route: { action: drop }`,
    });
    const sub = await Subscriber.connect(s.broker.url, '#', { qos: 1 });
    cleanups.push(() => sub.close());
    const gw = s.clock.start(s.file);
    await gw.waitForLog('fieldgate up', 20_000);
    await waitFor(
      async () => (await http(s.httpPort, '/health')).includes('"upstream":"connected"'),
      'uplink',
    );

    // The MQTT-SN device: keep-alive 3 s, a will, a PINGREQ every second.
    const sn = await SnClient.open(s.udp);
    cleanups.push(() => sn.close());
    await sn.send({
      type: 'connect',
      flags: flags({ will: true, cleanSession: true }),
      protocolId: 1,
      duration: 3,
      clientId: 'sn6',
    });
    await sn.expect('willtopicreq');
    await sn.send({ type: 'willtopic', flags: flags(), topic: 'will/sn6' });
    await sn.expect('willmsgreq');
    await sn.send({ type: 'willmsg', msg: Buffer.from('gone') });
    expect((await sn.expect('connack')).returnCode).toBe(0);
    let live = true;
    const traffic = (async () => {
      while (live) {
        await sn.send({ type: 'pingreq' });
        await sensor.write('t=1\n');
        await sleep(1000);
      }
    })();
    const readingsIn = async (source: string) =>
      metric(await http(s.httpPort, '/metrics'), `fieldgate_messages_in_total{source="${source}"}`);
    await waitFor(
      async () => (await readingsIn('serial:tty')) > 0 && (await readingsIn('modbus:plant')) > 0,
      'serial and modbus readings in',
      10_000,
    );

    s.clock.set('+35d');
    await sleep(5000); // past every timeout involved: keep-alives (3 s, 5 s), silence_timeout (3 s)
    s.clock.set('+0');
    await afterStep();
    const before = [await readingsIn('serial:tty'), await readingsIn('modbus:plant')];
    await sleep(5000);
    // Readings kept flowing after the steps (Modbus polling included).
    expect(await readingsIn('serial:tty')).toBeGreaterThan(before[0]!);
    expect(await readingsIn('modbus:plant')).toBeGreaterThan(before[1]!);
    live = false;
    await traffic;

    const metrics = await http(s.httpPort, '/metrics');
    expect(metrics).toContain('fieldgate_upstream_reconnects_total 0');
    expect(sub.messages.filter((m) => m.topic === 'will/sn6')).toEqual([]);
    const states = sub.messages
      .filter((m) => m.topic.endsWith('/availability'))
      .map((m) => `${m.topic.split('/')[3]}:${m.payload.toString()}`);
    expect(states.filter((x) => !x.endsWith(':online'))).toEqual([]);
    const devices = JSON.parse(await http(s.httpPort, '/api/devices')) as {
      devices: { id: string; state: string }[];
    };
    expect(devices.devices.map((d) => `${d.id}:${d.state}`).sort()).toEqual([
      'meter:online',
      'sn6:online',
      'tty:online',
    ]);
    expect(
      gw.lines.filter((l) => /upstream: (connect failed|disconnected|connection lost)/.test(String(l.msg))),
    ).toEqual([]);
    expect(metric(metrics, 'fieldgate_clock_steps_total{direction="forward"}')).toBe(1);
    expect(metric(metrics, 'fieldgate_clock_steps_total{direction="backward"}')).toBe(1);
    expect(steps(gw).map((l) => l.direction)).toEqual(['forward', 'backward']);
  }, 90_000);

  it('a broker certificate refused as expired by an unsynchronized clock is logged as that, with a hint', async () => {
    const certs = makeCerts(); // valid for two days from now
    const broker = await Mosquitto.start({ tls: { cert: certs.serverCert, key: certs.serverKey } });
    cleanups.push(() => broker.stop());
    const dir = tmpDir();
    const clock = new FakeClock(dir, '+5d', false);
    const file = join(dir, 'gw.yaml');
    writeFileSync(
      file,
      `gateway: { id: clk, state_dir: state, stop_grace: 5s, ${clock.gatewayKeys()} }
upstream: { url: "${broker.url}", tls: { ca: "${certs.ca}" }, reconnect: { min: 100ms, max: 300ms } }
store: { durability: process-crash }
http: { enabled: false }`,
    );
    const gw = clock.start(file);
    const failed = await gw.waitForLog('upstream: connect failed', 20_000);
    expect(String(failed.reason)).toMatch(
      /^TLS: broker certificate expired by this machine's clock \(.*\), which is not synchronized \(NTP\): the clock is probably wrong/,
    );
    expect(String(failed.reason)).toMatch(/CERT_HAS_EXPIRED/);
  }, 60_000);
});

/** The next packet of any type from a client's buffer, or undefined after 3 s. */
async function nextPacket(buf: Packet[]): Promise<Packet | undefined> {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const p = buf.shift();
    if (p) return p;
    await sleep(5);
  }
  return undefined;
}
