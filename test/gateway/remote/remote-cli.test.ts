import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../../gateway/cli/remote/exit-codes.js';
import { GatewayProcess, killAllGateways, runCli } from '../../harness/gateway-process.js';
import type { Mosquitto } from '../../harness/mosquitto.js';
import { freePort } from '../../harness/ports.js';
import { Subscriber } from '../../harness/subscriber.js';
import { cleanupTmpDirs, tmpDir } from '../../harness/tmp.js';
import { sleep, waitFor } from '../../harness/wait.js';
import { version } from '../../../gateway/version.js';
import { aclBroker, remoteCli, runRemote } from './broker.js';
import { startRemoteGateway } from './gateways.js';

/**
 * The operator CLI end to end: `fieldgate remote` as a real child process, three real gateway
 * processes, one real mosquitto with the shipped ACL file (each gateway its own user).
 */
const IDS = ['gw1', 'gw2', 'gw3'];
const REMOTE: Record<string, Record<string, string>> = {
  gw1: { confirm_within: '3s' },
  gw2: { info_interval: '1s' },
};
let broker: Mosquitto;
let pw: Record<string, string>;
const gws = new Map<string, { gw: GatewayProcess; file: string; dir: string }>();
const op = (args: string[], timeoutMs?: number) =>
  runRemote(broker, 'operator', pw.operator!, args, timeoutMs ? { timeoutMs } : {});

beforeAll(async () => {
  ({ broker, passwords: pw } = await aclBroker(IDS));
  for (const id of IDS)
    gws.set(
      id,
      // gw1 is the one a bad change cuts off: it must give up on it soon. gw2 republishes its info often.
      await startRemoteGateway(broker, id, pw[id]!, REMOTE[id]),
    );
  // Every gateway's retained info is on the broker before anyone lists.
  const watcher = await Subscriber.connect(broker.url, 'fieldgate/+/admin/info', {
    username: 'operator',
    password: pw.operator!,
    qos: 1,
  });
  await waitFor(
    () =>
      new Set(watcher.messages.filter((m) => m.retain || m.payload.length).map((m) => m.topic)).size === 3,
    'three gateways retained info',
    30_000,
  );
  await watcher.close();
}, 120_000);

afterAll(async () => {
  await killAllGateways();
  await broker?.stop();
  cleanupTmpDirs();
});

describe('fieldgate remote with three real gateways', () => {
  it('`fieldgate remote list` shows three gateways on one broker', async () => {
    const r = await op(['list']);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^GATEWAY\s+VERSION\s+UPLINK\s+BACKLOG\s+DEVICES\s+CONFIG\s+LAST CHANGE$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(IDS);
    for (const row of lines.slice(1)) {
      const cells = row.split(/\s{2,}/);
      expect(cells[1]).toBe(version());
      expect(cells[2]).toMatch(/^up \d+s$/);
      expect(cells[3]).toBe('0');
      expect(cells[4]).toBe('0/0');
      expect(cells[5]).toMatch(/^\d+s$/);
    }

    const json = await op(['list', '--json']);
    expect(json.code).toBe(EXIT.ok);
    const objs = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { gateway: string; info: { id: string } });
    expect(objs.map((o) => [o.gateway, o.info.id])).toEqual(IDS.map((id) => [id, id]));

    // The ACL is what keeps them private: an account it does not name sees no gateway at all.
    const intruder = await runRemote(broker, 'intruder', pw.intruder!, ['list']);
    expect(intruder.code).toBe(EXIT.ok);
    expect(intruder.stdout).toBe('');
    expect(intruder.stderr).toMatch(/no gateways/);
  });

  it('ping, status and config get answer over the ACL; a gateway cannot be asked for another', async () => {
    const ping = await op(['ping', 'gw2']);
    expect(ping.code, ping.stderr).toBe(EXIT.ok);
    expect(ping.stdout).toMatch(/^gw2: answered in \d+ ms, up \d+ s$/m);

    const status = await op(['status', 'gw3']);
    expect(status.code, status.stderr).toBe(EXIT.ok);
    expect(status.stdout).toMatch(/^id: gw3$/m);
    expect(status.stdout).toMatch(/^uplink\.state: connected$/m);

    const get = await op(['config', 'get', 'gw2']);
    expect(get.code, get.stderr).toBe(EXIT.ok);
    expect(get.stdout).toMatch(/^# fieldgate config of gw2, hash [0-9a-f]+ /);
    expect(get.stdout).toMatch(/id: gw2/);

    // Only operators may send requests: the broker refuses gw3's request to gw2 (MQTT 5 PUBACK 0x87).
    const asGateway = await runRemote(broker, 'gw3', pw.gw3!, ['--timeout', '1s', 'ping', 'gw2']);
    expect(asGateway.code, asGateway.stderr).toBe(EXIT.broker);
    expect(asGateway.stderr).toMatch(
      /the broker refused the request on fieldgate\/gw2\/admin\/req\/ping: Not authori[sz]ed/,
    );
  });

  it('config set: a rules change is diffed, sent, applied hot and confirmed; logs -f shows it as it happens', async () => {
    const follow = remoteCli(broker, 'operator', pw.operator!, ['logs', 'gw2', '-f', '--interval', '300ms']);
    try {
      await waitFor(() => follow.stdout.length > 0 || follow.stderr.length > 0, 'first logs poll', 30_000);
      expect(follow.stderr).toBe('');

      const dir = tmpDir();
      const file = join(dir, 'gw2.yaml');
      const get = await op(['config', 'get', 'gw2']);
      writeFileSync(file, `${get.stdout}rules:\n  - { match: a/b, publish: x/y }\n`);
      const set = await op(['config', 'set', 'gw2', file]);
      expect(set.code, set.stdout + set.stderr).toBe(EXIT.ok);
      const out = set.stdout;
      expect(out).toMatch(/^\+ rules:$/m);
      expect(out).toMatch(/^\+ {3}- \{ match: a\/b, publish: x\/y \}$/m);
      expect(out).toMatch(/^sent: config\/set to gw2, if_match [0-9a-f]+$/m);
      expect(out).toMatch(/^applied \(hot\), hash [0-9a-f]+: applied hot/m);
      expect(out).toMatch(/^confirmed$/m);

      // Sending the same file again changes nothing (the header's hash is stale now, but no request goes out).
      const again = await op(['config', 'set', 'gw2', file]);
      expect(again.code).toBe(EXIT.ok);
      expect(again.stdout).toMatch(/^gw2: no change/m);

      // The audit line of the change, with who made it, reaches the follower.
      await waitFor(
        () => /remote: config\/set by test-operator/.test(follow.stdout),
        'the change in logs -f',
        30_000,
      );
      follow.signal('SIGINT');
      expect((await follow.exited(15_000)).code).toBe(EXIT.ok);
    } finally {
      await follow.kill();
    }
  });

  it('a copy fetched before someone else changed the gateway is refused: conflict, verbatim, exit 3', async () => {
    const dir = tmpDir();
    const stale = join(dir, 'stale.yaml');
    writeFileSync(stale, (await op(['config', 'get', 'gw3'])).stdout);
    const mine = join(dir, 'mine.yaml');
    writeFileSync(mine, `${readFileSync(stale, 'utf8')}rules:\n  - { match: c/d, publish: y/z }\n`);
    expect((await op(['config', 'set', 'gw3', mine])).code).toBe(EXIT.ok);

    writeFileSync(stale, `${readFileSync(stale, 'utf8')}rules:\n  - { match: e/f, publish: z/w }\n`);
    const r = await op(['config', 'set', 'gw3', stale]);
    expect(r.code).toBe(EXIT.refused);
    expect(r.stdout).toMatch(
      /^note: .* was fetched at hash [0-9a-f]+; gw3 now runs [0-9a-f]+ \(--force to overwrite\)$/m,
    );
    expect(r.stdout).toMatch(/^refused: conflict: if_match [0-9a-f]+ is not the running config/m);
  });

  it('an invalid config is not sent: the same problems `fieldgate check` prints, exit 2', async () => {
    const dir = tmpDir();
    const file = join(dir, 'bad.yaml');
    const good = (await op(['config', 'get', 'gw3'])).stdout;
    writeFileSync(file, `${good}store: { overflow: drop-newest }\ncolour: blue\n`);
    const r = await op(['config', 'set', 'gw3', file]);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.stderr).toMatch(/not sent/);
    const check = await runCli(['check', '-c', file]);
    const problems = check.out.split('\n').filter((l) => l.startsWith('  '));
    expect(problems.length, check.out).toBe(2);
    for (const p of problems) expect(r.stderr).toContain(p);
    expect(r.stdout).not.toMatch(/^sent/m);
  });

  it('`config set` against a gateway that rolls back exits non-zero and says why', async () => {
    const dir = tmpDir();
    const file = join(dir, 'gw1.yaml');
    const before = (await op(['config', 'get', 'gw1'])).stdout;
    const nowhere = `mqtt://127.0.0.1:${await freePort()}`;
    writeFileSync(file, before.replace(/url: .*$/m, `url: "${nowhere}"`));
    expect(readFileSync(file, 'utf8')).toContain(nowhere);

    const r = await op(['config', 'set', 'gw1', file], 120_000);
    expect(r.code, r.stdout + r.stderr).toBe(EXIT.rolledBack);
    expect(r.stdout).toMatch(new RegExp(`^\\+ +url: "${nowhere.replace(/[.:/]/g, '\\$&')}"$`, 'm'));
    expect(r.stdout).toMatch(
      /^applied \(restart\), hash [0-9a-f]+: .*; confirmed or rolled back within 3 s$/m,
    );
    expect(r.stdout).toMatch(
      /^rolled_back: not confirmed within 3 s: uplink not connected \(connect failed: .*ECONNREFUSED/m,
    );

    // Back on its previous config and answering.
    const after = await op(['config', 'get', 'gw1']);
    expect(after.stdout.split('\n')[0]).toBe(before.split('\n')[0]);
    const list = await op(['list']);
    expect(list.stdout).toMatch(/^gw1 .* rolled_back \d+s ago$/m);
  });

  it('Ctrl-C while config set waits stops the waiting, not the change, and says where its outcome shows', async () => {
    const dir = tmpDir();
    const file = join(dir, 'gw1.yaml');
    const nowhere = `mqtt://127.0.0.1:${await freePort()}`;
    writeFileSync(
      file,
      (await op(['config', 'get', 'gw1'])).stdout.replace(/url: .*$/m, `url: "${nowhere}"`),
    );
    const set = remoteCli(broker, 'operator', pw.operator!, ['config', 'set', 'gw1', file]);
    await waitFor(() => /^applied \(restart\)/m.test(set.stdout), 'applied', 30_000);
    set.signal('SIGINT');
    expect((await set.exited(15_000)).code).toBe(EXIT.noAnswer);
    expect(set.stdout).toMatch(
      /^stopped waiting: the change goes on on gw1; `fieldgate remote status gw1` shows its outcome/m,
    );
    // It still rolled back by itself.
    await waitFor(
      async () => {
        const st = await op(['--timeout', '2s', 'status', 'gw1', '--json']);
        return (
          st.code === EXIT.ok &&
          (JSON.parse(st.stdout) as { last_change?: { state?: string } }).last_change?.state === 'rolled_back'
        );
      },
      'gw1 rolled back and answering',
      60_000,
      500,
    );
  });

  it('a serial port that does not exist: a second change meanwhile is refused busy (exit 3), the first rolls back (exit 4)', async () => {
    const dir = tmpDir();
    const patch = join(dir, 'serial.json');
    const tty = join(dir, 'no-such-tty');
    writeFileSync(
      patch,
      JSON.stringify({
        serial: [{ name: 'weather', path: tty, format: 'kv', topic: 'sensors/{device}/{field}' }],
      }),
    );
    const first = remoteCli(broker, 'operator', pw.operator!, ['config', 'set', 'gw1', '--patch', patch]);
    try {
      await waitFor(() => /^applied \(restart\)/m.test(first.stdout), 'first change applied', 30_000);
      // The uplink is back at once, the port never opens: the change waits for confirmation, and a
      // second one is refused with the gateway's own words.
      const rules = join(dir, 'rules.json');
      writeFileSync(rules, JSON.stringify({ rules: [{ match: 'k/l', publish: 'm/n' }] }));
      const second = await op(['config', 'set', 'gw1', '--patch', rules]);
      expect(second.code, second.stdout + second.stderr).toBe(EXIT.refused);
      expect(second.stdout).toMatch(/^refused: busy: .+/m);

      expect((await first.exited(120_000)).code, first.stdout + first.stderr).toBe(EXIT.rolledBack);
      expect(first.stdout).toMatch(/^rolled_back: not confirmed within 3 s: .*weather/m);
    } finally {
      await first.kill();
    }
  });

  it('config set --patch: a JSON merge patch on the running config is checked here, diffed and applied', async () => {
    const dir = tmpDir();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ store: { overflow: 'drop-newest' } }));
    const refused = await op(['config', 'set', 'gw2', '--patch', bad]);
    expect(refused.code).toBe(EXIT.invalid);
    expect(refused.stderr).toMatch(/store\.overflow: /);
    expect(refused.stdout).not.toMatch(/^sent/m);

    const good = join(dir, 'rules.json');
    writeFileSync(good, JSON.stringify({ rules: [{ match: 'p/q', publish: 'r/s' }] }));
    const r = await op(['config', 'set', 'gw2', '--patch', good]);
    expect(r.code, r.stdout + r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/^\+ +- match: p\/q$/m);
    expect(r.stdout).toMatch(/^- +- match: a\/b$/m);
    expect(r.stdout).toMatch(/^applied \(hot\), hash [0-9a-f]+: applied hot/m);
    const get = await op(['config', 'get', 'gw2']);
    expect(get.stdout).toMatch(/p\/q/);
    expect(get.stdout).not.toMatch(/a\/b/);
  });

  it('request: any request of the contract; purge-dead with a count that is not the real one is refused, exit 3', async () => {
    const purge = await op(['request', 'gw2', 'queue/purge-dead', '{"count": 5}']);
    expect(purge.code).toBe(EXIT.refused);
    expect(JSON.parse(purge.stdout)).toMatchObject({
      request: 'queue/purge-dead',
      code: 'refused',
      body: { count: 0 },
    });
    const reload = await op(['request', 'gw2', 'rules/reload']);
    expect(reload.code, reload.stdout).toBe(EXIT.ok);
    expect(JSON.parse(reload.stdout)).toMatchObject({ code: 'ok' });
    const nonsense = await op(['request', 'gw2', 'no/such']);
    expect(nonsense.code).toBe(EXIT.refused);
    expect(JSON.parse(nonsense.stdout)).toMatchObject({ code: 'unknown_request' });
  });

  it('restart: the gateway answers, restarts in-process and is back with one more boot; logs -f follows it through', async () => {
    const boots = async () =>
      (JSON.parse((await op(['status', 'gw2', '--json'])).stdout) as { boot_count: number }).boot_count;
    const before = await boots();
    const follow = remoteCli(broker, 'operator', pw.operator!, ['logs', 'gw2', '-f', '--interval', '300ms']);
    try {
      await waitFor(() => follow.stdout.length > 0, 'first logs poll', 30_000);
      const r = await op(['restart', 'gw2']);
      expect(r.code, r.stderr).toBe(EXIT.ok);
      expect(r.stdout).toMatch(/^gw2: restarting/m);
      await waitFor(
        async () => (await op(['ping', 'gw2'])).code === EXIT.ok && (await boots()) === before + 1,
        'gw2 back',
        60_000,
        500,
      );
      // The follower kept asking through the restart and shows what the gateway logged after it.
      await waitFor(
        () => {
          const after = follow.stdout.split(/remote: restart by test-operator/)[1];
          return after !== undefined && /upstream: connected/.test(after);
        },
        'events after the restart in logs -f',
        30_000,
      );
      follow.signal('SIGINT');
      expect((await follow.exited(15_000)).code).toBe(EXIT.ok);
    } finally {
      await follow.kill();
    }
  });

  it('an operator file: MQTT 3.1.1 (reply topic in the JSON), a cluster whose first node is down, paths relative to the file', async () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'op.pw'), `${pw.operator}\n`);
    const file = join(dir, 'operator.yaml');
    writeFileSync(
      file,
      [
        'upstream:',
        `  url: ["mqtt://127.0.0.1:${await freePort()}", "${broker.url}"]`,
        '  username: operator',
        '  password_file: op.pw',
        '  protocol: 3.1.1',
        '  connect_timeout: 2s',
        'remote: { actor: ops-311, timeout: 10s }',
      ].join('\n'),
    );
    const spy = await Subscriber.connect(broker.url, 'fieldgate/gw2/admin/req/#', {
      username: 'gw2',
      password: pw.gw2!,
      qos: 1,
    });
    const p = GatewayProcess.start(['remote', '-c', file, 'ping', 'gw2']);
    const { code } = await p.exited(60_000);
    expect(code, p.stderr).toBe(EXIT.ok);
    expect(p.stdout).toMatch(/^gw2: answered in \d+ ms/m);
    // It spoke 3.1.1: the request carried its reply topic, correlation and actor in the JSON.
    const [req] = await spy.waitForCount(1);
    expect(JSON.parse(req!.payload.toString())).toMatchObject({
      reply_to: expect.stringMatching(/^fieldgate\/gw2\/admin\/reply\//),
      correlation: expect.any(String),
      actor: 'ops-311',
    });
    await spy.close();
    const list = GatewayProcess.start(['remote', '-c', file, 'list']);
    expect((await list.exited(60_000)).code).toBe(EXIT.ok);
    expect(list.stdout.split('\n').filter((l) => /^gw\d /.test(l))).toHaveLength(3);
  });

  it('a gateway that went away: list shows it silent, status prints its last info and exits 5', async () => {
    await gws.get('gw3')!.gw.kill();
    await sleep(10_000);
    const list = await op(['list', '--stale-after', '8s']);
    expect(list.code).toBe(EXIT.ok);
    expect(list.stdout).toMatch(/^gw3 +\S+ +silent \d+s /m);
    // gw2 republishes every second, so it is not silent (8 s leaves room for a loaded machine).
    expect(list.stdout).toMatch(/^gw2 +\S+ +up \d+s /m);

    const status = await op(['--timeout', '1s', 'status', 'gw3']);
    expect(status.code).toBe(EXIT.noAnswer);
    expect(status.stderr).toMatch(/gw3: no answer within 1 s; its last retained info:/);
    expect(status.stdout).toMatch(/^id: gw3$/m);
  });
});
