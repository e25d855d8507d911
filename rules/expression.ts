import { createRequire } from 'node:module';
import type jsonata from 'jsonata';
import type { ConfigPath, Problems } from './errors.js';

const require = createRequire(import.meta.url);
let jsonataLib: typeof jsonata | undefined;
/** Loaded on the first expression: rules without one never pay its ~6 MiB of RSS. */
function compile(source: string): jsonata.Expression {
  jsonataLib ??= require('jsonata') as typeof jsonata;
  return jsonataLib(source);
}

/** A runaway expression (deep recursion, endless loop) must not stall the gateway: fail it instead. */
const MAX_MS = 250;
const MAX_DEPTH = 500;
const GUARD = '__fieldgate_guard';

interface Guard {
  deadline: number;
  depth: number;
}

export interface Expression {
  readonly source: string;
  /** Resolves with the JSONata result (undefined when nothing matched); rejects on evaluation errors. */
  evaluate(input: unknown): Promise<unknown>;
}

/** Compile once at load. Syntax errors are recorded with the config path and the character position. */
export function compileExpression(
  source: string,
  problems: Problems,
  path: ConfigPath,
): Expression | undefined {
  let expr: jsonata.Expression;
  try {
    expr = compile(source);
  } catch (err) {
    const e = err as { message?: string; position?: number };
    const at = typeof e.position === 'number' ? ` (at character ${e.position})` : '';
    problems.add(path, `JSONata: ${e.message ?? String(err)}${at}`);
    return undefined;
  }
  // Hooks run on every evaluation step; the per-evaluation counters travel in a binding so
  // concurrent evaluations of the same expression do not share them.
  const check = (env: jsonata.Environment, delta: number) => {
    const g = env.lookup(GUARD) as Guard | undefined;
    if (!g || (env as { isParallelCall?: boolean }).isParallelCall) return;
    g.depth += delta;
    if (g.depth > MAX_DEPTH) throw new Error(`expression too deep (over ${MAX_DEPTH} levels)`);
    if (performance.now() > g.deadline) throw new Error(`expression took over ${MAX_MS} ms`);
  };
  expr.assign(
    Symbol.for('jsonata.__evaluate_entry') as unknown as string,
    (_e: unknown, _i: unknown, env: jsonata.Environment) => check(env, 1),
  );
  expr.assign(
    Symbol.for('jsonata.__evaluate_exit') as unknown as string,
    (_e: unknown, _i: unknown, env: jsonata.Environment) => check(env, -1),
  );
  return {
    source,
    evaluate: (input) =>
      expr.evaluate(input, { [GUARD]: { deadline: performance.now() + MAX_MS, depth: 0 } satisfies Guard }),
  };
}

/** JSONata's $boolean(): false, 0, '', null, undefined, [], {} and functions are false. */
export function isTruthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(isTruthy);
  if (typeof v === 'function') return false;
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err)
    return String((err as { message: unknown }).message);
  return String(err);
}
