import { createRequire } from 'node:module';
import type jsonata from 'jsonata';
import type { ConfigPath, Problems } from './errors.js';
import { ExpressionSandbox } from './expression-sandbox.js';

const require = createRequire(import.meta.url);
let jsonataLib: typeof jsonata | undefined;
/** Loaded on the first expression (syntax check at load): rules without one never pay its ~6 MiB of RSS. */
function compile(source: string): jsonata.Expression {
  jsonataLib ??= require('jsonata') as typeof jsonata;
  return jsonataLib(source);
}

/**
 * Every evaluation runs in a child process (expression-sandbox.ts): a runaway expression (deep recursion, an
 * endless loop, a payload-sized allocation) fails after MAX_MS or at its heap limit, whatever its
 * shape, and the gateway carries on. JSONata's own guard (time and depth, counted on every step of
 * the whole evaluation) fails most of them inside the child first, without a restart.
 */
const MAX_MS = 250;
const MAX_DEPTH = 500;
const HEAP_MB = 32;
let sandbox: ExpressionSandbox | undefined;

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
  try {
    compile(source);
  } catch (err) {
    const e = err as { message?: string; position?: number };
    const at = typeof e.position === 'number' ? ` (at character ${e.position})` : '';
    problems.add(path, `JSONata: ${e.message ?? String(err)}${at}`);
    return undefined;
  }
  sandbox ??= new ExpressionSandbox({ maxMs: MAX_MS, maxDepth: MAX_DEPTH, heapMb: HEAP_MB });
  const box = sandbox;
  const key = box.register(source);
  return { source, evaluate: (input) => box.evaluate(key, input) };
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
