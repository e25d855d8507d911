import { describe, expect, it } from 'vitest';
import { Acl, covers, intersects } from '../../adapters/mqttsn/acl.js';
import { mqttsnConfigSchema } from '../../adapters/mqttsn/config.js';

const acl = (a: unknown) => new Acl(mqttsnConfigSchema.parse({ acl: a }).acl);

describe('mqttsn ACL rules (pure)', () => {
  it('covers: every topic of the inner filter matches the outer one', () => {
    expect(covers('cmd/d1/#', 'cmd/d1/#')).toBe(true);
    expect(covers('cmd/d1/#', 'cmd/d1')).toBe(true);
    expect(covers('cmd/d1/#', 'cmd/d1/+/x')).toBe(true);
    expect(covers('cmd/+/x', 'cmd/d1/x')).toBe(true);
    expect(covers('cmd/d1/#', 'cmd/#')).toBe(false);
    expect(covers('cmd/d1/#', 'cmd/+/x')).toBe(false);
    expect(covers('cmd/d1/x', 'cmd/d1/+')).toBe(false);
    expect(covers('cmd/+', 'cmd/+/+')).toBe(false);
    expect(covers('#', '$SYS/x')).toBe(false); // a leading wildcard matches no $ topic
    expect(covers('$SYS/#', '#')).toBe(false);
  });

  it('intersects: some topic matches both', () => {
    expect(intersects('cmd/#', 'cmd/d1/x')).toBe(true);
    expect(intersects('cmd/+/x', 'cmd/d1/+')).toBe(true);
    expect(intersects('a/b', 'a/#')).toBe(true); // a/# matches a/b
    expect(intersects('a', 'a/#')).toBe(true); // and a itself
    expect(intersects('a/+', 'a')).toBe(false);
    expect(intersects('a/b', 'a/c')).toBe(false);
    expect(intersects('#', '$SYS/x')).toBe(false);
  });

  it('no acl section: everything allowed; an acl section defaults to deny', () => {
    expect(acl(undefined).mayPublish('d1', 'cmd/gw/d2/open')).toBe(true);
    expect(acl(undefined).maySubscribe('d1', '#')).toBe(true);
    expect(acl({}).mayPublish('d1', 'sensors/d1/t')).toBe(false);
    expect(acl({ default: 'allow' }).mayPublish('d1', 'sensors/d1/t')).toBe(true);
  });

  it('{client} confines each device to its own topics; first matching rule wins', () => {
    const a = acl({
      rules: [
        { clients: 'admin-*', publish: ['#'], subscribe: ['#'] },
        { action: 'deny', publish: ['sensors/+/secret'] },
        { publish: ['sensors/{client}/#'], subscribe: ['cmd/{client}/#'] },
      ],
    });
    expect(a.mayPublish('d1', 'sensors/d1/temp')).toBe(true);
    expect(a.mayPublish('d1', 'sensors/d2/temp')).toBe(false);
    expect(a.mayPublish('d1', 'sensors/d1/secret')).toBe(false); // the deny comes first
    expect(a.mayPublish('admin-1', 'sensors/d1/secret')).toBe(true);
    expect(a.mayPublish('d1', 'cmd/gw/d2/open')).toBe(false);
    expect(a.maySubscribe('d1', 'cmd/d1/#')).toBe(true);
    expect(a.maySubscribe('d1', 'cmd/d1/+/set')).toBe(true);
    expect(a.maySubscribe('d1', 'cmd/#')).toBe(false); // wider than allowed
    expect(a.maySubscribe('d1', 'cmd/+/set')).toBe(false);
    expect(a.maySubscribe('admin-7', '#')).toBe(true);
    // a sender whose id cannot stand in a topic (a QoS -1 forwarder node) gets no {client} grant
    expect(a.mayPublish('10.0.0.1#00ab', 'sensors/10.0.0.1#00ab/t')).toBe(false);
  });

  it('a subscription overlapping an earlier deny is refused, even where a later allow covers it', () => {
    const a = acl({
      default: 'allow',
      rules: [{ action: 'deny', subscribe: ['cmd/+/secret'] }, { subscribe: ['cmd/#'] }],
    });
    expect(a.maySubscribe('d', 'cmd/d/open')).toBe(true);
    expect(a.maySubscribe('d', 'cmd/+/+')).toBe(false);
    expect(a.maySubscribe('d', 'cmd/d/secret')).toBe(false);
    expect(a.maySubscribe('d', 'other/#')).toBe(true); // default allow, no deny overlaps
    expect(a.maySubscribe('d', '#')).toBe(false); // overlaps the deny
  });

  it('bad ACL and pinning config is refused with the key path and a clear message', () => {
    const issues = (c: unknown) => {
      const r = mqttsnConfigSchema.safeParse(c);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues({ acl: { rules: [{ publish: ['a/{device}/#'] }] } })).toEqual([
      'acl.rules.0.publish.0: unknown placeholder {device} (only {client})',
    ]);
    expect(issues({ acl: { rules: [{ subscribe: ['a/#/b'] }] } })).toEqual([
      'acl.rules.0.subscribe.0: not a valid MQTT topic filter: "a/#/b"',
    ]);
    expect(issues({ acl: { rules: [{ clients: 'a/b' }] } })[0]).toMatch(/^acl\.rules\.0\.clients/);
    expect(issues({ acl: { default: 'maybe' } })[0]).toMatch(/^acl\.default/);
    expect(issues({ acl: { rules: [{ publsh: ['x'] }] } })[0]).toMatch(/publsh/);
    expect(issues({ clients: { d1: { address: 'meter.local' } } })).toEqual([
      'clients.d1.address.0: expected an IP address, ip:port, [ipv6]:port or CIDR range (no host names), got "meter.local"',
    ]);
    expect(issues({ clients: { d1: { address: ['10.0.0.0/33'] } } })[0]).toMatch(
      /^clients\.d1\.address\.0: expected a CIDR/,
    );
    expect(issues({ clients: { d1: { address: '10.0.0.1:0' } } })[0]).toMatch(/port 0 out of range/);
    expect(issues({ clients: { d1: { adress: '10.0.0.1' } } })[0]).toMatch(/adress/);
    expect(
      issues({
        clients: { d1: { address: ['10.0.3.0/24', '[fd00::7]:50000', 'fd00::/64', '10.0.0.1:1884'] } },
      }),
    ).toEqual([]);
  });
});
