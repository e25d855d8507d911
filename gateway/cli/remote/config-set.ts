import { readFileSync } from 'node:fs';
import { ConfigError, formatProblem, parseConfig, type SemanticCheck } from '../../config/load.js';
import type { Admin } from './admin.js';
import { headerHash, withoutHeader } from './config-header.js';
import { diffLines, formatDiff, hasChanges } from './diff.js';
import { EXIT, exitForCode } from './exit-codes.js';

export interface ConfigSetOptions {
  /** Send with dry_run: the gateway validates and answers, and changes nothing. */
  dryRun?: boolean;
  /** Use the running config's hash as if_match even when the file names another. */
  force?: boolean;
}

interface ChangeState {
  change_id?: string;
  state?: string;
  reason?: string;
}

/** Beyond remote.confirm_within: a restart, a reconnect, the change state reaching us. */
const CONFIRM_SLACK_MS = 30_000;

/**
 * `fieldgate remote config set GW f.yaml`: validate here with `fieldgate check`'s checker, show the
 * diff against the running config, send it with if_match, and print each step until the gateway
 * says confirmed, refused or rolled back. Exit codes in exit-codes.ts.
 */
export async function configSetCommand(
  admin: Admin,
  gateway: string,
  file: string,
  opts: ConfigSetOptions,
  checks: SemanticCheck[],
): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    console.error(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? err}`);
    return EXIT.usage;
  }
  if (!validLocally(text, file, checks)) return EXIT.invalid;

  const running = await admin.request(gateway, 'config/get');
  const cur = running.body as { yaml?: unknown; hash?: unknown } | undefined;
  if (running.code !== 'ok' || typeof cur?.yaml !== 'string' || typeof cur.hash !== 'string') {
    console.error(`${gateway}: config/get: ${running.code}: ${running.message}`);
    return exitForCode(running.code) || EXIT.refused;
  }
  const yaml = withoutHeader(text);
  const diff = diffLines(cur.yaml, yaml);
  if (!hasChanges(diff)) {
    console.log(`${gateway}: no change (the file is the running config, hash ${cur.hash})`);
    return EXIT.ok;
  }
  console.log(`--- ${gateway} (running, hash ${cur.hash})\n+++ ${file}\n${formatDiff(diff)}`);

  const base = opts.force ? undefined : headerHash(text);
  const ifMatch = base ?? cur.hash;
  if (base !== undefined && base !== cur.hash)
    console.log(
      `note: ${file} was fetched at hash ${base}; ${gateway} now runs ${cur.hash} (--force to overwrite)`,
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
      yaml,
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
      if (body.apply === 'hot' && !opts.dryRun) console.log(`applied (hot), hash ${body.hash ?? '?'}`);
      console.log(`${opts.dryRun ? 'valid' : body.apply === 'hot' ? 'confirmed' : 'ok'}: ${a.message}`);
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

/** Print each state of our change as it comes; the exit code of its final one. */
async function awaitOutcome(
  gateway: string,
  changeId: string | undefined,
  changes: ChangeState[],
  waitMs: number,
): Promise<number> {
  const deadline = Date.now() + waitMs;
  let seen = 0;
  let last = 'pending';
  while (Date.now() < deadline) {
    for (; seen < changes.length; seen++) {
      const c = changes[seen]!;
      if (changeId !== undefined && c.change_id !== changeId) continue;
      if (c.state === last) continue;
      last = c.state ?? '?';
      if (c.state === 'confirmed') {
        console.log(`confirmed: ${gateway} is connected and its adapters are up`);
        return EXIT.ok;
      }
      if (c.state === 'rolled_back' || c.state === 'failed') {
        console.log(`${c.state}: ${c.reason ?? 'no reason given'}`);
        return EXIT.rolledBack;
      }
      console.log(`${last}${c.reason ? `: ${c.reason}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log(
    `no outcome: ${gateway} published neither confirmed nor rolled_back within ${Math.round(waitMs / 1000)} s`,
  );
  return EXIT.noAnswer;
}

/**
 * `fieldgate check`'s checker on the file, here. What only exists on the gateway is not checked:
 * its environment (FIELDGATE_UPSTREAM_PASSWORD and the like) and the files a path names there.
 */
function validLocally(text: string, file: string, checks: SemanticCheck[]): boolean {
  try {
    parseConfig(text, file, {}, checks);
    return true;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const problems = err.problems.filter(
      (p) => !(p.path.endsWith('_file') && p.message.startsWith('cannot read')),
    );
    if (!problems.length) return true;
    console.error(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    for (const p of problems) console.error(`  ${formatProblem(p)}`);
    console.error('not sent: fix the file (`fieldgate check -c` prints the same)');
    return false;
  }
}
