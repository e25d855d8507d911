import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../../gateway/cli/remote/exit-codes.js';
import { makeCerts } from '../../harness/certs.js';
import { GatewayProcess } from '../../harness/gateway-process.js';
import { Mosquitto as Broker } from '../../harness/mosquitto.js';
import { killAllGateways } from '../../harness/gateway-process.js';
import type { Mosquitto } from '../../harness/mosquitto.js';
import { Subscriber } from '../../harness/subscriber.js';
import { cleanupTmpDirs } from '../../harness/tmp.js';
import { aclBroker, runRemote } from './broker.js';

// The operator CLI against a real mosquitto with the shipped ACL, before any gateway is involved:
// what an operator sees when the broker, the credentials or the gateway are not there.

let broker: Mosquitto;
let pw: Record<string, string>;

beforeAll(async () => {
  ({ broker, passwords: pw } = await aclBroker(['gw1']));
});

afterAll(async () => {
  await killAllGateways();
  await broker?.stop();
  cleanupTmpDirs();
});

describe('fieldgate remote against a real broker (no gateway)', () => {
  it('a broker that refuses the password exits with the broker code and says so', async () => {
    const r = await runRemote(broker, 'operator', 'wrong', ['list']);
    expect(r.code).toBe(EXIT.broker);
    expect(r.stderr).toMatch(
      /cannot connect to the broker \(mqtt:\/\/127\.0\.0\.1:\d+: .*(authori[sz]ed|Bad User Name or Password)/i,
    );
  });

  it('a broker that is not there exits with the broker code, naming each URL tried', async () => {
    const r = await runRemote(broker, 'operator', pw.operator!, ['list'], {
      url: ['mqtt://127.0.0.1:1', 'mqtt://[::1]:1'],
    });
    expect(r.code).toBe(EXIT.broker);
    expect(r.stderr).toMatch(/mqtt:\/\/127\.0\.0\.1:1: .*ECONNREFUSED.*; mqtt:\/\/\[::1\]:1: /);
  });

  it('a gateway that does not answer: the no-answer exit code after --timeout, with the likely causes', async () => {
    // The request does reach the gateway's request topic (the ACL lets the operator write there).
    const spy = await Subscriber.connect(broker.url, 'fieldgate/gw1/admin/req/#', {
      username: 'gw1',
      password: pw.gw1!,
      qos: 1,
    });
    try {
      const t0 = Date.now();
      const r = await runRemote(broker, 'operator', pw.operator!, ['--timeout', '1s', 'ping', 'gw1']);
      expect(r.code).toBe(EXIT.noAnswer);
      expect(r.stderr).toMatch(/gw1: no answer within 1 s \(offline, remote\.enabled off/);
      expect(Date.now() - t0).toBeLessThan(30_000);
      const [req] = await spy.waitForCount(1);
      expect(req!.topic).toBe('fieldgate/gw1/admin/req/ping');
      expect(req!.retain).toBe(false);
      expect(JSON.parse(req!.payload.toString())).toMatchObject({ sent_at: expect.any(String) });
    } finally {
      await spy.close();
    }
  });

  it('list on a broker without gateways prints that there are none and exits 0', async () => {
    const r = await runRemote(broker, 'operator', pw.operator!, ['list']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.stderr).toMatch(/no gateways: nothing retained on fieldgate\/\+\/admin\/info/);
  });

  it('bad flags exit with the usage code before connecting', async () => {
    const r = await runRemote(broker, 'operator', pw.operator!, ['ping', 'gw/1']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/not a gateway id/);
  });

  it('mqtts:// with --ca as upstream.tls does it: the broker CA is trusted, another CA is refused', async () => {
    const certs = makeCerts();
    const tls = await Broker.start({ tls: { cert: certs.serverCert, key: certs.serverKey } });
    try {
      const good = GatewayProcess.start(['remote', '--url', tls.url, '--ca', certs.ca, 'list']);
      expect((await good.exited(60_000)).code, good.stderr).toBe(EXIT.ok);
      expect(good.stderr).toMatch(/no gateways/);

      const wrong = GatewayProcess.start(['remote', '--url', tls.url, '--ca', certs.otherCa, 'list']);
      expect((await wrong.exited(60_000)).code).toBe(EXIT.broker);
      expect(wrong.stderr).toMatch(
        /cannot connect to the broker \(mqtts:\/\/127\.0\.0\.1:\d+: .*certificate/i,
      );
    } finally {
      await tls.stop();
    }
  });
});
