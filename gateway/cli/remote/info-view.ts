import { age } from './table.js';

/**
 * A gateway's `info` object (docs/remote-management.md, "The info object") as the operator sees it.
 * Read defensively: a gateway of another version may lack a field, and `list` must still show it.
 */
type Info = Record<string, unknown>;

export const LIST_HEADER = ['GATEWAY', 'VERSION', 'UPLINK', 'BACKLOG', 'DEVICES', 'CONFIG', 'LAST CHANGE'];

/** When a gateway's info says nothing of its own interval (an older gateway): 3 × the default 5 min. */
const DEFAULT_STALE_MS = 15 * 60_000;

/**
 * One `list` row: id, version, uplink, backlog, devices online/total, config age, last change. A
 * retained info outlives its gateway, so one not republished within `staleAfterMs` (default: three
 * of the gateway's own `info_interval_s`) shows `silent <age>` as its uplink: when it was last heard.
 */
export function infoRow(id: string, info: Info, now = Date.now(), staleAfterMs?: number): string[] {
  const at = time(get(info, 'at'));
  const interval = num(get(info, 'info_interval_s'));
  const limit = staleAfterMs ?? (interval ? 3 * interval * 1000 : DEFAULT_STALE_MS);
  return [
    id,
    str(get(info, 'version')),
    at !== undefined && now - at > limit ? `silent ${age(now - at)}` : uplink(info, now),
    backlog(info),
    devices(info),
    configAge(info, now),
    lastChange(info, now),
  ];
}

function uplink(info: Info, now: number): string {
  const state = get(info, 'uplink.state');
  const since = time(get(info, 'uplink.since'));
  if (typeof state !== 'string') return '-';
  const word = state === 'connected' ? 'up' : state;
  return since === undefined ? word : `${word} ${age(now - since)}`;
}

function backlog(info: Info): string {
  const rows = num(get(info, 'outbox.rows'));
  const aside = num(get(info, 'set_aside'));
  if (rows === undefined) return '-';
  return aside ? `${rows} (+${aside} set aside)` : String(rows);
}

/** online/total from `devices` ({ total, online, asleep, offline, lost }). */
function devices(info: Info): string {
  const online = num(get(info, 'devices.online'));
  const total = num(get(info, 'devices.total'));
  return online === undefined || total === undefined ? '-' : `${online}/${total}`;
}

function configAge(info: Info, now: number): string {
  const at = time(get(info, 'config.applied_at'));
  return at === undefined ? '-' : age(now - at);
}

/** The latest change and its result, or the change awaiting confirmation right now. */
function lastChange(info: Info, now: number): string {
  const pending = get(info, 'pending_change');
  if (typeof pending === 'object' && pending !== null) {
    const at = time(get(pending as Info, 'at'));
    return `pending${at === undefined ? '' : ` since ${age(now - at)}`}`;
  }
  const c = get(info, 'last_change');
  if (typeof c !== 'object' || c === null) return '-';
  const state = str(get(c as Info, 'state'));
  const at = time(get(c as Info, 'at'));
  return at === undefined ? state : `${state} ${age(now - at)} ago`;
}

/** Every leaf of the info object as `a.b: value`, for `status`. */
export function infoLines(info: Info, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(info)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) out.push(...infoLines(v as Info, key));
    else out.push(`${key}: ${Array.isArray(v) ? JSON.stringify(v) : String(v)}`);
  }
  return out;
}

function get(o: Info, path: string): unknown {
  let v: unknown = o;
  for (const k of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Info)[k];
  }
  return v;
}

function str(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '-';
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** An ISO time or epoch ms as epoch ms. */
function time(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}
