import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { configChecks } from '../../gateway/config/checks.js';
import { loadConfig } from '../../gateway/config/load.js';
import { Gateway } from '../../gateway/gateway.js';
import { LogRing, logRingHooks } from '../../gateway/status/log-ring.js';
import type { LogLine } from '../harness/gateway-process.js';
import { tmpDir } from '../harness/tmp.js';

/** A whole gateway in this process, with its warnings tapped into a LogRing as `fieldgate run` does. */
export async function startStatusGateway(
  yaml: string,
  dir = tmpDir('fieldgate-status-'),
): Promise<{ gateway: Gateway; logs: LogLine[]; dir: string }> {
  const file = join(dir, 'fieldgate.yaml');
  writeFileSync(file, yaml);
  const config = loadConfig(file, {}, configChecks);
  const logs: LogLine[] = [];
  const logRing = new LogRing();
  const logger = pino(
    { level: 'debug', hooks: logRingHooks(logRing) },
    { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) },
  );
  const gateway = new Gateway({ config, logger, configFile: file, logRing });
  try {
    await gateway.start();
  } catch (err) {
    await gateway.stop(); // as `fieldgate run` does: release the store and the state dir lock
    throw err;
  }
  return { gateway, logs, dir };
}

export function httpBase(gateway: Gateway): string {
  const a = gateway.observability?.httpAddress();
  if (!a) throw new Error('http not listening');
  return `http://127.0.0.1:${a.port}`;
}
