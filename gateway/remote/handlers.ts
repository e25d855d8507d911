import { purgeSetAsideExpecting, retrySetAside } from '../store/inspect.js';
import { prepareChange } from './config-set.js';
import { redactYaml } from './redact.js';
import type { ChangeState } from './records.js';
import type { AdminRequest } from './request.js';
import { confirmChange } from './start-config.js';
import { logLevelSet, logsOf } from './log-requests.js';
import type { Handled, HandlerContext } from './context.js';

export type { Handled, HandlerContext } from './context.js';

type Handler = (req: AdminRequest, ctx: HandlerContext) => Promise<Handled> | Handled;

const ok = (message: string, body?: unknown): Handled => ({ answer: { code: 'ok', message, body } });

export const handlers: Record<string, Handler> = {
  ping: () => ok('pong', { uptime_s: Math.round(process.uptime()) }),
  info: (_r, ctx) => ok('info', ctx.info()),
  'config/get': (_r, ctx) =>
    ok('running config', { yaml: redactYaml(ctx.running.text), hash: ctx.running.hash }),
  'config/set': configSet,
  logs: (req, ctx) => logsOf(req, ctx.tail),
  'log_level/set': (req, ctx) => logLevelSet(req, ctx),
  restart: (req, ctx) => {
    ctx.audit({ request: 'restart', actor: req.actor, result: 'ok', at: new Date().toISOString() });
    return {
      answer: { code: 'ok', message: 'restarting' },
      after: () => ctx.restart(`requested by ${req.actor}`),
    };
  },
  'rules/reload': async (req, ctx) => {
    await ctx.reloadRules();
    ctx.audit({ request: 'rules/reload', actor: req.actor, result: 'ok', at: new Date().toISOString() });
    return ok('reloaded (as SIGHUP)');
  },
  'queue/retry': (req, ctx) => {
    const requeued = retrySetAside(ctx.config().gateway.state_dir);
    ctx.audit({
      request: 'queue/retry',
      actor: req.actor,
      result: `ok: ${requeued} requeued`,
      at: new Date().toISOString(),
    });
    return ok(`${requeued} set-aside rows back in the outbox`, { requeued });
  },
  'queue/purge-dead': (req, ctx) => {
    const count = req.args.count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0)
      return {
        answer: {
          code: 'refused',
          message: 'count: the number of set-aside rows you expect to remove',
          body: { argument: 'count' },
        },
      };
    const r = purgeSetAsideExpecting(ctx.config().gateway.state_dir, count);
    if ('count' in r)
      return {
        answer: {
          code: 'refused',
          message: `there are ${r.count} set-aside rows, not ${count}: nothing removed`,
          body: { count: r.count },
        },
      };
    ctx.audit({
      request: 'queue/purge-dead',
      actor: req.actor,
      result: `ok: ${r.purged} purged`,
      at: new Date().toISOString(),
    });
    return ok(`${r.purged} set-aside rows removed`, { purged: r.purged });
  },
};

async function configSet(req: AdminRequest, ctx: HandlerContext): Promise<Handled> {
  const prepared = prepareChange(req, ctx.running);
  if ('code' in prepared) {
    if (prepared.code === 'invalid' || prepared.code === 'refused' || prepared.code === 'conflict')
      ctx.audit({
        request: 'config/set',
        actor: req.actor,
        user_properties: req.userProperties,
        result: prepared.code,
        reason: prepared.message.split('\n')[0],
        at: new Date().toISOString(),
      });
    return { answer: prepared };
  }
  const { pending, next, text } = prepared;
  const { store, running } = ctx;
  const inPlace = store.file === running.seedFile;
  store.write(text, running.text, pending, ctx.seedText, inPlace);
  const state: ChangeState = {
    change_id: pending.change_id,
    state: 'pending',
    hash: pending.hash,
    previous_hash: pending.previous_hash,
    at: pending.at,
    actor: pending.actor,
  };
  const body = {
    change_id: pending.change_id,
    hash: pending.hash,
    previous_hash: pending.previous_hash,
    apply: pending.apply,
    confirm_by_s: pending.apply === 'hot' ? 0 : Math.round(pending.confirm_within_ms / 1000),
  };
  ctx.audit({
    request: 'config/set',
    actor: req.actor,
    user_properties: req.userProperties,
    change_id: pending.change_id,
    result: 'applying',
    hash: pending.hash,
    previous_hash: pending.previous_hash,
    diff: pending.diff,
    at: pending.at,
  });
  if (pending.apply === 'hot') {
    ctx.applyHot(next, text, pending.hash);
    confirmChange(store, pending, ctx.logger);
    const confirmed = store.last()!;
    await ctx.publishChange(confirmed);
    store.saveLast({ ...confirmed, reported: true });
    ctx.audit({
      request: 'config/set',
      actor: req.actor,
      change_id: pending.change_id,
      result: 'confirmed',
      reason: 'applied hot',
      hash: pending.hash,
      previous_hash: pending.previous_hash,
      at: confirmed.at,
    });
    await ctx.publishInfo();
    return { answer: { code: 'ok', message: 'applied hot (no restart); confirmed', body } };
  }
  await ctx.publishChange(state);
  return {
    answer: { code: 'pending', message: 'applied; restarting; awaiting confirmation', body },
    after: () => ctx.restart(`config change ${pending.change_id}`),
  };
}
