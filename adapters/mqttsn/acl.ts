import { z } from 'zod';
import { validFilter } from './topic-filter.js';

/**
 * Topic ACLs for MQTT-SN devices. Rules are tried in order; the first rule whose `clients` pattern
 * matches the client id and one of whose filters (for that operation) matches the topic decides.
 * No rule decides: `default` (deny unless set). No `acl` section at all: everything is allowed.
 */

const PLACEHOLDER = /\{([^}]*)\}/g;

const aclFilter = z.string().superRefine((f, ctx) => {
  for (const [, name] of f.matchAll(PLACEHOLDER)) {
    if (name !== 'client')
      return ctx.addIssue({ code: 'custom', message: `unknown placeholder {${name}} (only {client})` });
  }
  if (!validFilter(f.replaceAll('{client}', 'x')))
    ctx.addIssue({ code: 'custom', message: `not a valid MQTT topic filter: ${JSON.stringify(f)}` });
});

const clientPattern = z
  .string()
  .min(1)
  .regex(/^[^/+#]+$/, 'a client id pattern uses * and ?, not / + #');

const aclRule = z.strictObject({
  /** Client id glob(s): `*` any run of characters, `?` one character. */
  clients: z
    .preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(clientPattern).min(1))
    .default(['*']),
  action: z.enum(['allow', 'deny']).default('allow'),
  publish: z.array(aclFilter).default([]),
  subscribe: z.array(aclFilter).default([]),
});

export const aclSchema = z
  .strictObject({
    /** What a topic no rule decides gets. */
    default: z.enum(['allow', 'deny']).default('deny'),
    rules: z.array(aclRule).default([]),
  })
  .optional();
export type AclConfig = z.output<typeof aclSchema>;

type Op = 'publish' | 'subscribe';

interface Rule {
  clients: RegExp[];
  allow: boolean;
  publish: string[];
  subscribe: string[];
}

const globToRegExp = (g: string) =>
  new RegExp(
    `^${g.replace(/[.*+?^${}()|[\]\\]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`))}$`,
    's',
  );

/** A client id usable inside a filter (QoS -1 senders are known by address, `ip#node` for forwarders). */
const topicSafe = (id: string) => id.length > 0 && !/[/+#\0]/.test(id);

const levels = (f: string) => f.split('/');
/** A filter starting with a wildcard matches no `$` topic (MQTT 4.7.2). */
const leadingWild = (l: string | undefined) => l === '+' || l === '#';

/** Every topic `inner` can match is matched by `outer`. */
export function covers(outer: string, inner: string): boolean {
  const a = levels(outer);
  const b = levels(inner);
  if (leadingWild(a[0]) && b[0]!.startsWith('$')) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return true;
    if (i >= b.length || b[i] === '#') return false;
    if (a[i] === '+') continue;
    if (b[i] === '+' || a[i] !== b[i]) return false;
  }
  return a.length === b.length;
}

/** Some topic is matched by both filters. */
export function intersects(x: string, y: string): boolean {
  const a = levels(x);
  const b = levels(y);
  if ((leadingWild(a[0]) && b[0]!.startsWith('$')) || (leadingWild(b[0]) && a[0]!.startsWith('$')))
    return false;
  for (let i = 0; ; i++) {
    if (a[i] === '#' || b[i] === '#') return true;
    if (i >= a.length || i >= b.length) return a.length === b.length;
    if (a[i] !== '+' && b[i] !== '+' && a[i] !== b[i]) return false;
  }
}

/** Client ids whose expanded filter lists are kept (cleared when full: ids are device-chosen). */
const CACHE_MAX = 10_000;

type Expanded = { filter: string; levels: string[]; allow: boolean }[];

/** topic-filter.ts `matches` on pre-split levels: the ACL runs on every PUBLISH. */
function matchesLevels(f: readonly string[], t: readonly string[]): boolean {
  if (t[0]!.startsWith('$') && leadingWild(f[0])) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export class Acl {
  private readonly rules: Rule[];
  private readonly defaultAllow: boolean;
  /** clientId -> the filters that apply to it, in rule order, {client} substituted. */
  private readonly cache = new Map<string, Record<Op, Expanded>>();

  /** `cfg` undefined: no ACL configured, everything allowed (the behaviour before ACLs existed). */
  constructor(cfg: AclConfig) {
    this.defaultAllow = !cfg || cfg.default === 'allow';
    this.rules = (cfg?.rules ?? []).map((r) => ({
      clients: r.clients.map(globToRegExp),
      allow: r.action === 'allow',
      publish: r.publish,
      subscribe: r.subscribe,
    }));
  }

  /**
   * May this client publish (or REGISTER) this concrete topic name (as the device sent it)?
   * `anonymous`: the id is the sender's address (QoS -1 without a connection), which anyone on the
   * network can send from: `{client}` never allows it, and every `{client}` deny applies.
   */
  mayPublish(clientId: string, topic: string, anonymous = false): boolean {
    if (this.rules.length === 0) return this.defaultAllow;
    const list = this.expanded(clientId, anonymous).publish;
    if (list.length === 0) return this.defaultAllow; // no rule for this client: no split per message
    const t = levels(topic);
    for (const f of list) if (matchesLevels(f.levels, t)) return f.allow;
    return this.defaultAllow;
  }

  /**
   * May this client subscribe to `filter`? Only if every topic it can match is allowed: a covering allow
   * before any overlapping deny. Conservative where rules only add up to the filter (refused).
   */
  maySubscribe(clientId: string, filter: string): boolean {
    for (const f of this.expanded(clientId).subscribe) {
      if (covers(f.filter, filter)) return f.allow;
      if (!f.allow && intersects(f.filter, filter)) return false;
    }
    return this.defaultAllow;
  }

  private expanded(clientId: string, anonymous = false): Record<Op, Expanded> {
    // NUL cannot occur in a connected client id (refused at CONNECT): the two kinds never share a key.
    const key = anonymous ? `\0${clientId}` : clientId;
    const hit = this.cache.get(key);
    if (hit) return hit;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    const list = (op: Op) =>
      [...this.filters(clientId, op, anonymous)].map((f) => ({ ...f, levels: levels(f.filter) }));
    const e = { publish: list('publish'), subscribe: list('subscribe') };
    this.cache.set(key, e);
    return e;
  }

  private *filters(
    clientId: string,
    op: Op,
    anonymous: boolean,
  ): Generator<{ filter: string; allow: boolean }> {
    for (const r of this.rules) {
      if (!r.clients.some((re) => re.test(clientId))) continue;
      for (const f of r[op]) {
        if (!f.includes('{client}')) yield { filter: f, allow: r.allow };
        else if (topicSafe(clientId) && !anonymous)
          yield { filter: f.replaceAll('{client}', clientId), allow: r.allow };
        // A sender whose id cannot stand in a topic gets no allow from {client}, and every deny.
        else if (!r.allow) yield { filter: f.replaceAll('{client}', '+'), allow: false };
      }
    }
  }
}
