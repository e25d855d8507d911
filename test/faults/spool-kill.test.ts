import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayProcess, killAllGateways } from '../harness/gateway-process.js';
import { Mosquitto } from '../harness/mosquitto.js';
import { freeUdpPort } from '../harness/ports.js';
import { publishTo } from '../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../harness/tmp.js';
import { waitFor } from '../harness/wait.js';
import { CommandDevice, commandUntilReceived, spooled } from './device.js';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await killAllGateways();
  cleanupTmpDirs();
});

describe('a command acknowledged upstream survives a gateway SIGKILL before delivery', () => {
  it('is delivered after the restart although the broker kept no session to redeliver it', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const port = await freeUdpPort();
    const dir = tmpDir('fieldgate-spool-kill-');
    const state = join(dir, 'state');
    const file = join(dir, 'gw.yaml');
    // clean_session: true, so the broker never redelivers: only the gateway's spool can.
    writeFileSync(
      file,
      `gateway: { id: gwk, state_dir: ${state} }
upstream: { url: "${broker.url}", clean_session: true, reconnect: { min: 100ms, max: 300ms } }
store: { durability: power-loss }
mqttsn: { enabled: true, listen: "127.0.0.1:${port}" }
commands:
  - subscribe: cmd/{gateway}/+device
    to: mqttsn
    topic: cm
    qos: 1
http: { enabled: false }
`,
    );
    let gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up', 20_000);
    await gw.waitForLog('upstream: connected');

    // A persistent MQTT-SN session that never acks: its first command holds its queue (~40 s).
    const silent = await CommandDevice.connect(port, 'k1', { acking: false, cleanSession: false });
    // Until the gateway's SUBACK we cannot tell the broker has the subscription: resend the blocker.
    await commandUntilReceived(broker.url, 'cmd/gwk/k1', 'first', silent);
    await publishTo(broker.url, 'cmd/gwk/k1', 'second', { qos: 1 });
    await waitFor(() => spooled(state).includes('second'), 'second command in the spool', 5000);
    expect(silent.got).toEqual(['first']);

    await gw.kill();
    await silent.close();
    gw = GatewayProcess.start(['run', '-c', file]);
    await gw.waitForLog('fieldgate up', 20_000);
    const back = await CommandDevice.connect(port, 'k1', { acking: true, cleanSession: false });
    cleanups.push(() => back.close());
    await waitFor(() => back.got.includes('second'), 'second command after the restart', 10_000);
    // At least once: the unanswered 'first' (resent above if the SUBACK was late) comes again, before 'second'.
    expect(back.got.at(-1)).toBe('second');
    expect(back.got.slice(0, -1).length).toBeGreaterThan(0);
    expect(new Set(back.got.slice(0, -1))).toEqual(new Set(['first']));
    await waitFor(() => spooled(state).length === 0, 'spool empty', 5000);
    await gw.kill();
  });
});
