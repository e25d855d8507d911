import { readFileSync } from 'node:fs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { mergePatch } from '../../remote/merge-patch.js';
import type { SemanticCheck } from '../../config/load.js';
import type { Admin } from './admin.js';
import { headerHash, withoutHeader } from './config-header.js';
import { type DiffLine, diffLines, formatDiff, hasChanges } from './diff.js';
import { awaitOutcome, type ChangeState } from './change-outcome.js';
import { EXIT, exitForCode } from './exit-codes.js';
import { parsePatch, validLocally } from './local-check.js';

export interface ConfigSetOptions {
  /** Send with dry_run: the gateway validates and answers, and changes nothing. */
  dryRun?: boolean;
  /** Use the running config's hash as if_match even when the file names another. */
  force?: boolean;
  /** A JSON merge patch (RFC 7396) file to apply to the running config, instead of a whole YAML. */
  patch?: string;
}

/** Beyond remote.confirm_within: a restart, a reconnect, the change state reaching us. */
const CONFIRM_SLACK_MS = 30_000;

/**
 * `fieldgate remote config set GW f.yaml` (or `--patch p.json`): validate here with `fieldgate
 * check`'s checker, show the diff against the running config, send it with if_match, and print
 * each step until the gateway says confirmed, refused or rolled back. Exit codes in exit-codes.ts.
 */
export async function configSetCommand(
  admin: Admin,
  gateway: string,
  file: string | undefined,
  opts: ConfigSetOptions,
  checks: SemanticCheck[],
): Promise<number> {
  if ((file === undefined) === (opts.patch === undefined)) {
    console.error('fieldgate remote config set: give either a whole YAML file or --patch <file.json>');
    return EXIT.usage;
  }
  const source = file ?? opts.patch!;
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    console.error(`${source}: cannot read: ${(err as NodeJS.ErrnoException).code ?? err}`);
    return EXIT.usage;
  }
  let patch: Record<string, unknown> | undefined;
  if (opts.patch !== undefined) {
    patch = parsePatch(text, source);
    if (!patch) return EXIT.usage;
  } else if (!validLocally(text, source, checks)) return EXIT.invalid;

  const running = await admin.request(gateway, 'config/get');
  const cur = running.body as { yaml?: unknown; hash?: unknown } | undefined;
  if (running.code !== 'ok' || typeof cur?.yaml !== 'string' || typeof cur.hash !== 'string') {
    console.error(`${gateway}: config/get: ${running.code}: ${running.message}`);
    return exitForCode(running.code) || EXIT.refused;
  }
  let diff: DiffLine[];
  if (patch) {
    // The patch on the running config, as the gateway will apply it, checked here first; both sides
    // written out by the same YAML writer so the diff shows the change, not the formatting.
    const runningRaw: unknown = parseYaml(cur.yaml) ?? {};
    const next = stringifyYaml(mergePatch(runningRaw, patch));
    if (!validLocally(next, `${gateway} + ${source}`, checks)) return EXIT.invalid;
    diff = diffLines(stringifyYaml(runningRaw), next);
  } else diff = diffLines(cur.yaml, withoutHeader(text));
  if (!hasChanges(diff)) {
    console.log(`${gateway}: no change (${source} makes it the running config, hash ${cur.hash})`);
    return EXIT.ok;
  }
  console.log(`--- ${gateway} (running, hash ${cur.hash})\n+++ ${source}\n${formatDiff(diff)}`);

  // A whole file's header names the hash it was fetched at; a patch applies to what runs now.
  const base = opts.force || patch ? undefined : headerHash(text);
  const ifMatch = base ?? cur.hash;
  if (base !== undefined && base !== cur.hash)
    console.log(
      `note: ${source} was fetched at hash ${base}; ${gateway} now runs ${cur.hash} (--force to overwrite)`,
    );

  // Listen before sending: the outcome is published on the change topic, maybe before the answer.
  const changes: ChangeState[] = [];
  const stop = await admin.watchChanges(gateway, (m) => {
    try {
      changes.push(JSON.parse(m.payload.toString()) as ChangeState);
    } catch {
      // not a change state; nothing to follow
    }
  });
  try {
    console.log(`sent${opts.dryRun ? ' (dry run)' : ''}: config/set to ${gateway}, if_match ${ifMatch}`);
    const a = await admin.request(gateway, 'config/set', {
      ...(patch ? { patch } : { yaml: withoutHeader(text) }),
      if_match: ifMatch,
      ...(opts.dryRun && { dry_run: true }),
    });
    if (a.code === 'invalid') {
      console.log(`refused: invalid\n${a.message}`);
      return EXIT.invalid;
    }
    if (a.code !== 'ok' && a.code !== 'pending') {
      console.log(`refused: ${a.code}: ${a.message}`);
      return exitForCode(a.code);
    }
    const body = (a.body ?? {}) as {
      change_id?: string;
      hash?: string;
      apply?: string;
      confirm_by_s?: number;
    };
    if (a.code === 'ok') {
      // A dry run, no change (apply "none"), or applied hot and confirmed at once.
      if (opts.dryRun) console.log(`valid: ${a.message}`);
      else if (body.apply === 'hot')
        console.log(`applied (hot), hash ${body.hash ?? '?'}: ${a.message}\nconfirmed`);
      else console.log(`ok: ${a.message}`);
      return EXIT.ok;
    }
    const within = body.confirm_by_s !== undefined ? ` within ${body.confirm_by_s} s` : '';
    console.log(
      `applied (${body.apply ?? '?'}), hash ${body.hash ?? '?'}: ${a.message}; confirmed or rolled back${within}`,
    );
    return await awaitOutcome(
      gateway,
      body.change_id,
      changes,
      (body.confirm_by_s ?? 300) * 1000 + CONFIRM_SLACK_MS,
    );
  } finally {
    await stop();
  }
}
