import { TOPIC_PROBLEM_TEXT, topicNameProblem } from '../contracts/topic.js';
import type { ConfigPath, Problems } from './errors.js';

/**
 * Text templates: `site/{gateway}/{device}/temperature`.
 *
 * A placeholder is `{name}` or `{fields.a.b}`; any other brace text is literal, so a fixed JSON
 * payload like `{"fan":"on"}` needs no escaping. Names are checked at compile time against the scope
 * (an unknown one is a compile error, never an empty string at run time). Payload fields are always
 * spelled `{fields.temp}`: the engine cannot know field names at compile time, and a bare `{temp}`
 * would be ambiguous with wildcard captures.
 */
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\}/g;

export interface TemplateContext {
  /** Plain names: captures, device, gateway, source, topic, payload (raw text)... */
  vars: Readonly<Record<string, string | undefined>>;
  /** Decoded payload fields, for {fields.x}. */
  fields: Readonly<Record<string, unknown>>;
}

/** `unsafe`: the value of `missing` is there but may not stand in a topic (see TopicValues). */
export type Rendered = { ok: true; text: string } | { ok: false; missing: string; unsafe?: true };

/**
 * Rendering a topic or a device id (which ends up in topics): placeholder values carry data, not
 * structure, so one containing '/', '+', '#' or NUL is refused rather than adding levels or
 * wildcards (`{payload}` = `x/../other-device`). Names in `spans` may contain '/': a `#rest` capture
 * and `{topic}` were matched as whole topics.
 */
export interface TopicValues {
  spans: ReadonlySet<string>;
}

export interface Template {
  readonly source: string;
  /** The text when the template has no placeholder: the caller need not build a context. */
  readonly constant?: string;
  render(ctx: TemplateContext, topic?: TopicValues): Rendered;
}

/** Why a render failed, for logs and command results. */
export function renderProblem(r: { missing: string; unsafe?: true }): string {
  return r.unsafe
    ? `{${r.missing}} has '/', '+', '#' or NUL in its value: refused (a value may not add topic levels or wildcards)`
    : `{${r.missing}} has no value`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is one of the characters refused
const STRUCTURE = /[/+#\u0000]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is one of the characters refused
const WILDCARD = /[+#\u0000]/;

type Part = string | { name: string } | { field: string[]; label: string };

/** Compile against `scope` (allowed plain names; `fields.*` is allowed when scope has 'fields'). */
export function compileTemplate(
  source: string,
  scope: ReadonlySet<string>,
  problems: Problems,
  path: ConfigPath,
): Template | undefined {
  const parts: Part[] = [];
  let last = 0;
  let bad = false;
  for (const m of source.matchAll(PLACEHOLDER)) {
    parts.push(source.slice(last, m.index));
    last = m.index + m[0].length;
    const [head, ...rest] = m[1]!.split('.');
    if (head === 'fields' && rest.length && scope.has('fields')) {
      parts.push({ field: rest, label: m[1]! });
    } else if (rest.length === 0 && head !== 'fields' && scope.has(head!)) {
      parts.push({ name: head! });
    } else {
      bad = true;
      const known = [...scope].filter((n) => n !== 'fields').map((n) => `{${n}}`);
      if (scope.has('fields')) known.push('{fields.<name>}');
      problems.add(path, `unknown placeholder ${m[0]} in "${source}" (known: ${known.join(', ')})`);
    }
  }
  parts.push(source.slice(last));
  if (bad) return undefined;
  const constant = parts.length === 1 ? (parts[0] as string) : undefined;
  return {
    source,
    ...(constant !== undefined && { constant }),
    render: (ctx, topic) => render(parts, ctx, topic),
  };
}

function render(parts: Part[], ctx: TemplateContext, topic?: TopicValues): Rendered {
  let text = '';
  for (const part of parts) {
    if (typeof part === 'string') {
      text += part;
    } else if ('name' in part) {
      const v = ctx.vars[part.name];
      if (v === undefined) return { ok: false, missing: part.name };
      if (topic && (topic.spans.has(part.name) ? WILDCARD : STRUCTURE).test(v))
        return { ok: false, missing: part.name, unsafe: true };
      text += v;
    } else {
      const v = dig(ctx.fields, part.field);
      if (v === undefined || v === null) return { ok: false, missing: part.label };
      const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
      if (topic && STRUCTURE.test(s)) return { ok: false, missing: part.label, unsafe: true };
      text += s;
    }
  }
  return { ok: true, text };
}

function dig(obj: unknown, path: string[]): unknown {
  let v = obj;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * A topic template's fixed text must make a valid topic name whatever the placeholders render to:
 * `site/#/{device}` or a control character in the YAML is a config error (with its line), not a
 * message refused at run time. Placeholder values are checked per message by ingest.
 */
export function checkTopicTemplate(source: string, problems: Problems, path: ConfigPath): void {
  if (source === '') return; // an empty default_route prefix: nothing fixed to check
  const problem = topicNameProblem(source.replace(PLACEHOLDER, 'x'));
  if (problem) problems.add(path, `topic template ${JSON.stringify(source)} ${TOPIC_PROBLEM_TEXT[problem]}`);
}
