import type { LogEvent, LogRing } from '../status/log-ring.js';
import { wallOf } from '../../contracts/clock.js';
import type { Handled, HandlerContext } from './context.js';
import type { AdminRequest } from './request.js';

const ORDER: LogEvent['level'][] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const MAX_LINES = 1000;
const MAX_EXPIRY_S = 86_400;

/** `logs`: the newest `lines` events at `level` or above, oldest first. */
export function logsOf(req: AdminRequest, tail: LogRing | undefined): Handled {
  const lines = req.args.lines ?? 100;
  const level = req.args.level ?? 'info';
  if (typeof lines !== 'number' || !Number.isInteger(lines) || lines < 1 || lines > MAX_LINES)
    return { answer: { code: 'refused', message: `lines: 1 to ${MAX_LINES}`, body: { argument: 'lines' } } };
  if (typeof level !== 'string' || !ORDER.includes(level as LogEvent['level']))
    return {
      answer: { code: 'refused', message: `level: one of ${ORDER.join(', ')}`, body: { argument: 'level' } },
    };
  const least = ORDER.indexOf(level as LogEvent['level']);
  const events = (tail?.recent() ?? [])
    .filter((e) => ORDER.indexOf(e.level) >= least)
    .slice(0, lines)
    .reverse()
    .map((e) => ({ ...e, time: new Date(wallOf(e.time)).toISOString() }));
  return { answer: { code: 'ok', message: `${events.length} events`, body: { events } } };
}

let revertTimer: NodeJS.Timeout | undefined;

/**
 * The gateway that set a temporary level stops (an in-process restart): the next one starts at its
 * own config's level, and a revert left over would later set the old config's.
 */
export function cancelLogLevelRevert(): void {
  clearTimeout(revertTimer);
  revertTimer = undefined;
}

/** `log_level/set`: a level that reverts to gateway.log_level by itself. */
export function logLevelSet(req: AdminRequest, ctx: HandlerContext): Handled {
  const { level } = req.args;
  const expires = req.args.expires_in_s ?? 600;
  if (typeof level !== 'string' || !['fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(level))
    return {
      answer: {
        code: 'refused',
        message: 'level: fatal, error, warn, info, debug or trace',
        body: { argument: 'level' },
      },
    };
  if (typeof expires !== 'number' || !(expires > 0) || expires > MAX_EXPIRY_S)
    return {
      answer: {
        code: 'refused',
        message: `expires_in_s: 1 to ${MAX_EXPIRY_S}`,
        body: { argument: 'expires_in_s' },
      },
    };
  ctx.setLogLevel(level);
  clearTimeout(revertTimer);
  revertTimer = setTimeout(() => {
    const back = ctx.config().gateway.log_level;
    ctx.setLogLevel(back);
    ctx.logger.info({ level: back }, 'remote: log level reverted');
  }, expires * 1000);
  revertTimer.unref();
  const revertsAt = new Date(Date.now() + expires * 1000).toISOString();
  ctx.audit({
    request: 'log_level/set',
    actor: req.actor,
    result: `ok: ${level} until ${revertsAt}`,
    at: new Date().toISOString(),
  });
  return {
    answer: {
      code: 'ok',
      message: `log level ${level} for ${expires} s`,
      body: { level, reverts_at: revertsAt },
    },
  };
}
