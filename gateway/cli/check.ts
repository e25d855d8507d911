import { checkReport } from '../config/check-report.js';
import { ConfigError, loadConfig, type SemanticCheck } from '../config/load.js';

/** `fieldgate check`: print every problem with key path and line; exit code 1 when there is any. */
export function checkCommand(file: string, checks: SemanticCheck[], warnings: SemanticCheck[] = []): number {
  try {
    const config = loadConfig(file, process.env, checks);
    console.log(`${file}: OK`);
    for (const w of warnings.flatMap((check) => check(config)))
      console.error(`  warning: ${w.path.join('.')}: ${w.message}`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(checkReport(err));
    return 1;
  }
}
