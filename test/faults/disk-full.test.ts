import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Store } from '../../contracts/store.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { LogLine } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { startGateway } from '../gateway/start.js';

/**
 * The state directory on a real 2 MiB tmpfs, filled to the brim with a file: SQLite gets ENOSPC
 * (SQLITE_FULL) for real. Needs root (mount); the suite fails, loudly, without it.
 */
describe('disk full under the store', () => {
  const mnt = tmpDir('fieldgate-diskfull-');
  const filler = join(mnt, 'filler');
  const savedEnv = { ...process.env };
  let mounted = false;
  let broker: Mosquitto;
  let sub: Subscriber;
  let gateway: Gateway | undefined;
  let logs: LogLine[];
  let snPort: number;
  let httpPort: number;
  let pings: () => number;
  let statusCalls: () => string[];

  beforeAll(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    mounted = true;
    // A fake systemd-notify first on PATH, and a 100 ms watchdog: the notifier reads process.env.
    const bin = tmpDir('fieldgate-notify-');
    const calls = join(bin, 'calls.log');
    writeFileSync(join(bin, 'systemd-notify'), `#!/bin/sh\nprintf '%s\\n' "$*" >> "${calls}"\n`);
    chmodSync(join(bin, 'systemd-notify'), 0o755);
    Object.assign(process.env, {
      PATH: `${bin}:${process.env.PATH}`,
      NOTIFY_SOCKET: '/run/systemd/notify',
      WATCHDOG_USEC: '200000',
      WATCHDOG_PID: String(process.pid),
    });
    statusCalls = () =>
      existsSync(calls)
        ? readFileSync(calls, 'utf8')
            .split('\n')
            .filter((l) => l.startsWith('--status='))
        : [];
    pings = () =>
      existsSync(calls)
        ? readFileSync(calls, 'utf8')
            .split('\n')
            .filter((l) => l === 'WATCHDOG=1').length
        : 0;

    broker = await Mosquitto.start();
    sub = await Subscriber.connect(broker.url, ['df/#'], { qos: 1 });
    snPort = await freeUdpPort();
    httpPort = await freePort();
    mkdirSync(join(mnt, 'state'));
    ({ gateway, logs } = await startGateway(`
gateway: { id: df, state_dir: ${join(mnt, 'state')} }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
store: { durability: power-loss }
mqttsn: { enabled: true, listen: "127.0.0.1:${snPort}", predefined_topics: { 1: df/t } }
rules:
  - match: df/#
    qos: 1
http: { listen: "127.0.0.1:${httpPort}" }
`));
  });

  afterAll(async () => {
    await gateway?.stop();
    process.env = savedEnv;
    await sub?.close();
    await broker?.stop();
    if (mounted) execFileSync('umount', [mnt]);
    cleanupTmpDirs();
  });

  const health = async () => {
    const r = await fetch(`http://127.0.0.1:${httpPort}/health`);
    return { code: r.status, body: (await r.json()) as { status: string; reason?: string } };
  };
  const commits = async () => {
    const text = await gateway!.observability!.metrics.text();
    return Number(/^fieldgate_store_commit_seconds_count (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const gauge = async (series: string) => {
    const line = (await gateway!.observability!.metrics.text())
      .split('\n')
      .find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  // Counted by the store for every write a storage error refused (the log line is rate-limited).
  const enqueueFailures = async () => (await gauge('fieldgate_store_write_errors_total')) ?? 0;

  it('refuses to ack while full, says why (503, no watchdog), and loses nothing acked once space is back', async () => {
    const dev = await SnClient.open(snPort);
    try {
      expect((await dev.connect('dfdev')).returnCode).toBe(0);
      await waitFor(() => gateway!.observability!.health().upstream === 'connected', 'upstream connected');
      await waitFor(() => pings() >= 2, 'watchdog pings while healthy');
      const publish = (msgId: number, dup = false) =>
        dev.send({
          type: 'publish',
          flags: flags({ qos: 1, topicIdType: 1, dup }),
          topicId: 1,
          msgId,
          data: Buffer.from(`m${msgId}`),
        });
      const acked: string[] = [];
      for (let i = 1; i <= 5; i++) {
        await publish(i);
        expect((await dev.expect('puback', 2000, (p) => p.msgId === i)).returnCode).toBe(0);
        acked.push(`m${i}`);
      }

      // Fill the filesystem to the last byte.
      const fd = openSync(filler, 'w');
      try {
        for (;;) writeSync(fd, Buffer.alloc(4096));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        closeSync(fd);
      }

      // Publish until a message is not stored: a WAL page SQLite allocated earlier may take a few.
      let refused = 0;
      for (let i = 6; i < 200 && !refused; i++) {
        const before = await enqueueFailures();
        await publish(i);
        const outcome = await waitFor(
          async () =>
            dev.inbox.some((p) => p.type === 'puback' && p.msgId === i)
              ? 'acked'
              : (await enqueueFailures()) > before
                ? 'refused'
                : undefined,
          `message ${i} acked or refused`,
        );
        if (outcome === 'acked') {
          await dev.expect('puback', 100, (p) => p.msgId === i);
          acked.push(`m${i}`);
        } else refused = i;
      }
      expect(refused).toBeGreaterThan(0);

      let h = await health();
      expect(h.code).toBe(503);
      expect(h.body.status).toBe('unavailable');
      expect(h.body.reason).toMatch(/store unusable: .*(SQLITE_FULL|full)/);
      // The device resends (DUP) and is still not acked while the disk stays full.
      for (let n = 0; n < 2; n++) {
        const before = await enqueueFailures();
        await publish(refused, true);
        await waitFor(async () => (await enqueueFailures()) > before, 'the resend refused too');
      }
      expect(dev.inbox.some((p) => p.type === 'puback' && p.msgId === refused)).toBe(false);
      // Said in the journal, but not once per refused reading (a full disk refuses them all).
      const lines = logs.filter((l) => l.msg === 'outbox enqueue failed').length;
      expect(lines).toBeGreaterThanOrEqual(1);
      expect(lines).toBeLessThan(await enqueueFailures());

      // Commits that write nothing (a delete of nothing; the periodic expiries read before they
      // write) must not clear the failure, and the watchdog must stay unfed all that time (one ping
      // already under way may land).
      const pingsWhenFull = pings();
      const c0 = await commits();
      const store = (gateway as unknown as { store: Store }).store;
      await store.state.delete('test', 'nothing');
      await store.state.delete('test', 'nothing');
      await waitFor(async () => (await commits()) >= c0 + 2, 'two empty commits while full', 5000);
      await sleep(1500); // and a periodic expiry or two
      h = await health();
      expect(h.code).toBe(503);
      expect(gateway!.observability!.health().serving).toBe(false);
      expect(pings() - pingsWhenFull).toBeLessThanOrEqual(1);
      expect(await gauge('fieldgate_store_write_ok')).toBe(0);
      expect(await gauge('fieldgate_store_write_errors_total')).toBeGreaterThanOrEqual(3); // the refusal and 2 resends
      // systemctl status says why the pings stopped.
      expect(statusCalls().some((c) => /^--status=unavailable: store unusable: .*SQLITE_FULL/.test(c))).toBe(
        true,
      );
      expect(await gauge('fieldgate_health_status{status="unavailable"}')).toBe(1);

      // Space is back: the resend is stored and acked, health and the watchdog recover.
      unlinkSync(filler);
      await publish(refused, true);
      expect((await dev.expect('puback', 3000, (p) => p.msgId === refused)).returnCode).toBe(0);
      acked.push(`m${refused}`);
      await waitFor(async () => (await health()).code === 200, '/health 200 again');
      expect(await gauge('fieldgate_store_write_ok')).toBe(1);
      const pingsAfter = pings();
      await waitFor(() => pings() >= pingsAfter + 2, 'watchdog fed again');

      // Everything acked reached a real subscriber.
      await waitFor(
        () => acked.every((m) => sub.messages.some((r) => r.payload.toString() === m)),
        `all ${acked.length} acked messages at the subscriber`,
      );
    } finally {
      await dev.close();
    }
  }, 30_000);
});
