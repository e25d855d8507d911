import { config as rxjsConfig } from 'rxjs';
import { ConfigError, loadConfig } from '../config/load.js';
import { configChecks, configWarnings } from '../config/checks.js';
import { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import { LogRing } from '../status/log-ring.js';

/** `fieldgate run`: start, then stop in reverse order on SIGTERM/SIGINT within the grace period. */
export async function runCommand(file: string, logLevel?: string): Promise<number> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(file, process.env, configChecks);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 78; // EX_CONFIG: systemd's Restart=on-failure still applies, the log says why
    }
    throw err;
  }
  const logRing = new LogRing();
  const logger = createLogger(logLevel ?? config.gateway.log_level, { ring: logRing });
  for (const w of configWarnings.flatMap((check) => check(config)))
    logger.warn({ path: w.path.join('.') }, `config: ${w.message}`);
  const gateway = new Gateway({ config, logger, configFile: file, logRing });

  process.on('uncaughtException', (err) => {
    // State may be inconsistent; the store makes a restart safe, so exit and let systemd restart us.
    logger.fatal({ err }, 'uncaught exception; exiting');
    process.exit(70);
  });
  // A subscriber that throws (a metrics or log listener) must not take the process down from an rxjs
  // timer: rxjs would rethrow it as an uncaught exception. Each part recovers its own sources.
  rxjsConfig.onUnhandledError = (err) => logger.error({ err }, 'error in an event listener (ignored)');
  process.on('unhandledRejection', (err) => {
    logger.error({ err }, 'unhandled promise rejection');
  });

  try {
    await gateway.start();
  } catch (err) {
    logger.fatal({ err }, 'gateway failed to start');
    await gateway.stop().catch(() => {});
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'stopping');
      const grace = setTimeout(() => {
        logger.error(
          { graceMs: config.gateway.stop_grace },
          'stop took longer than the grace period; exiting',
        );
        process.exit(1);
      }, config.gateway.stop_grace);
      grace.unref();
      gateway.stop().then(
        () => {
          logger.info('stopped');
          resolve(0);
        },
        (err) => {
          logger.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      gateway.reload(file).catch((err) => logger.error({ err }, 'reload failed; keeping the running config'));
    });
  });
}
