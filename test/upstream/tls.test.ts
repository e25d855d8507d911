import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestCerts, makeCerts } from '../harness/certs.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { sleep } from '../harness/wait.js';
import { makeClient, msg, nEvents, nextEvent, openTestStore } from './helpers.js';

let certs: TestCerts;
beforeAll(() => {
  certs = makeCerts();
});
afterAll(cleanupTmpDirs);

describe('upstream client over TLS (mqtts://)', () => {
  it('connects with the right CA and delivers; refuses a broker signed by another CA without crashing', async () => {
    const broker = await Mosquitto.start({ tls: { cert: certs.serverCert, key: certs.serverKey } });
    const store = openTestStore();
    const good = makeClient(store, { url: broker.url, tls: { ca: certs.ca } });
    await good.client.start();
    await nextEvent(good.client.events$, 'connected');
    await store.outbox.enqueue([msg('d', 't/x', 'over tls', 1)]);
    await nextEvent(good.client.events$, 'delivered-batch');
    await good.client.stop();

    const bad = makeClient(store, {
      url: broker.url,
      tls: { ca: certs.otherCa },
      reconnect: { min: '100ms', max: '600ms' },
    });
    await bad.client.start();
    const failed = await nextEvent(bad.client.events$, 'connect-failed');
    expect(failed.tls).toBe(true);
    expect(failed.reason).toMatch(/^TLS: .*(certificate|CERT)/i);
    await sleep(1500);
    // Backed off (long delay for certificate problems), not a tight loop.
    const attempts = bad.events.filter((e) => e.type === 'connect-failed').length;
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(6);
    expect(bad.lines.some((l) => l.level === 50 && String(l.reason).startsWith('TLS:'))).toBe(true);
    expect(bad.client.stats().connected).toBe(false);
    await bad.client.stop();
    store.close();
    await broker.stop();
  });

  it('checks the server name: a wrong servername is refused unless verify_server is off', async () => {
    const broker = await Mosquitto.start({ tls: { cert: certs.serverCert, key: certs.serverKey } });
    const store = openTestStore();
    const wrong = makeClient(store, { url: broker.url, tls: { ca: certs.ca, servername: 'broker.example' } });
    await wrong.client.start();
    const failed = await nextEvent(wrong.client.events$, 'connect-failed');
    expect(failed.reason).toMatch(/broker\.example/);
    await wrong.client.stop();
    const lax = makeClient(store, {
      url: broker.url,
      tls: { ca: certs.ca, servername: 'broker.example', verify_server: false },
    });
    await lax.client.start();
    await nextEvent(lax.client.events$, 'connected');
    await lax.client.stop();
    store.close();
    await broker.stop();
  });

  it('does mutual TLS with a client certificate when the broker requires one', async () => {
    const broker = await Mosquitto.start({
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requireCert: true },
    });
    const store = openTestStore();
    const anon = makeClient(store, { url: broker.url, tls: { ca: certs.ca } });
    await anon.client.start();
    const [failed] = await nEvents(anon.client.events$, 'connect-failed', 1, 10_000);
    expect(failed).toBeDefined();
    await anon.client.stop();
    const withCert = makeClient(store, {
      url: broker.url,
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    });
    await withCert.client.start();
    await nextEvent(withCert.client.events$, 'connected');
    await store.outbox.enqueue([msg('d', 't/m', 'mutual', 2)]);
    await nextEvent(withCert.client.events$, 'delivered-batch');
    await withCert.client.stop();
    store.close();
    await broker.stop();
  });
});
