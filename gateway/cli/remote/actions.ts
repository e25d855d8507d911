import type { Admin } from './admin.js';
import { EXIT, exitForCode } from './exit-codes.js';

/** `fieldgate remote ping GW`: the round trip and the gateway's uptime. */
export async function pingCommand(admin: Admin, gateway: string): Promise<number> {
  const t0 = performance.now();
  const a = await admin.request(gateway, 'ping');
  const ms = Math.round(performance.now() - t0);
  if (a.code !== 'ok') {
    console.error(`${gateway}: ${a.code}: ${a.message}`);
    return exitForCode(a.code) || EXIT.refused;
  }
  const uptime = (a.body as { uptime_s?: unknown } | undefined)?.uptime_s;
  console.log(`${gateway}: answered in ${ms} ms${typeof uptime === 'number' ? `, up ${uptime} s` : ''}`);
  return EXIT.ok;
}

/** `fieldgate remote restart GW`: the gateway answers, then restarts cleanly. */
export async function restartCommand(admin: Admin, gateway: string): Promise<number> {
  const a = await admin.request(gateway, 'restart');
  if (a.code !== 'ok') {
    console.error(`${gateway}: ${a.code}: ${a.message}`);
    return exitForCode(a.code) || EXIT.refused;
  }
  console.log(`${gateway}: restarting${a.message ? ` (${a.message})` : ''}`);
  return EXIT.ok;
}

/**
 * `fieldgate remote request GW NAME [JSON]`: any request of the wire contract (rules/reload,
 * queue/retry, queue/purge-dead, log_level/set, …) with its JSON arguments; prints the whole answer.
 */
export async function requestCommand(
  admin: Admin,
  gateway: string,
  name: string,
  json: string | undefined,
): Promise<number> {
  let args: Record<string, unknown> = {};
  if (json !== undefined) {
    let v: unknown;
    try {
      v = JSON.parse(json);
    } catch (err) {
      console.error(`arguments: not JSON: ${(err as Error).message}`);
      return EXIT.usage;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      console.error('arguments: a JSON object, e.g. {"count": 3}');
      return EXIT.usage;
    }
    args = v as Record<string, unknown>;
  }
  if (!/^[a-z_]+(\/[a-z_-]+)*$/.test(name)) {
    console.error(`not a request name: ${JSON.stringify(name)} (e.g. rules/reload)`);
    return EXIT.usage;
  }
  const a = await admin.request(gateway, name, args);
  console.log(JSON.stringify(a, null, 2));
  return exitForCode(a.code);
}
