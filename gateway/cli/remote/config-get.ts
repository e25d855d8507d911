import type { Admin } from './admin.js';
import { EXIT, exitForCode } from './exit-codes.js';
import { hashHeader } from './config-header.js';

/**
 * `fieldgate remote config get GW > f.yaml`: the running config (secrets redacted) on stdout, with a
 * first comment line naming its hash, so `config set` can refuse to overwrite a change made since.
 */
export async function configGetCommand(admin: Admin, gateway: string): Promise<number> {
  const a = await admin.request(gateway, 'config/get');
  const body = a.body as { yaml?: unknown; hash?: unknown } | undefined;
  if (a.code !== 'ok' || typeof body?.yaml !== 'string' || typeof body.hash !== 'string') {
    console.error(`${gateway}: ${a.code}: ${a.message}`);
    return exitForCode(a.code) || EXIT.refused;
  }
  process.stdout.write(
    `${hashHeader(gateway, body.hash)}\n${body.yaml}${body.yaml.endsWith('\n') ? '' : '\n'}`,
  );
  return EXIT.ok;
}
