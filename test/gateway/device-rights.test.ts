import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import { runCli } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { publishTo, Subscriber } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { sleep, waitFor } from '../harness/wait.js';
import { SnClient } from '../mqttsn/client.js';
import { startGateway } from './start.js';

/**
 * No device borrows the gateway's broker rights, and none takes the gateway's identity: MQTT-SN
 * devices on real UDP, the whole gateway, a real mosquitto with a backend worker and a commander.
 */
describe("MQTT-SN devices cannot borrow the gateway's identity or broker rights", () => {
  let broker: Mosquitto | undefined;
  let gateway: Gateway | undefined;
  const closers: (() => Promise<unknown>)[] = [];

  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
    await gateway?.stop();
    await broker?.stop();
    gateway = undefined;
    broker = undefined;
    cleanupTmpDirs();
  });

  async function setup(mqttsn: string): Promise<{ port: number; url: string; file: string }> {
    broker = await Mosquitto.start();
    const port = await freeUdpPort();
    let file: string;
    ({ gateway, file } = await startGateway(`
gateway: { id: gw1, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn:
  enabled: true
  listen: 127.0.0.1:${port}
${mqttsn}
commands:
  - subscribe: cmd/{gateway}/+device/#
    to: mqttsn
    topic: cmd
http: { enabled: false }
`));
    await waitFor(() => gateway!.observability?.health().upstream === 'connected', 'connected upstream');
    return { port, url: broker.url, file };
  }

  async function device(port: number, id: string): Promise<{ c: SnClient; rc: number }> {
    const c = await SnClient.open(port);
    closers.push(() => c.close());
    return { c, rc: (await c.connect(id)).returnCode };
  }

  let msgId = 100;
  async function suback(c: SnClient, topic: string): Promise<number> {
    const id = ++msgId;
    await c.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: id, topic });
    return (await c.expect('suback', 3000, (a) => a.msgId === id)).returnCode;
  }

  /** The next PUBLISH the gateway sends, answering its REGISTER (and acking QoS 1) as a device does. */
  async function received(c: SnClient): Promise<Buffer> {
    const reg = await c.expect('register', 5000);
    await c.send({ type: 'regack', topicId: reg.topicId, msgId: reg.msgId, returnCode: 0 });
    const p = await c.expect('publish', 5000);
    if (p.flags.qos === 1)
      await c.send({ type: 'puback', topicId: p.topicId, msgId: p.msgId, returnCode: 0 });
    return p.data;
  }

  const publishes = (c: SnClient) => c.inbox.filter((p) => p.type === 'publish' || p.type === 'register');

  it("the gateway's id is no client id, and no subscription reaches the commands for its devices", async () => {
    const { port, url } = await setup(`  acl:
    rules:
      - { clients: ["*"], publish: ["sensors/{client}/#"], subscribe: ["cmd/{client}/#"] }
      - { clients: ["display-*"], subscribe: ["cmd/#"] }`);
    const door = await device(port, 'door-3');
    expect(door.rc).toBe(0);
    // The gateway id is public (status topic): as a client id, cmd/{client}/# would be every command.
    const fake = await device(port, 'gw1');
    expect(fake.rc).toBe(3);
    // An ACL generous enough to cover the gateway's own command filter still cannot hand it out.
    const display = await device(port, 'display-1');
    expect(display.rc).toBe(0);
    expect(await suback(display.c, 'cmd/+/door-3/#')).toBe(3);
    expect(await suback(display.c, 'cmd/gw1/#')).toBe(3);
    expect(await suback(display.c, 'cmd/site/#')).toBe(0); // beside the gateway's own: allowed

    await publishTo(url, 'cmd/gw1/door-3/unlock', 'PIN 4711');
    expect((await received(door.c)).toString()).toBe('PIN 4711');
    await sleep(300);
    expect(publishes(display.c)).toEqual([]);
    expect(publishes(fake.c)).toEqual([]);
    const drops = gateway!.observability?.board.deviceList().devices ?? [];
    expect(drops.some((d) => d.id === 'gw1')).toBe(false);
  }, 30_000);

  it('without an acl devices cannot subscribe at all: no $SYS, no share group, no "#"', async () => {
    const { port, url } = await setup('');
    const worker = await Subscriber.connect(url, '$share/workers/jobs/#', { qos: 1 });
    closers.push(() => worker.close());
    const { c, rc } = await device(port, 'snoop');
    expect(rc).toBe(0);
    for (const f of ['#', '$SYS/#', '$share/workers/jobs/#', 'jobs/#', '$queue/jobs'])
      expect(await suback(c, f)).toBe(3);
    for (let i = 0; i < 20; i++) await publishTo(url, `jobs/${i}`, `job ${i}`);
    // The backend worker gets every job: the gateway joined no share group on a device's behalf.
    await worker.waitForCount(20, 10_000);
    await sleep(300);
    expect(worker.messages).toHaveLength(20);
    expect(publishes(c)).toEqual([]);
  }, 30_000);

  it("open_subscriptions (opt-in, warned about) allows plain topics, never $-topics or the gateway's own", async () => {
    const { port, url, file } = await setup('  open_subscriptions: true');
    const { c } = await device(port, 'display-2');
    expect(await suback(c, 'site/#')).toBe(0);
    for (const f of ['#', '+/gw1/#', '$SYS/broker/uptime', '$share/g/site/#', 'fieldgate/gw1/status'])
      expect(await suback(c, f)).toBe(3);
    await publishTo(url, 'site/news', 'hello');
    expect((await received(c)).toString()).toBe('hello');

    const check = await runCli(['check', '-c', file]);
    expect(check.code).toBe(0);
    expect(check.out).toMatch(/warning: mqttsn\.open_subscriptions: on without an acl/);
  }, 30_000);

  it('a subscription that comes to overlap a new command rule (SIGHUP) no longer receives its traffic', async () => {
    const { port, url, file } = await setup('  open_subscriptions: true');
    const { c } = await device(port, 'display-3');
    expect(await suback(c, 'site/#')).toBe(0);
    const dir = tmpDir();
    const next = join(dir, 'next.yaml');
    const { readFileSync } = await import('node:fs');
    writeFileSync(
      next,
      readFileSync(file, 'utf8').replace(
        'commands:\n',
        'commands:\n  - subscribe: site/locks/+device\n    to: mqttsn\n    topic: lock\n',
      ),
    );
    await gateway!.reload(next);
    await sleep(300); // the new upstream subscription
    await publishTo(url, 'site/locks/door-9', 'OPEN');
    await publishTo(url, 'site/news', 'after');
    expect((await received(c)).toString()).toBe('after');
    await sleep(300);
    expect(publishes(c)).toEqual([]); // OPEN never came, before or after
  }, 30_000);
});
