/** MQTT topic filter rules, used for device subscriptions and routing upstream messages to them. */

export function isWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/** A concrete topic name a device may publish or register: no wildcards, not empty, no NUL. */
export function validTopicName(name: string): boolean {
  return name.length > 0 && !isWildcard(name) && !name.includes('\0');
}

export function validFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\0')) return false;
  const levels = filter.split('/');
  return levels.every((l, i) => {
    if (l.includes('#')) return l === '#' && i === levels.length - 1;
    return !l.includes('+') || l === '+';
  });
}

export function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // Filters starting with a wildcard do not match $SYS-style topics (MQTT 4.7.2).
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
