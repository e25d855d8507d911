import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { type Config, configSchema } from './schema.js';

/** One problem in a config file, pointing at the key and line a user must fix. */
export interface ConfigProblem {
  path: string;
  line: number | null;
  message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem(s)\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`,
    );
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.line ? `line ${p.line}: ` : ''}${p.path || '(top level)'}: ${p.message}`;
}

/** Environment variables that override secrets in the file. */
const ENV_SECRETS: [string, (raw: Record<string, unknown>, v: string) => void][] = [
  ['FIELDGATE_UPSTREAM_PASSWORD', (raw, v) => setIn(raw, ['upstream', 'password'], v)],
  ['FIELDGATE_UPSTREAM_USERNAME', (raw, v) => setIn(raw, ['upstream', 'username'], v)],
];

function setIn(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) return;
    o = o[k] as Record<string, unknown>;
  }
  o[path.at(-1)!] = value;
}

/** A check beyond the schema (e.g. rules compile), reporting problems by key path. */
export type SemanticCheck = (config: Partial<Config>) => { path: (string | number)[]; message: string }[];

/** Read, parse and validate a config file. Throws ConfigError listing every problem. */
export function loadConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  checks: SemanticCheck[] = [],
): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [
      { path: '', line: null, message: `cannot read: ${(err as Error).message}` },
    ]);
  }
  return parseConfig(text, file, env, checks);
}

export function parseConfig(
  text: string,
  file = '<config>',
  env: NodeJS.ProcessEnv = process.env,
  checks: SemanticCheck[] = [],
): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = doc.errors.map((e) => ({
    path: '',
    line: lines.linePos(e.pos[0]).line,
    message: `YAML: ${e.message.split('\n')[0]}`,
  }));
  if (problems.length) throw new ConfigError(file, problems);

  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  for (const [name, apply] of ENV_SECRETS) {
    const v = env[name];
    if (v !== undefined) apply(raw, v);
  }

  const result = configSchema.safeParse(raw, { reportInput: true });
  if (result.success) resolveFiles(result.data, dirname(resolve(file)), doc, lines, problems);
  else problems.push(...result.error.issues.flatMap((i) => toProblems(i, doc, lines)));
  // Semantic checks run even when other sections are wrong, so one `check` shows every mistake.
  const sections = result.success ? result.data : validSections(raw);
  for (const check of checks) {
    for (const p of check(sections)) {
      const path = p.path.map(String);
      problems.push({ path: path.join('.'), line: lineOf(doc, lines, path), message: p.message });
    }
  }
  if (problems.length || !result.success) throw new ConfigError(file, problems);
  return result.data;
}

/** The sections that are valid on their own, for checks that can still run. */
function validSections(raw: Record<string, unknown>): Partial<Config> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(configSchema.shape)) {
    const r = (schema as z.ZodType).safeParse(raw[key]);
    if (r.success) out[key] = r.data;
  }
  return out as Partial<Config>;
}

/** Paths in the file are relative to the file; *_file secrets are read now so a missing one is a config error. */
function resolveFiles(
  config: Config,
  baseDir: string,
  doc: Document,
  lines: LineCounter,
  problems: ConfigProblem[],
) {
  const up = config.upstream;
  if (up.password_file && up.password === undefined) {
    const path = resolve(baseDir, up.password_file);
    try {
      up.password = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push({
        path: 'upstream.password_file',
        line: lineOf(doc, lines, ['upstream', 'password_file']),
        message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      });
    }
  }
  if (up.tls) {
    for (const k of ['ca', 'cert', 'key'] as const) {
      const p = up.tls[k];
      if (p) up.tls[k] = resolve(baseDir, p);
    }
  }
  // Read later (at start), but the path is the file's, not the working directory's.
  if (config.http.auth) config.http.auth.password_file = resolve(baseDir, config.http.auth.password_file);
  config.gateway.state_dir = resolve(baseDir, config.gateway.state_dir);
  config.gateway.clock_sync_file = resolve(baseDir, config.gateway.clock_sync_file);
}

function toProblems(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter): ConfigProblem[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => ({
      path: [...path, k].join('.'),
      line: lineOf(doc, lines, [...path, k], true),
      message: `unknown key "${k}" (typo?)`,
    }));
  }
  return [{ path: path.join('.'), line: lineOf(doc, lines, path), message: describe(issue) }];
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined)
    return `required, expected ${issue.expected}`;
  if (issue.code === 'invalid_union' && issue.input === undefined) return 'required';
  return issue.message;
}

/** Line of the value at `path` (or of its key), falling back to the nearest parent that exists. */
function lineOf(doc: Document, lines: LineCounter, path: string[], keyLine = false): number | null {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    const parent = n > 0 ? doc.getIn(sub.slice(0, -1), true) : doc.contents;
    if (n > 0 && isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && String(it.key.value) === String(sub.at(-1)));
      const node = keyLine || n < path.length ? pair?.key : (pair?.value ?? pair?.key);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) return lines.linePos(range[0]).line;
    } else if (n > 0 && isSeq(parent)) {
      const item = parent.items[Number(sub.at(-1))] as { range?: [number, number, number] } | undefined;
      if (item?.range) return lines.linePos(item.range[0]).line;
    } else if (n === 0) {
      const range = (doc.contents as { range?: [number, number, number] } | null)?.range;
      return range ? lines.linePos(range[0]).line : null;
    }
  }
  return null;
}
