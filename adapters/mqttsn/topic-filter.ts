import { isValidTopicName, topicFilterProblem } from '../../contracts/topic.js';
/** MQTT topic filter rules, used for device subscriptions and routing upstream messages to them. */

export function isWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

/** A concrete topic name a device may publish, register or leave as its will (contracts/topic.ts). */
export function validTopicName(name: string): boolean {
  return isValidTopicName(name);
}

/** A filter a device may subscribe to: one the broker will take (contracts/topic.ts). */
export function validFilter(filter: string): boolean {
  return topicFilterProblem(filter) === undefined;
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
