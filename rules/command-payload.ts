import type { ConfigPath, Problems } from './errors.js';
import { compileExpression, errorMessage, type Expression } from './expression.js';
import { encodePayload } from './input.js';
import { compileTemplate, type Template, type TemplateContext } from './template.js';

/** How a command/trigger builds its device payload: a text template, a JSONata transform, or neither. */
export interface PayloadBuilder {
  build(
    input: unknown,
    ctx: TemplateContext,
  ): Promise<{ ok: true; payload: Buffer | undefined } | { ok: false; error: string }>;
}

/** `payload` (template) and `transform` (JSONata) are alternatives; `required` when there is no default. */
export function compilePayload(
  cfg: { payload?: string; transform?: string },
  scope: ReadonlySet<string>,
  problems: Problems,
  at: ConfigPath,
  required: boolean,
): PayloadBuilder | undefined {
  if (cfg.payload !== undefined && cfg.transform !== undefined) {
    problems.add([...at, 'transform'], 'give either payload (a template) or transform (JSONata), not both');
    return undefined;
  }
  if (cfg.payload !== undefined) {
    const t = compileTemplate(cfg.payload, scope, problems, [...at, 'payload']);
    return t && templateBuilder(t);
  }
  if (cfg.transform !== undefined) {
    const e = compileExpression(cfg.transform, problems, [...at, 'transform']);
    return e && expressionBuilder(e);
  }
  if (required) problems.add([...at, 'payload'], 'required: a payload template or a transform expression');
  return { build: async () => ({ ok: true, payload: undefined }) };
}

function templateBuilder(t: Template): PayloadBuilder {
  return {
    build: async (_input, ctx) => {
      const r = t.render(ctx);
      return r.ok
        ? { ok: true, payload: Buffer.from(r.text, 'utf8') }
        : { ok: false, error: `{${r.missing}} has no value` };
    },
  };
}

function expressionBuilder(e: Expression): PayloadBuilder {
  return {
    build: async (input) => {
      try {
        const out = await e.evaluate(input);
        return out === undefined
          ? { ok: false, error: 'transform produced nothing' }
          : { ok: true, payload: encodePayload(out) };
      } catch (err) {
        return { ok: false, error: `transform failed: ${errorMessage(err)}` };
      }
    },
  };
}
