import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../gateway/config/load.js';
import { applyKind } from '../../gateway/remote/apply-kind.js';
import { configDiff } from '../../gateway/remote/diff.js';
import { mergePatch } from '../../gateway/remote/merge-patch.js';
import { REDACTED, redactYaml, restoreRedacted, restoreRedactedYaml } from '../../gateway/remote/redact.js';
import { screen } from '../../gateway/remote/screen.js';
import { AdminTopics } from '../../gateway/remote/topics.js';
import type { InboundMessage } from '../../gateway/upstream/inbound.js';

const topics = new AdminTopics('fieldgate', 'gw1');
const limits = {
  maxRequestSize: 100,
  maxAgeMs: 60_000,
  wallTrusted: true,
  now: Date.parse('2026-01-01T00:10:00Z'),
};
const msg = (over: Partial<InboundMessage> = {}): InboundMessage => ({
  topic: 'fieldgate/gw1/admin/req/ping',
  payload: Buffer.from('{}'),
  qos: 1,
  retain: false,
  responseTopic: 'fieldgate/gw1/admin/reply/a',
  correlationData: Buffer.from('c'),
  ...over,
});

describe('screen', () => {
  it('passes a well-formed request and names its actor from the user property', () => {
    const r = screen(msg({ userProperties: { actor: 'alice', site: 'x' } }), topics, limits);
    expect(r).toMatchObject({
      request: { name: 'ping', actor: 'alice', replyTo: 'fieldgate/gw1/admin/reply/a' },
    });
  });
  it.each([
    ['retained', msg({ retain: true })],
    ['expired', msg({ messageExpiryInterval: 0 })],
    ['too_large', msg({ payload: Buffer.alloc(101, 0x20) })],
    ['not_json', msg({ payload: Buffer.from('[1]') })],
    ['too_old', msg({ payload: Buffer.from('{"sent_at":"2026-01-01T00:00:00Z"}') })],
    ['no_reply_topic', msg({ responseTopic: undefined })],
    ['reply_topic', msg({ responseTopic: 'fieldgate/gw2/admin/reply/a' })],
    ['reply_topic', msg({ responseTopic: 'fieldgate/gw1/admin/reply/#' })],
    ['not_a_request', msg({ topic: 'fieldgate/gw1/admin/info' })],
  ])('refuses %s', (reason, m) => {
    expect(screen(m, topics, limits)).toEqual({ refused: reason });
  });
  it('does not judge sent_at by an unsynchronized clock', () => {
    const m = msg({ payload: Buffer.from('{"sent_at":"2026-01-01T00:00:00Z"}') });
    expect(screen(m, topics, { ...limits, wallTrusted: false })).toHaveProperty('request');
  });
  it('takes reply_to and correlation from the JSON over MQTT 3.1.1', () => {
    const m = msg({
      responseTopic: undefined,
      correlationData: undefined,
      payload: Buffer.from('{"reply_to":"fieldgate/gw1/admin/reply/z","correlation":"k","actor":"bob"}'),
    });
    expect(screen(m, topics, limits)).toMatchObject({
      request: { replyTo: 'fieldgate/gw1/admin/reply/z', correlation: 'k', actor: 'bob' },
    });
  });
});

describe('redaction', () => {
  const text = `# keep me
upstream:
  url: [mqtt://u:p%40ss@a:1883, mqtts://b:8883]
  password: hunter2
  password_file: /etc/pw
x: { api_token: abc }
`;
  it('redacts secrets and URL credentials, keeps comments and file paths', () => {
    const out = redactYaml(text);
    expect(out).toContain('# keep me');
    expect(out).not.toMatch(/hunter2|p%40ss|abc/);
    expect(out).toContain(`mqtt://${REDACTED}@a:1883`);
    expect(out).toContain('mqtts://b:8883');
    expect(out).toContain('/etc/pw');
  });
  it('puts the running secrets back where a config sent back still says <redacted>', () => {
    const running = { upstream: { url: ['mqtt://u:p%40ss@a:1883'], password: 'hunter2' } };
    const back = restoreRedactedYaml(redactYaml(text), running);
    expect(back).toContain('password: hunter2');
    expect(back).toContain('mqtt://u:p%40ss@a:1883');
    expect(restoreRedacted({ upstream: { password: 'new' } }, running)).toEqual({
      upstream: { password: 'new' },
    });
  });
});

describe('merge patch (RFC 7396) and diff', () => {
  it('merges objects, replaces arrays and deletes with null', () => {
    expect(mergePatch({ a: { b: 1, c: 2 }, l: [1, 2], d: 1 }, { a: { b: 3 }, l: [9], d: null })).toEqual({
      a: { b: 3, c: 2 },
      l: [9],
    });
  });
  it('lists changed leaves with secrets redacted', () => {
    const d = configDiff(
      { upstream: { password: 'a', url: 'mqtt://x:y@h' }, rules: [] },
      { upstream: { password: 'b', url: 'mqtt://h' }, rules: [{ match: 'a' }] },
    );
    expect(d).toEqual([
      { path: 'upstream.password', from: REDACTED, to: REDACTED },
      { path: 'upstream.url', from: `mqtt://${REDACTED}@h`, to: 'mqtt://h' },
      { path: 'rules.0', to: { match: 'a' } },
    ]);
  });
});

describe('apply kind', () => {
  const cfg = (level = 'info', extra = '') =>
    parseConfig(
      `gateway: { id: g, log_level: ${level} }\nupstream: { url: mqtt://127.0.0.1:1883 }\n${extra}`,
      'x.yaml',
      {},
    );
  it('is hot for rules and the log level, a restart for anything else', () => {
    expect(applyKind(cfg(), cfg('info', 'rules: [{ match: a/b, publish: c/d }]\n'))).toBe('hot');
    expect(applyKind(cfg(), cfg('debug'))).toBe('hot');
    expect(applyKind(cfg(), cfg('info', 'store: { max_rows: 10 }\n'))).toBe('restart');
    expect(applyKind(cfg(), cfg('info', 'remote: { enabled: true }\n'))).toBe('restart');
  });
});
