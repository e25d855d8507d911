import { describe, expect, it } from 'vitest';
import { configSchema } from '../../gateway/config/schema.js';
import { currentSources, ownTopicFilters, ownTopicGuard } from '../../gateway/own-topics.js';

const config = (over: Record<string, unknown> = {}) =>
  configSchema.parse({
    gateway: { id: 'gw1' },
    upstream: { url: 'mqtt://127.0.0.1:1883', subscribe: [{ topic: 'ops/gw1/#' }] },
    stats: { topic: 'fieldgate/{gateway}/stats' },
    ...over,
  });
const rules = (...filters: string[]) => ({ subscriptions: () => filters.map((topic) => ({ topic })) });

describe('own topics (the uplink->command loop guard)', () => {
  it('lists command filters, upstream.subscribe, the status, stats and availability topics', () => {
    expect(ownTopicFilters({ config: config(), rules: rules('cmd/gw1/+/#') }).sort()).toEqual(
      [
        'cmd/gw1/+/#',
        'ops/gw1/#',
        'fieldgate/gw1/status',
        'fieldgate/gw1/stats',
        'fieldgate/gw1/devices/+/availability',
      ].sort(),
    );
  });

  it('matches by MQTT filter rules and follows a reload', () => {
    let current = { config: config(), rules: rules('cmd/gw1/+/#') };
    const own = ownTopicGuard(() => current);
    expect(own('cmd/gw1/dev/x')).toBe(true);
    expect(own('cmd/gw1/dev')).toBe(true); // '#' matches the parent level too
    expect(own('cmd/gw2/dev/x')).toBe(false); // another gateway's commands are ordinary topics
    expect(own('fieldgate/gw1/status')).toBe(true);
    expect(own('fieldgate/gw1/devices/d7/availability')).toBe(true);
    expect(own('ops/gw1/anything')).toBe(true);
    expect(own('sensors/dev/temp')).toBe(false);
    // First levels compared whole: a longer or shorter first level is another topic.
    expect(own('cmdx/gw1/dev/x')).toBe(false);
    expect(own('cm/gw1/dev/x')).toBe(false);
    expect(own('cmd')).toBe(false);
    expect(own('fieldgatex/gw1/status')).toBe(false);
    current = { config: current.config, rules: rules('down/+') }; // SIGHUP: new rules
    expect(own('cmd/gw1/dev/x')).toBe(false);
    expect(own('down/dev')).toBe(true);
    current = {
      config: config({ upstream: { url: 'mqtt://h:1', subscribe: [{ topic: '+/gw1/cmd' }] } }),
      rules: rules(),
    };
    expect(own('any/gw1/cmd')).toBe(true); // a filter starting with a wildcard
    expect(own('any/gw1/data')).toBe(false);
  });

  it('currentSources: one sources object until the config or the rules are swapped', () => {
    let cfg = config();
    let r: ReturnType<typeof rules> | null = null;
    const current = currentSources(
      () => cfg,
      () => r,
    );
    expect(current()).toBeUndefined(); // no rules yet: nothing guarded
    r = rules('cmd/#');
    const first = current();
    expect(first).toEqual({ config: cfg, rules: r });
    expect(current()).toBe(first);
    r = rules('down/#');
    expect(current()).toEqual({ config: cfg, rules: r });
    cfg = config();
    const third = current();
    expect(third?.config).toBe(cfg);
    expect(current()).toBe(third);
    const own = ownTopicGuard(current);
    expect(own('down/x')).toBe(true);
    expect(own('cmd/x')).toBe(false);
  });
});
