import { isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import { redactUrl } from '../upstream/url.js';

/** What a redacted secret reads as in `config/get`, diffs and the audit trail. */
export const REDACTED = '<redacted>';

/** Keys whose values are secrets themselves (a `*_file` names a file and stays). */
const SECRET_KEY = /(^|_)(password|secret|token|passphrase)$/i;

/** Is the value at `path` (keys and indexes) a secret, or a URL that may carry credentials? */
function secretKind(path: readonly (string | number)[]): 'secret' | 'url' | undefined {
  const key = [...path].reverse().find((p) => typeof p === 'string');
  if (key !== undefined && SECRET_KEY.test(key)) return 'secret';
  if (key === 'url') return 'url';
  return undefined;
}

/** A leaf value as it may be shown: secrets replaced, URL credentials cut out. */
export function redactValue(path: readonly (string | number)[], value: unknown): unknown {
  const kind = secretKind(path);
  if (kind === 'secret' && value !== undefined && value !== null) return REDACTED;
  if (kind === 'url' && typeof value === 'string') return redactUrl(value).replace('***@', `${REDACTED}@`);
  return value;
}

/** The YAML text with every secret redacted; comments and layout kept. */
export function redactYaml(text: string): string {
  const doc = parseDocument(text);
  visit(doc, {
    Scalar(_key, node, ancestors) {
      const path = pathOf(ancestors, node);
      if (path === undefined || typeof node.value !== 'string') return;
      const shown = redactValue(path, node.value);
      if (shown !== node.value) node.value = shown;
    },
  });
  return doc.toString();
}

/** Keys and indexes from the document root down to `node` (undefined for a map key itself). */
function pathOf(ancestors: readonly unknown[], node: unknown): (string | number)[] | undefined {
  const path: (string | number)[] = [];
  let child: unknown = node;
  for (let i = ancestors.length - 1; i >= 0; i--) {
    const a = ancestors[i];
    if (isSeq(a)) path.unshift(a.items.indexOf(child as never));
    else if (isMap(a)) {
      // ancestors hold the Pair between a map and its value
    } else if (a && typeof a === 'object' && 'key' in a && 'value' in a) {
      const pair = a as { key: unknown; value: unknown };
      if (pair.key === child) return undefined;
      path.unshift(isScalar(pair.key) ? String(pair.key.value) : String(pair.key));
    }
    child = a;
  }
  return path;
}

/**
 * A config sent back after `config/get` carries `<redacted>` where the secrets were: each such value
 * equal to the redacted form of the running one is the running one (an operator who edits a secret
 * writes the new value in full).
 */
export function restoreRedacted(next: unknown, running: unknown, path: (string | number)[] = []): unknown {
  if (typeof next === 'string') {
    if (running !== undefined && next === redactValue(path, running) && next !== running) return running;
    return next;
  }
  if (Array.isArray(next))
    return next.map((v, i) =>
      restoreRedacted(v, Array.isArray(running) ? running[i] : undefined, [...path, i]),
    );
  if (next && typeof next === 'object') {
    const r = running && typeof running === 'object' ? (running as Record<string, unknown>) : {};
    return Object.fromEntries(
      Object.entries(next).map(([k, v]) => [k, restoreRedacted(v, r[k], [...path, k])]),
    );
  }
  return next;
}

/** restoreRedacted on a YAML text, editing the document in place (comments kept). */
export function restoreRedactedYaml(text: string, running: unknown): string {
  const doc = parseDocument(text);
  if (doc.errors.length) return text; // the validator reports it
  let changed = false;
  visit(doc, {
    Scalar(_key, node, ancestors) {
      const path = pathOf(ancestors, node);
      if (path === undefined || typeof node.value !== 'string') return;
      const was = valueAt(running, path);
      const restored = restoreRedacted(node.value, was, path);
      if (restored !== node.value) {
        node.value = restored;
        changed = true;
      }
    },
  });
  return changed ? doc.toString() : text;
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let v = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}
