import { existsSync } from 'node:fs';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flags } from '../../adapters/mqttsn/codec/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freePort, freeUdpPort } from '../harness/ports.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { SnClient } from '../mqttsn/client.js';
import { httpBase, startStatusGateway } from './gateway.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The status page in a real headless Chromium against a real gateway, MQTT-SN devices and mosquitto. */
describe('status page in a browser', () => {
  let broker: Mosquitto;
  let gateway: Gateway;
  let context: BrowserContext;
  let page: Page;
  let snPort: number;
  const problems: string[] = [];
  const clients: SnClient[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} missing: apt-get install chromium (.ci/run does)`);
    broker = await Mosquitto.start();
    snPort = await freeUdpPort();
    ({ gateway } = await startStatusGateway(`
gateway: { id: pi-garden, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
mqttsn: { enabled: true, listen: 127.0.0.1:${snPort} }
http: { listen: 127.0.0.1:${await freePort()} }
`));
    context = await chromium.launchPersistentContext(tmpDir('fieldgate-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1100, height: 820 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    // Nothing may be fetched from anywhere but the gateway (it must work with no uplink).
    await context.route('**/*', (route) =>
      route.request().url().startsWith(httpBase(gateway)) ? route.continue() : route.abort(),
    );
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  });

  afterAll(async () => {
    for (const c of clients) await c.close();
    await context?.close();
    await gateway?.stop();
    await broker?.stop();
    cleanupTmpDirs();
  });

  async function device(id: string): Promise<SnClient> {
    const c = await SnClient.open(snPort);
    clients.push(c);
    expect((await c.connect(id)).returnCode).toBe(0);
    return c;
  }

  async function publish(c: SnClient, topic: string, payload: string): Promise<void> {
    await c.send({ type: 'register', topicId: 0, msgId: 1, topicName: topic });
    const { topicId } = await c.expect('regack');
    await c.send({
      type: 'publish',
      flags: flags({ qos: 1 }),
      topicId,
      msgId: 2,
      data: Buffer.from(payload),
    });
    await c.expect('puback');
  }

  const row = (id: string) =>
    page.locator('#devices tr').filter({ has: page.getByRole('cell', { name: id, exact: true }) });

  it('loads with no console error and shows the gateway and a connected uplink', async () => {
    await page.goto(`${httpBase(gateway)}/`);
    await expect.poll(() => page.locator('#gw').textContent(), { timeout: 5000 }).toBe('pi-garden');
    await expect.poll(() => page.locator('#uplink .pill').textContent(), { timeout: 5000 }).toBe('connected');
    expect(problems).toEqual([]);
  });

  it('shows a device within 2 s of its first reading, its payload as text (no script runs)', async () => {
    const c = await device('greenhouse-1');
    const evil = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
    const sentAt = Date.now();
    await publish(c, 'sn/greenhouse/temp', evil);
    await row('greenhouse-1').waitFor({ timeout: 2000 });
    expect(Date.now() - sentAt).toBeLessThan(2000);
    await expect.poll(() => row('greenhouse-1').locator('td.payload').textContent()).toBe(evil);
    expect(await row('greenhouse-1').locator('.pill').textContent()).toBe('online');
    expect(await page.locator('#devices script, #devices img').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it('shows a sleeping MQTT-SN device as asleep', async () => {
    const c = await device('soil-probe');
    await publish(c, 'sn/soil/moisture', '41.5');
    await c.send({ type: 'disconnect', duration: 300 });
    await c.expect('disconnect');
    await expect
      .poll(() => row('soil-probe').locator('.pill').textContent(), { timeout: 2000 })
      .toBe('asleep');
    // FIELDGATE_SCREENSHOT=<dir>: refresh docs/status-page.png for the README, and a phone view into <dir>.
    if (process.env.FIELDGATE_SCREENSHOT) {
      await expect.poll(() => page.locator('#devcount').textContent()).toContain('2 devices');
      await page.screenshot({ path: 'docs/status-page.png', fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 }); // a phone
      await page.screenshot({
        path: `${process.env.FIELDGATE_SCREENSHOT}/status-page-phone.png`,
        fullPage: true,
      });
      await page.setViewportSize({ width: 1100, height: 820 });
    }
  });

  it("shows a device's problems next to it (here: a packet its session state does not allow)", async () => {
    const c = await device('leaky-valve');
    await c.send({ type: 'puback', topicId: 1, msgId: 777, returnCode: 0 }); // acks nothing the gateway sent
    await expect
      .poll(() => row('leaky-valve').locator('td.problem').textContent(), { timeout: 2000 })
      .toBe('out_of_state 1');
    expect(problems).toEqual([]);
  });

  it('shows the uplink down within 2 s of the broker stopping', async () => {
    await broker.stop();
    const stoppedAt = Date.now();
    await expect
      .poll(() => page.locator('#uplink .pill').textContent(), { timeout: 2000, interval: 50 })
      .toBe('disconnected');
    expect(Date.now() - stoppedAt).toBeLessThan(2000);
    expect(problems).toEqual([]);
  });
});
