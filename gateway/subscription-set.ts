import { combineLatest, of, type Subscription, startWith } from 'rxjs';
import { type Adapter, isSubscribing, type QoS } from '../adapters/types.js';

type Filters = ReadonlyMap<string, QoS>;

/**
 * The upstream subscription set: command-rule filters and every device
 * subscription (MQTT-SN), merged with the highest QoS per filter. (The
 * upstream client adds `upstream.subscribe` from the config itself.)
 */
export class SubscriptionSet {
  private rules: Filters = new Map();
  private devices: Filters = new Map();
  /** The gateway's own filters (Home Assistant's birth topic). */
  private own: Filters = new Map();
  private readonly sub: Subscription;

  constructor(
    adapters: Adapter[],
    private readonly apply: (filters: Filters) => void,
  ) {
    const streams = adapters
      .filter(isSubscribing)
      .map((a) => a.subscriptions$.pipe(startWith(new Map() as Filters)));
    this.sub = (streams.length ? combineLatest(streams) : of([] as Filters[])).subscribe((maps) => {
      this.devices = union(maps);
      this.push();
    });
  }

  setRules(subs: { topic: string; qos: QoS }[]): void {
    this.rules = new Map(subs.map((s) => [s.topic, s.qos]));
    this.push();
  }

  setOwn(subs: { topic: string; qos: QoS }[]): void {
    this.own = new Map(subs.map((s) => [s.topic, s.qos]));
    this.push();
  }

  close(): void {
    this.sub.unsubscribe();
  }

  private push(): void {
    this.apply(union([this.rules, this.devices, this.own]));
  }
}

function union(maps: Filters[]): Filters {
  const out = new Map<string, QoS>();
  for (const m of maps) for (const [f, q] of m) out.set(f, Math.max(out.get(f) ?? 0, q) as QoS);
  return out;
}
