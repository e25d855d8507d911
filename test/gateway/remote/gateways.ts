import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayProcess } from '../../harness/gateway-process.js';
import type { Mosquitto } from '../../harness/mosquitto.js';
import { tmpDir } from '../../harness/tmp.js';

/** A real gateway process with remote management on, logged in as its own broker user (id = user name). */
export async function startRemoteGateway(
  broker: Mosquitto,
  id: string,
  password: string,
  remote: Record<string, string> = {},
): Promise<{ gw: GatewayProcess; file: string; dir: string }> {
  const dir = tmpDir('fieldgate-rgw-');
  const pw = join(dir, 'broker.password');
  writeFileSync(pw, `${password}\n`);
  const file = join(dir, 'fieldgate.yaml');
  const remoteKeys = Object.entries({ enabled: 'true', ...remote })
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  writeFileSync(
    file,
    [
      // Absolute paths: the file a remote change writes need not live beside this one.
      `gateway: { id: ${id}, state_dir: ${join(dir, 'state')}, clock_sync: always }`,
      'upstream:',
      `  url: "${broker.url}"`,
      `  username: ${id}`,
      `  password_file: ${pw}`,
      '  reconnect: { min: 100ms, max: 500ms }',
      'http: { enabled: false }',
      `remote: { ${remoteKeys} }`,
      '',
    ].join('\n'),
  );
  const gw = GatewayProcess.start(['run', '-c', file]);
  await gw.waitForLog('fieldgate up', 30_000);
  return { gw, file, dir };
}
