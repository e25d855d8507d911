import type { Config } from '../config/schema.js';

/** Sections a running gateway takes without a restart (what SIGHUP applies). */
const HOT = new Set(['rules', 'default_route', 'commands', 'triggers']);

/** `hot` when only rules, commands, triggers and the log level differ; else a restart applies it. */
export function applyKind(running: Config, next: Config): 'hot' | 'restart' {
  for (const key of new Set([...Object.keys(running), ...Object.keys(next)]) as Set<keyof Config>) {
    if (HOT.has(key)) continue;
    const a = key === 'gateway' ? { ...running.gateway, log_level: undefined } : running[key];
    const b = key === 'gateway' ? { ...next.gateway, log_level: undefined } : next[key];
    if (JSON.stringify(a) !== JSON.stringify(b)) return 'restart';
  }
  return 'hot';
}
