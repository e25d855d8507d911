import { afterAll, describe, expect, it } from 'vitest';
import { SPARKPLUG_DOWN_GRACE_MS, sparkplugHealth } from '../../gateway/sparkplug/health.js';
import type { SessionView } from '../../gateway/sparkplug/metrics.js';
import { startGateway } from '../gateway/start.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';

afterAll(cleanupTmpDirs);

const view = (v: Partial<SessionView>): SessionView => ({
  born: false,
  connected: false,
  hostOnline: false,
  bdSeq: 0,
  births: 0,
  since: 0,
  topicsRewritten: false,
  ...v,
});

describe('the Sparkplug connection in /health', () => {
  it('is degraded only when its connection stays down past the grace while the uplink is up', () => {
    const late = SPARKPLUG_DOWN_GRACE_MS + 1000;
    expect(sparkplugHealth(view({ connected: true, born: true }), true, late).degraded).toBeUndefined();
    // Down briefly (a reconnect, the host's STATE offline cycle): not yet.
    expect(sparkplugHealth(view({ since: 0 }), true, SPARKPLUG_DOWN_GRACE_MS).degraded).toBeUndefined();
    expect(sparkplugHealth(view({ since: 0 }), true, late).degraded).toMatch(
      /^Sparkplug connection down for 31 s while the uplink is up$/,
    );
    // The uplink down as well: its own reasons say so.
    expect(sparkplugHealth(view({ since: 0 }), false, late).degraded).toBeUndefined();
    // A primary host offline is shown, not counted against the gateway.
    const hostAway = sparkplugHealth(view({ connected: true, hostOnline: false }), true, late);
    expect(hostAway).toEqual({ view: { connected: true, host_online: false, born: false, bd_seq: 0 } });
    // A broker that rewrites "." in topic names (RabbitMQ): connected and born, and still useless.
    const rewritten = sparkplugHealth(view({ connected: true, born: true, topicsRewritten: true }), true, 0);
    expect(rewritten.degraded).toMatch(/rewrites "\." in Sparkplug topic names/);
    expect(rewritten.view).toMatchObject({ topics_rewritten: true });
  });

  it('shows the session of a real gateway, and a connection the broker refuses while the uplink is up', async () => {
    // The broker takes only client ids starting "fieldgate-": the main connection, not the node's.
    const broker = await Mosquitto.start({ extra: ['clientid_prefixes fieldgate-'] });
    const modbus = `modbus:
  - name: bus
    tcp: 127.0.0.1:1
    devices: [{ name: m1, points: [{ name: v, fc: 4, address: 0 }] }]`;
    const config = (clientId: string) => `
gateway: { id: gwh, state_dir: state }
upstream: { url: ${broker.url}, reconnect: { min: 100ms, max: 400ms } }
${modbus}
sparkplug: { enabled: true, client_id: ${clientId}, sources: [{ source: "modbus:bus" }] }
http: { enabled: false }
`;
    const ok = await startGateway(config('fieldgate-gwh-spb'));
    try {
      await waitFor(() => ok.gateway.observability?.health().upstream === 'connected', 'uplink');
      await waitFor(
        () => (ok.gateway.observability!.health().sparkplug as { born?: boolean }).born === true,
        'node born',
      );
      expect(ok.gateway.observability!.health().sparkplug).toMatchObject({
        connected: true,
        host_online: true,
      });
    } finally {
      await ok.gateway.stop();
    }
    const refused = await startGateway(config('scada-edge'));
    try {
      await waitFor(() => refused.gateway.observability?.health().upstream === 'connected', 'uplink');
      await waitFor(
        () =>
          refused.logs.some((l) => l.part === 'sparkplug' && /not authori[sz]ed/i.test(JSON.stringify(l))),
        'the refused connect logged',
      );
      const h = refused.gateway.observability!.health();
      expect(h.sparkplug).toMatchObject({ connected: false, born: false });
      expect(h.serving).toBe(true);
    } finally {
      await refused.gateway.stop();
      await broker.stop();
    }
  });
});
