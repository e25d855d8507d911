import type { QoS } from '../types.js';

class Node<K> {
  readonly children = new Map<string, Node<K>>();
  /** Subscribers whose filter ends at this node, with their QoS. */
  readonly subs = new Map<K, QoS>();
  constructor(
    readonly parent: Node<K> | null,
    readonly level: string,
  ) {}
}

/**
 * Subscription filters by level: matching a topic walks at most (levels x 3) nodes ('+', '#' and the
 * exact level), however many devices subscribed, instead of testing every filter of every device.
 */
export class TopicTree<K> {
  private readonly root = new Node<K>(null, '');
  /** Every filter that has a subscriber, to its node. */
  private readonly nodes = new Map<string, Node<K>>();

  add(filter: string, key: K, qos: QoS): void {
    let n = this.nodes.get(filter);
    if (!n) {
      let at: Node<K> = this.root;
      for (const level of filter.split('/')) {
        let c: Node<K> | undefined = at.children.get(level);
        if (!c) {
          c = new Node<K>(at, level);
          at.children.set(level, c);
        }
        at = c;
      }
      n = at;
      this.nodes.set(filter, n);
    }
    n.subs.set(key, qos);
  }

  remove(filter: string, key: K): void {
    const n = this.nodes.get(filter);
    if (!n?.subs.delete(key) || n.subs.size > 0) return;
    this.nodes.delete(filter);
    // Prune the branch that now leads nowhere.
    for (let c: Node<K> = n; c.parent && c.subs.size === 0 && c.children.size === 0; c = c.parent)
      c.parent.children.delete(c.level);
  }

  /** Each subscriber with a filter matching `topic`, at the highest QoS among its matching filters. */
  match(topic: string): Map<K, QoS> {
    const out = new Map<K, QoS>();
    const levels = topic.split('/');
    const take = (n: Node<K>) => {
      for (const [k, q] of n.subs) if ((out.get(k) ?? -1) < q) out.set(k, q);
    };
    const walk = (n: Node<K>, i: number) => {
      // Filters starting with a wildcard do not match $-topics (MQTT 4.7.2).
      const wild = !(i === 0 && topic.startsWith('$'));
      const hash = wild ? n.children.get('#') : undefined;
      if (hash) take(hash); // 'a/#' also matches 'a'
      if (i === levels.length) {
        take(n);
        return;
      }
      const plus = wild ? n.children.get('+') : undefined;
      if (plus) walk(plus, i + 1);
      const exact = n.children.get(levels[i]!);
      if (exact) walk(exact, i + 1);
    };
    walk(this.root, 0);
    return out;
  }

  /** Every filter in use, at the highest QoS any subscriber holds it with. */
  filters(): Map<string, QoS> {
    const out = new Map<string, QoS>();
    for (const [f, n] of this.nodes) {
      let max = -1;
      for (const q of n.subs.values()) if (q > max) max = q;
      if (max >= 0) out.set(f, max as QoS);
    }
    return out;
  }

  get size(): number {
    return this.nodes.size;
  }
}
