/**
 * `sensors/{device}/{field}`: literal text with {name} placeholders, compiled once per source (a
 * serial port, a Modbus point, a discovery topic). Values only: rules have their own, richer template.
 * A placeholder whose value is missing makes render() return undefined, so the caller can drop
 * and count the frame instead of publishing to a half-filled topic.
 */
export interface TopicTemplate {
  readonly names: ReadonlySet<string>;
  render(lookup: (name: string) => unknown, clean?: (text: string) => string): string | undefined;
}

export function compileTopicTemplate(source: string): TopicTemplate {
  const parts = source.split(/\{([A-Za-z0-9_.-]+)\}/);
  const names = new Set(parts.filter((_, i) => i % 2 === 1));
  return {
    names,
    render(lookup, clean = (t) => t) {
      let out = '';
      for (let i = 0; i < parts.length; i++) {
        if (i % 2 === 0) {
          out += parts[i];
          continue;
        }
        const v = lookup(parts[i]!);
        if (v === undefined || v === null) return undefined;
        out += clean(valueText(v));
      }
      return out;
    },
  };
}

/** How a field value is written into a topic level or a payload: text as is, the rest as JSON. */
export function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** A value from a device must not add topic levels or wildcards: `a/b` -> `a_b`, `+`/`#` -> `_`. */
export function topicLevel(text: string): string {
  return text.replace(/[/+#\0]/g, '_');
}
