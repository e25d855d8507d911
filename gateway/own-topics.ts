import { levelsMatch } from '../contracts/topic.js';
import type { Config } from './config/schema.js';

/** What the guard needs: the loaded config and the command filters of the current rules. */
export interface OwnTopicSources {
  config: Pick<Config, 'gateway' | 'upstream' | 'stats'> & {
    availability?: Config['availability'];
    homeassistant?: Config['homeassistant'];
    remote?: Config['remote'];
    sparkplug?: Config['sparkplug'];
  };
  /** The current rules: their command filters are what the gateway subscribes to for commands. */
  rules: { subscriptions(): { topic: string }[] };
}

/**
 * Topics this gateway owns: the filters it takes commands from (command rules, `upstream.subscribe`),
 * its status topic and stats topic, and `fieldgate/{gateway}/devices/+/availability` (reserved).
 * A device publishing there would command other devices through the broker or overwrite the
 * gateway's retained status. MQTT-SN device subscriptions are not in the list:
 * device-to-device traffic through the broker is ordinary pub/sub.
 */
export function ownTopicFilters({ config, rules }: OwnTopicSources): string[] {
  const gw = config.gateway.id;
  const filters = [
    ...rules.subscriptions().map((s) => s.topic),
    ...config.upstream.subscribe.map((s) => s.topic),
    config.upstream.status_topic.replaceAll('{gateway}', gw),
    `fieldgate/${gw}/devices/+/availability`,
  ];
  if (config.stats.topic) filters.push(config.stats.topic.replaceAll('{gateway}', gw));
  // A configured availability topic is the gateway's as well (its messages bypass this guard).
  if (config.availability?.enabled)
    filters.push(config.availability.topic.replaceAll('{gateway}', gw).replaceAll('{device}', '+'));
  // Home Assistant: this gateway's discovery configs (a device must not create or delete entities)
  // and HA's birth topic (a device saying "online" there would make the gateway republish everything).
  // Remote management: a device must neither send the gateway requests nor forge its answers.
  if (config.remote?.enabled) filters.push(`${config.remote.prefix}/${gw}/admin/#`);
  const ha = config.homeassistant;
  if (ha?.enabled) filters.push(`${ha.prefix}/+/${gw.replace(/[^A-Za-z0-9_-]/g, '_')}/#`, ha.status_topic);
  // Sparkplug: this edge node's births, deaths and commands, and its primary host's STATE (a device
  // must not kill the node's session or command its devices). DDATA is left out: the node's own
  // rows carry that topic through ingest.
  const sp = config.sparkplug;
  if (sp?.enabled) {
    const base = `spBv1.0/${sp.group_id}`;
    const node = sp.edge_node_id ?? gw;
    filters.push(`${base}/+/${node}`, ...['DBIRTH', 'DDEATH', 'DCMD'].map((v) => `${base}/${v}/${node}/+`));
    if (sp.primary_host_id) filters.push(`spBv1.0/STATE/${sp.primary_host_id}`);
  }
  return [...new Set(filters)];
}

/**
 * `current` for ownTopicGuard from the gateway's config and rules getters: the same sources object
 * until one of them is swapped (SIGHUP), not a new one per message.
 */
export function currentSources(
  config: () => OwnTopicSources['config'],
  rules: () => OwnTopicSources['rules'] | null | undefined,
): () => OwnTopicSources | undefined {
  let last: OwnTopicSources | undefined;
  return () => {
    const c = config();
    const r = rules();
    if (!r) return undefined;
    if (last?.config !== c || last.rules !== r) last = { config: c, rules: r };
    return last;
  };
}

/**
 * `(topic) => true` when an uplink message on `topic` would loop back into this gateway. Rebuilt only
 * when `current()` hands over a new config or rule set (SIGHUP), so a reading costs a few splits.
 */
export function ownTopicGuard(current: () => OwnTopicSources | undefined): (topic: string) => boolean {
  let seen: OwnTopicSources | undefined;
  let filters: string[][] = [];
  // First levels of the filters: most topics (sensors/...) are ruled out without a split, and
  // without slicing the topic's first level out (compared in place: no string per message).
  let firsts: string[] | undefined;
  return (topic) => {
    const now = current();
    if (!now) return false;
    if (seen?.config !== now.config || seen.rules !== now.rules) {
      filters = ownTopicFilters(now).map((f) => f.split('/'));
      const heads = filters.map((f) => f[0]!);
      firsts = heads.some((h) => h === '+' || h === '#') ? undefined : [...new Set(heads)];
      seen = now;
    }
    if (firsts && !startsWithAny(topic, firsts)) return false;
    const levels = topic.split('/');
    return filters.some((f) => levelsMatch(f, levels, topic));
  };
}

/** A loop, not some() with an arrow: no closure per message. */
function startsWithAny(topic: string, levels: string[]): boolean {
  for (const level of levels) if (isFirstLevel(topic, level)) return true;
  return false;
}

/** Is `level` the first level of `topic` (all of it, or up to its first '/')? */
function isFirstLevel(topic: string, level: string): boolean {
  return (
    topic.startsWith(level) && (topic.length === level.length || topic.charCodeAt(level.length) === 0x2f)
  );
}

/** ownTopicFilters of the current config and rules, computed again only when one is swapped (SIGHUP). */
export function ownFilters(current: () => OwnTopicSources | undefined): () => readonly string[] {
  let seen: OwnTopicSources | undefined;
  let filters: readonly string[] = [];
  return () => {
    const now = current();
    if (now && now !== seen) {
      filters = ownTopicFilters(now);
      seen = now;
    }
    return filters;
  };
}
