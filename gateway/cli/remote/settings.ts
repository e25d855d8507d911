import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../../../contracts/units.js';
import { upstreamConfigSchema } from '../../upstream/config.js';
import type { OperatorSessionOptions } from '../../upstream/operator-session.js';

/**
 * The operator's file (`fieldgate remote -c operator.yaml`): the broker in the same shape as a
 * gateway's `upstream:` (the connection keys only), and `remote:` for the prefix, the actor name
 * and the answer timeout.
 */
export const operatorConfigSchema = z.strictObject({
  upstream: upstreamConfigSchema.pick({
    url: true,
    client_id: true,
    username: true,
    password: true,
    password_file: true,
    tls: true,
    protocol: true,
    keepalive: true,
    connect_timeout: true,
  }),
  remote: z
    .strictObject({
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'expected topic levels of letters, digits, _ or -')
        .default('fieldgate'),
      /** Who you are in the gateways' audit trail (default user@host). */
      actor: z.string().min(1).optional(),
      /** How long to wait for an answer. */
      timeout: z
        .union([z.number(), z.string()])
        .transform((v, ctx) => {
          const ms = parseDuration(v);
          if (ms === undefined || ms <= 0) {
            ctx.addIssue({
              code: 'custom',
              message: `expected a duration like 10s, got ${JSON.stringify(v)}`,
            });
            return z.NEVER;
          }
          return ms;
        })
        .default(10_000),
    })
    .prefault({}),
});

/** Flags shared by every `fieldgate remote` command (they override the file). */
export interface RemoteFlags {
  config?: string;
  url?: string[];
  username?: string;
  passwordFile?: string;
  ca?: string;
  prefix?: string;
  actor?: string;
  timeout?: string;
}

export interface RemoteSettings {
  session: OperatorSessionOptions;
  prefix: string;
  actor: string;
  timeoutMs: number;
}

/** Bad flags or operator file: the message says what to fix. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/**
 * Settings from, weakest first: the file (`--config` or FIELDGATE_REMOTE_CONFIG), the environment
 * (FIELDGATE_REMOTE_USERNAME, FIELDGATE_REMOTE_PASSWORD: secrets kept out of files and shell
 * history), then the flags.
 */
export function remoteSettings(flags: RemoteFlags, env: NodeJS.ProcessEnv = process.env): RemoteSettings {
  const file = flags.config ?? env.FIELDGATE_REMOTE_CONFIG;
  const raw: { upstream: Record<string, unknown>; remote?: Record<string, unknown> } = file
    ? readOperatorFile(file)
    : { upstream: {} };
  const up = raw.upstream;
  raw.remote ??= {};
  const remote = raw.remote;
  if (env.FIELDGATE_REMOTE_USERNAME !== undefined) up.username = env.FIELDGATE_REMOTE_USERNAME;
  if (env.FIELDGATE_REMOTE_PASSWORD !== undefined) up.password = env.FIELDGATE_REMOTE_PASSWORD;
  if (flags.url?.length) up.url = flags.url.length === 1 ? flags.url[0] : flags.url;
  if (flags.username !== undefined) up.username = flags.username;
  if (flags.passwordFile !== undefined) {
    up.password_file = resolve(flags.passwordFile);
    delete up.password;
  }
  if (flags.ca !== undefined) up.tls = { ...(up.tls as object | undefined), ca: resolve(flags.ca) };
  if (flags.prefix !== undefined) remote.prefix = flags.prefix;
  if (flags.actor !== undefined) remote.actor = flags.actor;
  if (flags.timeout !== undefined) remote.timeout = flags.timeout;
  if (up.url === undefined)
    throw new SettingsError('no broker: give --url mqtt://host:port or --config operator.yaml');

  const parsed = operatorConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new SettingsError(`${file ?? 'flags'}: ${problems.length} problem(s)\n${problems.join('\n')}`);
  }
  const c = parsed.data;
  const u = c.upstream;
  let password = u.password;
  if (u.password_file && password === undefined) {
    try {
      password = readFileSync(u.password_file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new SettingsError(
        `upstream.password_file: cannot read ${u.password_file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
  }
  return {
    session: {
      urls: typeof u.url === 'string' ? [u.url] : u.url,
      ...(u.username !== undefined && { username: u.username }),
      ...(password !== undefined && { password }),
      ...(u.tls && { tls: u.tls }),
      ...(u.client_id !== undefined && { clientId: u.client_id }),
      protocol: u.protocol,
      keepalive: u.keepalive,
      connectTimeoutMs: u.connect_timeout,
    },
    prefix: c.remote.prefix,
    actor: c.remote.actor ?? `${userInfo().username}@${hostname()}`,
    timeoutMs: c.remote.timeout,
  };
}

/** The file as YAML, with its relative paths made relative to the file (as a gateway's config does). */
function readOperatorFile(file: string): {
  upstream: Record<string, unknown>;
  remote?: Record<string, unknown>;
} {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SettingsError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let doc: unknown;
  try {
    doc = parse(text) ?? {};
  } catch (err) {
    throw new SettingsError(`${file}: YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new SettingsError(`${file}: expected a mapping with an upstream: section`);
  const raw = doc as { upstream?: unknown; remote?: Record<string, unknown> };
  if (typeof raw.upstream !== 'object' || raw.upstream === null)
    throw new SettingsError(`${file}: upstream: required (url, and username/password_file/tls as needed)`);
  const up = raw.upstream as Record<string, unknown>;
  const base = dirname(resolve(file));
  if (typeof up.password_file === 'string') up.password_file = resolve(base, up.password_file);
  const tls = up.tls as Record<string, unknown> | undefined;
  if (tls && typeof tls === 'object')
    for (const k of ['ca', 'cert', 'key'])
      if (typeof tls[k] === 'string') tls[k] = resolve(base, tls[k] as string);
  return raw as { upstream: Record<string, unknown>; remote?: Record<string, unknown> };
}
