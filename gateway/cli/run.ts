import { config as rxjsConfig } from 'rxjs';
import { ConfigError } from '../config/load.js';
import { configWarnings } from '../config/checks.js';
import { Gateway } from '../gateway.js';
import { createLogger, type Logger } from '../log.js';
import { resolveStartConfig, rollBack, type StartConfig } from '../remote/start-config.js';
import { LogRing } from '../status/log-ring.js';

/** Events kept for remote management's `logs` request (everything logged, info and up by default). */
const TAIL_SIZE = 1000;

/**
 * `fieldgate run`: start, then stop in reverse order on SIGTERM/SIGINT within the grace period.
 * A restart asked for by remote management (a config change, a rollback, `restart`) stops the
 * gateway fully and starts a new one with the config then on disk, in this process: the same with
 * and without systemd, and nothing of the old gateway (ports, sockets, the store) outlives its stop.
 */
export async function runCommand(file: string, logLevel?: string): Promise<number> {
  const logRing = new LogRing();
  const tail = new LogRing(TAIL_SIZE, 10);
  let logger: Logger | undefined;
  let start: StartConfig;
  try {
    // The log level comes from the config; until then a logger at info reads the remote state.
    logger = createLogger(logLevel ?? 'info', { ring: logRing, tail });
    start = resolveStartConfig(file, logger);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 78; // EX_CONFIG: systemd's Restart=on-failure still applies, the log says why
    }
    throw err;
  }
  logger.level = logLevel ?? start.config.gateway.log_level;
  const log = logger;

  process.on('uncaughtException', (err) => {
    // State may be inconsistent; the store makes a restart safe, so exit and let systemd restart us.
    log.fatal({ err }, 'uncaught exception; exiting');
    process.exit(70);
  });
  // A subscriber that throws (a metrics or log listener) must not take the process down from an rxjs
  // timer: rxjs would rethrow it as an uncaught exception. Each part recovers its own sources.
  rxjsConfig.onUnhandledError = (err) => log.error({ err }, 'error in an event listener (ignored)');
  process.on('unhandledRejection', (err) => {
    log.error({ err }, 'unhandled promise rejection');
  });

  let signal: ((name: string) => void) | undefined;
  let current: Gateway | undefined;
  let stopping = false;
  const onSignal = (name: string) => {
    if (stopping) {
      log.warn({ signal: name }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    signal?.(name);
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => {
    const g = current;
    if (!g) return;
    const reloadFrom = start.source === 'remote' && start.store ? start.store.file : file;
    g.reload(reloadFrom).catch((err) => log.error({ err }, 'reload failed; keeping the running config'));
  });

  for (;;) {
    for (const w of configWarnings.flatMap((check) => check(start.config)))
      log.warn({ path: w.path.join('.') }, `config: ${w.message}`);
    let restart: ((why: string) => void) | undefined;
    const next = new Promise<{ kind: 'signal' | 'restart'; why: string }>((resolve) => {
      signal = (name) => resolve({ kind: 'signal', why: name });
      restart = (why) => resolve({ kind: 'restart', why });
    });
    const gateway = new Gateway({
      config: start.config,
      logger: log,
      configFile: file,
      logRing,
      remote: { start, tail, restart: (why) => restart?.(why) },
    });
    current = gateway;
    try {
      await gateway.start();
    } catch (err) {
      log.fatal({ err }, 'gateway failed to start');
      await gateway.stop().catch(() => {});
      // A config change that keeps the gateway from starting is rolled back at once.
      const pending = start.store?.pending();
      if (!stopping && start.store && pending?.state === 'pending') {
        rollBack(start.store, pending, `the gateway did not start with it: ${(err as Error).message}`, log);
        start = resolveStartConfig(file, log);
        continue;
      }
      return 1;
    }
    const { kind, why } = await next;
    const stopped = await stopWithin(gateway, log, start.config.gateway.stop_grace, why);
    current = undefined;
    if (kind === 'signal') return stopped;
    if (stopping) return stopped;
    try {
      start = resolveStartConfig(file, log);
    } catch (err) {
      log.fatal({ err }, 'config unreadable at restart');
      return err instanceof ConfigError ? 78 : 1;
    }
    log.level = logLevel ?? start.config.gateway.log_level;
    log.info({ why, hash: start.hash, source: start.source }, 'restarting the gateway in this process');
  }
}

async function stopWithin(gateway: Gateway, log: Logger, graceMs: number, why: string): Promise<number> {
  log.info({ why }, 'stopping');
  const grace = setTimeout(() => {
    log.error({ graceMs }, 'stop took longer than the grace period; exiting');
    process.exit(1);
  }, graceMs);
  grace.unref();
  try {
    await gateway.stop();
    log.info('stopped');
    return 0;
  } catch (err) {
    log.error({ err }, 'error while stopping');
    return 1;
  } finally {
    clearTimeout(grace);
  }
}
