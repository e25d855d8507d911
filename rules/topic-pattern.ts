import type { ConfigPath, Problems } from './errors.js';

/** Names the engine provides itself; a wildcard may not shadow them. `device` may (it usually is the device). */
const RESERVED = new Set(['gateway', 'source', 'topic', 'payload', 'fields']);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface TopicPattern {
  /** The pattern as written, {gateway} substituted. */
  readonly pattern: string;
  /** Plain MQTT filter (names stripped): what the gateway subscribes to upstream. */
  readonly filter: string;
  /** Names of the captures, in order. */
  readonly names: readonly string[];
  /** The `#name` capture, if any: its value spans levels (it may contain '/'). */
  readonly multiLevel?: string;
  /** Captures when the topic matches, else null. `#name` captures the rest joined by '/' ('' for none). */
  match(topic: string): Record<string, string> | null;
}

type Level = { kind: 'literal'; text: string } | { kind: '+' | '#'; name?: string };

/**
 * Compile a topic pattern with named wildcards: `sensors/+device/#rest`. Plain `+`/`#` match without
 * capturing. `{gateway}` is substituted now; any other `{...}` is an error (patterns are not templates).
 * Returns undefined (after recording problems) when the pattern is invalid.
 */
export function compileTopicPattern(
  raw: string,
  vars: { gateway: string },
  problems: Problems,
  path: ConfigPath,
): TopicPattern | undefined {
  const before = problems.list.length;
  const pattern = raw.replace(/\{([^}]*)\}/g, (all, name: string) => {
    if (name === 'gateway') return vars.gateway;
    problems.add(path, `unknown placeholder ${all} in topic pattern (only {gateway} is allowed)`);
    return all;
  });
  if (pattern === '') problems.add(path, 'empty topic pattern');
  const levels: Level[] = [];
  const names: string[] = [];
  const parts = pattern.split('/');
  parts.forEach((part, i) => {
    const wild = part[0];
    if (wild === '+' || wild === '#') {
      const name = part.slice(1) || undefined;
      if (wild === '#' && i !== parts.length - 1)
        problems.add(path, `"${part}" must be the last level of "${raw}"`);
      if (name !== undefined) {
        if (!NAME.test(name)) problems.add(path, `bad wildcard name "${part}" (letters, digits, _)`);
        else if (RESERVED.has(name))
          problems.add(path, `wildcard name "${name}" is reserved (${[...RESERVED].join(', ')})`);
        else if (names.includes(name)) problems.add(path, `wildcard name "${name}" is used twice`);
        else names.push(name);
      }
      levels.push({ kind: wild, name });
    } else {
      if (/[+#]/.test(part)) problems.add(path, `"+" and "#" must fill a whole level, not "${part}"`);
      levels.push({ kind: 'literal', text: part });
    }
  });
  if (problems.list.length > before) return undefined;

  const filter = levels.map((l) => (l.kind === 'literal' ? l.text : l.kind)).join('/');
  const last = levels.at(-1);
  const multiLevel = last?.kind === '#' ? last.name : undefined;
  return {
    pattern,
    filter,
    names,
    ...(multiLevel !== undefined && { multiLevel }),
    match: (topic) => matchLevels(levels, topic),
  };
}

function matchLevels(levels: Level[], topic: string): Record<string, string> | null {
  const parts = topic.split('/');
  const captures: Record<string, string> = {};
  // MQTT: wildcards at the first level do not match $SYS-style topics.
  if (topic.startsWith('$') && levels[0]?.kind !== 'literal') return null;
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.kind === '#') {
      // MQTT: "a/#" also matches "a" itself.
      if (level.name) captures[level.name] = parts.slice(i).join('/');
      return captures;
    }
    const part = parts[i];
    if (part === undefined) return null;
    if (level.kind === '+') {
      if (level.name) captures[level.name] = part;
    } else if (level.kind === 'literal' && level.text !== part) {
      return null;
    }
  }
  return parts.length === levels.length ? captures : null;
}

/** Adapter-name glob: `*` matches any run of characters (`serial:*`, `mqttsn`, `*`). */
export function compileSourcePattern(glob: string): (source: string) => boolean {
  if (glob === '*') return () => true;
  const re = new RegExp(`^${glob.split('*').map(escapeRegExp).join('.*')}$`);
  return (source) => re.test(source);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
