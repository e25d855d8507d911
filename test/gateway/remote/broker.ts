import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayProcess } from '../../harness/gateway-process.js';
import { Mosquitto } from '../../harness/mosquitto.js';
import { tmpDir } from '../../harness/tmp.js';

/** The shipped ACL (docs/remote-management.md): what the tests run is what operators copy. */
export const ACL_FILE = join(import.meta.dirname, '../../../examples/remote/mosquitto.acl');

/**
 * A real mosquitto with password and ACL files: `operator`, the gateways (user name = gateway id)
 * and an `intruder` the ACL gives nothing of fieldgate's admin topics.
 */
export async function aclBroker(
  gateways: string[],
): Promise<{ broker: Mosquitto; passwords: Record<string, string> }> {
  const passwords: Record<string, string> = { operator: 'op-secret', intruder: 'in-secret' };
  for (const g of gateways) passwords[g] = `${g}-secret`;
  const broker = await Mosquitto.start({
    users: passwords,
    acl: readFileSync(ACL_FILE, 'utf8'),
  });
  return { broker, passwords };
}

/** `fieldgate remote …` as a real child process, logged in as `user` through a password file. */
export function remoteCli(
  broker: Mosquitto,
  user: string,
  password: string,
  args: string[],
  o: { url?: string[] } = {},
): GatewayProcess {
  const dir = tmpDir();
  const pw = join(dir, 'pw');
  writeFileSync(pw, `${password}\n`);
  return GatewayProcess.start([
    'remote',
    ...(o.url ?? [broker.url]).flatMap((u) => ['--url', u]),
    '--username',
    user,
    '--password-file',
    pw,
    '--actor',
    'test-operator',
    ...args,
  ]);
}

/** Run it to the end: exit code, stdout and stderr. */
export async function runRemote(
  broker: Mosquitto,
  user: string,
  password: string,
  args: string[],
  o: { url?: string[]; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = remoteCli(broker, user, password, args, o);
  const { code } = await p.exited(o.timeoutMs ?? 60_000);
  return { code, stdout: p.stdout, stderr: p.stderr };
}
