import { afterEach, describe, expect, it } from 'vitest';
import { flags, ReturnCode } from '../../adapters/mqttsn/codec/index.js';
import { cleanupTmpDirs } from '../harness/tmp.js';
import type { SnClient } from './client.js';
import { type Harness, startGateway } from './setup.js';

/** The gateway's own topics are compared with what the broker sees: the filter behind topic_prefix. */
describe('mqttsn: reserved subscription filters behind topic_prefix', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    cleanupTmpDirs();
  });

  let msgId = 0;
  async function suback(c: SnClient, topic: string): Promise<number> {
    const id = ++msgId;
    await c.send({ type: 'subscribe', flags: flags({ qos: 1 }), msgId: id, topic });
    return (await c.expect('suback', 2000, (a) => a.msgId === id)).returnCode;
  }

  it('with topic_prefix "cmd/", a device filter "gw1/#" is the gateway\'s cmd/gw1/# upstream: refused', async () => {
    const reserved = { clientIds: new Set<string>(), filters: ['cmd/gw1/+/#', 'fieldgate/gw1/status'] };
    h = await startGateway({ topic_prefix: 'cmd/' }, { reserved: () => reserved });
    const c = await h.client();
    expect((await c.connect('d1')).returnCode).toBe(0);
    expect(await suback(c, 'gw1/#')).toBe(ReturnCode.NOT_SUPPORTED);
    expect(await suback(c, '+/door-3/unlock')).toBe(ReturnCode.NOT_SUPPORTED);
    expect(await suback(c, '#')).toBe(ReturnCode.NOT_SUPPORTED);
    // Not the gateway's upstream: cmd/site/# (and "fieldgate/…" here is cmd/fieldgate/…, not its status).
    expect(await suback(c, 'site/#')).toBe(0);
    expect(await suback(c, 'fieldgate/gw1/status')).toBe(0);
    expect(h.gw.stats().drops.reserved_filter).toBe(3);
  });
});
