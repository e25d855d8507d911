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
