import { filterMatches, isValidTopicName, topicFilterProblem } from '../../contracts/topic.js';
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

/** MQTT filter matching, as the broker does it (contracts/topic.ts). */
export const matches = filterMatches;
