import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { checkReport } from '../config/check-report.js';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { applyKind } from './apply-kind.js';
import { bootMs } from './boot-clock.js';
import { type Change, configDiff } from './diff.js';
import { configHash } from './hash.js';
import { mergePatch } from './merge-patch.js';
import type { PendingChange } from './records.js';
import { restoreRedacted, restoreRedactedYaml } from './redact.js';
import type { Answer, AdminRequest } from './request.js';
import { parseAsSeed } from './start-config.js';

/** The config running now, as remote management knows it. */
export interface Running {
  config: Config;
  text: string;
  hash: string;
  seedFile: string;
}

/** A validated change, ready to be written and applied. */
export interface PreparedChange {
  next: Config;
  text: string;
  pending: PendingChange;
  diff: Change[];
}

/**
 * config/set up to the point of writing: build the new text (a whole YAML, or a merge patch on the
 * running one), put back secrets sent as `<redacted>`, validate exactly as `fieldgate check` does,
 * refuse what would cut the gateway off its data or its management. An answer means: stop here.
 */
export function prepareChange(req: AdminRequest, running: Running): Answer | PreparedChange {
  const { yaml, patch, if_match: ifMatch, dry_run: dryRun } = req.args;
  if (ifMatch !== undefined && ifMatch !== running.hash)
    return {
      code: 'conflict',
      message: `if_match ${String(ifMatch)} is not the running config (${running.hash})`,
      body: { hash: running.hash },
    };
  const runningRaw: unknown = parseYaml(running.text) ?? {};
  let text: string;
  if (typeof yaml === 'string' && patch === undefined) text = restoreRedactedYaml(yaml, runningRaw);
  else if (
    patch !== undefined &&
    yaml === undefined &&
    typeof patch === 'object' &&
    patch !== null &&
    !Array.isArray(patch)
  )
    text = stringifyYaml(mergePatch(runningRaw, restoreRedacted(patch, runningRaw)));
  else
    return {
      code: 'refused',
      message: 'config/set takes either yaml (a string) or patch (an object)',
      body: { arguments: ['yaml', 'patch'] },
    };

  let next: Config;
  try {
    next = parseAsSeed(text, running.seedFile);
  } catch (err) {
    if (err instanceof ConfigError) return { code: 'invalid', message: checkReport(err) };
    throw err;
  }
  const cutOff = cutsOff(running.config, next);
  if (cutOff) return { code: 'refused', message: cutOff, body: { reason: 'not_remotely' } };
  const hash = configHash(text);
  const diff = configDiff(runningRaw, parseYaml(text) ?? {});
  if (hash === running.hash)
    return { code: 'ok', message: 'no change: it is the running config', body: { hash, apply: 'none' } };
  const apply = applyKind(running.config, next);
  if (dryRun === true)
    return {
      code: 'ok',
      message: 'valid (dry run: nothing written)',
      body: { hash, previous_hash: running.hash, apply, diff },
    };
  const within = running.config.remote.confirm_within;
  const now = bootMs();
  const pending: PendingChange = {
    change_id: randomUUID(),
    hash,
    previous_hash: running.hash,
    actor: req.actor,
    at: new Date().toISOString(),
    apply,
    confirm_within_ms: within,
    written_boot_ms: now,
    deadline_boot_ms: now + within,
    starts: 0,
    state: 'pending',
    diff,
    user_properties: req.userProperties,
  };
  return { next, text, pending, diff };
}

/**
 * Changes that must be made locally: a new state_dir would leave the outbox, inbox and sessions
 * behind; moving remote.config_file or turning remote management off cuts the gateway off from it.
 */
function cutsOff(running: Config, next: Config): string | undefined {
  if (resolve(next.gateway.state_dir) !== resolve(running.gateway.state_dir))
    return 'gateway.state_dir cannot be changed remotely (the outbox, inbox and device sessions live there): change it on the gateway';
  if (!next.remote.enabled)
    return 'remote.enabled: false cannot be set remotely (it would end remote management): change it on the gateway';
  if (next.remote.config_file !== running.remote.config_file)
    return 'remote.config_file cannot be changed remotely: change it on the gateway';
  return undefined;
}
