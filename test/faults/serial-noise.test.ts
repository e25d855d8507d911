import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway } from '../gateway/start.js';
import type { LogLine } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { PtyPair } from '../harness/socat.js';
import { Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { Sensor } from '../serial/helpers.js';

const PORTS = ['noisy', 'listed', 'labels'] as const;
const NOISE_MS = 2000;

/** Seeded, so a failure replays the same bytes. */
function random(seed: number): (n: number) => Buffer {
  let s = seed >>> 0;
  return (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      b[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
    }
    return b;
  };
}

/**
 * Bad topics, serial side: line noise on a `format: kv` port through a real pty, the whole
 * gateway and a real mosquitto. Garbage keys must not become topics, the uplink must not reconnect,
 * and the next real reading must arrive.
 */
describe('faults: serial line noise', () => {
  let broker: Mosquitto;
  let gateway: Gateway;
  let logs: LogLine[];
  let sub: Subscriber;
  const ptys = new Map<string, PtyPair>();
  const ends = new Map<string, Sensor>();

  beforeAll(async () => {
    broker = await Mosquitto.start();
    for (const name of PORTS) {
      const pty = await PtyPair.open(tmpDir());
      ptys.set(name, pty);
      ends.set(name, await Sensor.open(pty.sensor));
    }
    sub = await Subscriber.connect(broker.url, 'sensors/#', { qos: 1 });
    const dev = (n: string) => ptys.get(n)!.device;
    ({ gateway, logs } = await startGateway(`
gateway: { id: gwn, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
serial:
  - { name: noisy, path: ${dev('noisy')}, format: kv, topic: "sensors/{device}/{field}" }
  - { name: listed, path: ${dev('listed')}, format: kv, fields: [temp, humi], topic: "sensors/{device}/{field}" }
  - { name: labels, path: ${dev('labels')}, format: kv, topic: "sensors/{room}/{field}" }
rules:
  # A rule that (mis)publishes onto the gateway's status topic, with heartbeats that bypass ingest.
  - match: sensors/beat/#
    publish: "fieldgate/{gateway}/status"
    retain: true
    report: { heartbeat: 500ms }
http: { enabled: false }
`));
    await waitFor(() => gateway.observability?.health().upstream === 'connected', 'connected upstream');
    // The ports open asynchronously and opening flushes the tty: resend a first reading until it arrives.
    for (const name of ['noisy', 'listed'] as const) {
      await waitFor(
        async () => {
          await ends.get(name)!.write('\ntemp:0\n');
          return sub.messages.some((m) => m.topic === `sensors/${name}/temp`);
        },
        `${name} port open`,
        10_000,
        200,
      );
    }
  });

  afterAll(async () => {
    await gateway?.stop();
    await sub?.close();
    for (const e of ends.values()) await e.close();
    for (const p of ptys.values()) await p.close();
    await broker?.stop();
    cleanupTmpDirs();
  });

  const metrics = () => gateway.observability!.metrics.text();
  const reconnects = async () =>
    Number(/fieldgate_upstream_reconnects_total (\d+)/.exec(await metrics())?.[1] ?? 0);
  const drops = (reason: string) =>
    logs.filter((l) => l.msg === 'serial frame dropped' && l.reason === reason).length;

  it('seconds of random bytes on kv ports: no junk topics, no reconnect, the next real reading arrives', async () => {
    const before = await reconnects();
    const seen = sub.messages.length;
    const noise = random(12);
    let bytes = 0;
    const end = Date.now() + NOISE_MS;
    while (Date.now() < end) {
      for (const name of ['noisy', 'listed'] as const) await ends.get(name)!.write(noise(4096));
      // Line noise of the kind seen in the field: a control character inside a key; an unlisted field.
      await ends.get('noisy')!.write('\nte\u0013mp:21.5 humi:40\n');
      await ends.get('listed')!.write('\nvbat:3.1 temp:5\n');
      bytes += 4096;
      await sleep(10);
    }
    await ends.get('noisy')!.write('\ntemp:22.5\n');
    await ends.get('listed')!.write('\ntemp:23.5\n');
    await waitFor(
      () =>
        sub.messages
          .slice(seen)
          .some((m) => m.topic === 'sensors/noisy/temp' && m.payload.toString() === '22.5'),
      'the real reading after the noise (noisy)',
      15_000,
    );
    await waitFor(
      () =>
        sub.messages
          .slice(seen)
          .some((m) => m.topic === 'sensors/listed/temp' && m.payload.toString() === '23.5'),
      'the real reading after the noise (listed)',
      15_000,
    );

    const topics = new Set(sub.messages.slice(seen).map((m) => m.topic));
    // Every topic that reached the broker is a plausible field of its port; the listed port only its fields.
    for (const t of topics) expect(t).toMatch(/^sensors\/(noisy\/[A-Za-z0-9_.-]{1,64}|listed\/(temp|humi))$/);
    expect(await reconnects()).toBe(before);
    expect(drops('bad_field_name')).toBeGreaterThan(0);
    expect(drops('unlisted_field')).toBeGreaterThan(0);
    expect(drops('unparsable') + drops('too_long')).toBeGreaterThan(0);
    // For the report: how much noise, and how many distinct topics it left behind.
    console.info(
      `serial noise: ${bytes} random bytes per port in ${NOISE_MS} ms; ${topics.size} distinct topics at the broker: ${[...topics].join(' ')}`,
    );
  });

  it('noise that ends mid-line, then a pause: the next line, sent without a leading newline, reaches the broker once', async () => {
    const noisy = ends.get('noisy')!;
    const noise = random(29);
    for (let i = 0; i < 8; i++) await noisy.write(noise(1024));
    await noisy.write(Buffer.from('::\xff ::u:  t: ', 'latin1')); // the tail seen glued to a reading in the field
    await sleep(1000); // past the default frame_timeout (300ms at 9600 baud)
    const seen = sub.messages.length;
    await noisy.write('temp:21 humi:40\n');
    await sub.waitForCount(seen + 2, 10_000);
    await sleep(500);
    const after = sub.messages.slice(seen).map((m) => `${m.topic}=${m.payload}`);
    expect(after).toEqual(['sensors/noisy/temp=21', 'sensors/noisy/humi=40']);
    expect(await metrics()).toMatch(
      /fieldgate_serial_frames_dropped_total\{port="serial:noisy",reason="stale_partial"\} [1-9]/,
    );
    // Seconds of noise on this port over the whole file: the operator hears of it once (rate-limited).
    const warned = logs.filter(
      (l) => l.msg === 'line noise or wrong baud rate on noisy (configured 9600 baud)',
    );
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, port: 'noisy', baud: 9600 });
    // The operator's dashboard sees the same: undecodable bytes and the logged burst, per port.
    const text = await metrics();
    expect(
      Number(/fieldgate_serial_noise_bytes_total\{port="serial:noisy"\} (\d+)/.exec(text)?.[1]),
    ).toBeGreaterThan(4096);
    expect(text).toMatch(/fieldgate_serial_noise_bursts_total\{port="serial:noisy"\} [1-9]/);
  });

  it("neither a rule nor its heartbeats can publish onto the gateway's own status topic", async () => {
    const status = await Subscriber.connect(broker.url, 'fieldgate/gwn/status', { qos: 1 });
    try {
      await status.waitForCount(1, 5000); // the retained "online"
      const loopGuard = async () =>
        Number(
          /fieldgate_messages_dropped_total\{source="serial:labels",reason="loop_guard"\} (\d+)/.exec(
            await metrics(),
          )?.[1] ?? 0,
        );
      await waitFor(
        async () => {
          await ends.get('labels')!.write('\nroom:beat temp:1\n');
          return (await loopGuard()) >= 1;
        },
        'the rule output refused',
        10_000,
        300,
      );
      const first = await loopGuard();
      await waitFor(async () => (await loopGuard()) >= first + 2, 'two heartbeats refused', 5000, 100);
      expect(status.messages.map((m) => m.payload.toString())).toEqual(['online']);
    } finally {
      await status.close();
    }
  });

  it('a frame value that makes an invalid topic is refused by the ingest check and counted; the next one flows', async () => {
    const labels = ends.get('labels')!;
    await waitFor(
      async () => {
        await labels.write('\nroom:probe temp:0\n');
        return sub.messages.some((m) => m.topic === 'sensors/probe/temp');
      },
      'labels port open',
      10_000,
      200,
    );
    await labels.write('room:"a\u0013b" temp:1\n');
    await labels.write('room:"x\u007f" temp:1\n');
    await labels.write('room:lab temp:2\n');
    const [m] = await sub.waitForCount(1, 5000, 'sensors/lab/temp');
    expect(m?.payload.toString()).toBe('2');
    expect(
      sub.messages.filter((x) => x.topic.startsWith('sensors/a') || x.topic.startsWith('sensors/x')),
    ).toEqual([]);
    expect(await metrics()).toMatch(
      /fieldgate_messages_dropped_total\{source="serial:labels",reason="invalid_topic"\} 2/,
    );
    const warned = logs.filter(
      (l) => l.level === 40 && String(l.msg).includes('not a valid MQTT topic name'),
    );
    expect(warned).toHaveLength(1); // rate-limited: the second refusal is counted, not logged again
    expect(warned[0]).toMatchObject({ source: 'serial:labels', problem: 'control_char' });
  });
});
