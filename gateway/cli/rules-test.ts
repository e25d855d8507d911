import { compileRules, dryRun, formatDryRun } from '../../rules/index.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { configChecks } from '../config/checks.js';

interface RulesTestOptions {
  config: string;
  source: string;
  device?: string;
  topic: string;
  payload: string;
  upstream?: boolean;
}

/** `fieldgate rules test`: run one reading or upstream message through freshly compiled rules. */
export async function rulesTestCommand(opts: RulesTestOptions): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(opts.config, process.env, configChecks);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    return 1;
  }
  const engine = compileRules(config, { gatewayId: config.gateway.id });
  const result = await dryRun(
    engine,
    opts.upstream
      ? { direction: 'downlink', topic: opts.topic, payload: opts.payload }
      : { source: opts.source, topic: opts.topic, payload: opts.payload, device: opts.device },
  );
  console.log(formatDryRun(result));
  return result.errors.length ? 1 : 0;
}
