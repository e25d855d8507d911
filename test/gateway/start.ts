import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { configChecks } from '../../gateway/config/checks.js';
import { loadConfig } from '../../gateway/config/load.js';
import { Gateway } from '../../gateway/gateway.js';
import type { LogLine } from '../harness/gateway-process.js';
import { tmpDir } from '../harness/tmp.js';

/** A whole gateway in this process, from YAML text, with its log lines collected. */
export async function startGateway(
  yaml: string,
): Promise<{ gateway: Gateway; logs: LogLine[]; file: string }> {
  const dir = tmpDir('fieldgate-gw-');
  const file = join(dir, 'fieldgate.yaml');
  writeFileSync(file, yaml);
  const config = loadConfig(file, {}, configChecks);
  const logs: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const gateway = new Gateway({ config, logger, configFile: file });
  await gateway.start();
  return { gateway, logs, file };
}
