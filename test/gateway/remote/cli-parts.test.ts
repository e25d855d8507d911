import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAnswer } from '../../../gateway/cli/remote/admin.js';
import { hashHeader, headerHash, withoutHeader } from '../../../gateway/cli/remote/config-header.js';
import { diffLines, formatDiff, hasChanges } from '../../../gateway/cli/remote/diff.js';
import { EXIT, exitForCode } from '../../../gateway/cli/remote/exit-codes.js';
import { infoLines, infoRow } from '../../../gateway/cli/remote/info-view.js';
import { formatEvent } from '../../../gateway/cli/remote/logs.js';
import { remoteSettings, SettingsError } from '../../../gateway/cli/remote/settings.js';
import { age, table } from '../../../gateway/cli/remote/table.js';
import { gatewayOfInfoTopic, replyTopic, requestTopic } from '../../../gateway/cli/remote/topics.js';
import { topicMatches } from '../../../gateway/upstream/operator-session.js';
import { cleanupTmpDirs, tmpDir } from '../../harness/tmp.js';

afterAll(() => cleanupTmpDirs());

describe('fieldgate remote: pure parts', () => {
  it('diffs config lines: changed lines with context, unchanged runs left out', () => {
    const before = ['a: 1', 'b: 2', 'c: 3', 'd: 4', 'e: 5', 'f: 6', 'g: 7', 'h: 8', 'i: 9', ''].join('\n');
    const after = before.replace('b: 2', 'b: 20').replace('i: 9\n', 'i: 9\nj: 10\n');
    const d = diffLines(before, after);
    expect(hasChanges(d)).toBe(true);
    expect(d.filter((l) => l.op === '-').map((l) => l.text)).toEqual(['b: 2']);
    expect(d.filter((l) => l.op === '+').map((l) => l.text)).toEqual(['b: 20', 'j: 10']);
    expect(formatDiff(d, 1).split('\n')).toEqual([
      '  a: 1',
      '- b: 2',
      '+ b: 20',
      '  c: 3',
      '  ...',
      '  i: 9',
      '+ j: 10',
    ]);
    expect(hasChanges(diffLines(before, before.replace(/\n/g, '\r\n')))).toBe(false);
    expect(hasChanges(diffLines(before, before.slice(0, -1)))).toBe(false); // no final newline
  });

  it('falls back to remove-all/add-all past the size cap, and still says what changed', () => {
    const d = diffLines('x\ny\n', 'y\nz\n', 1);
    expect(d.map((l) => l.op + l.text)).toEqual(['-x', '-y', '+y', '+z']);
  });

  it('pads a table and reads durations as an operator would', () => {
    expect(
      table(
        ['ID', 'V'],
        [
          ['gw-long', '1'],
          ['g', '22'],
        ],
      ).split('\n'),
    ).toEqual(['ID       V', 'gw-long  1', 'g        22']);
    expect([age(5_000), age(600_000), age(3 * 3600_000), age(3 * 86_400_000)]).toEqual([
      '5s',
      '10m',
      '3h',
      '3d',
    ]);
  });

  it('turns an info object into a list row and status lines, tolerating missing fields', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    const info = {
      version: '0.2.0',
      uplink: { state: 'connected', since: '2026-01-01T09:00:00Z' },
      outbox: { rows: 12 },
      set_aside: 3,
      devices: { total: 7, online: 4, asleep: 1, offline: 1, lost: 1 },
      config: { applied_at: '2026-01-01T11:50:00Z' },
      last_change: { state: 'rolled_back', at: '2026-01-01T11:00:00Z' },
    };
    expect(infoRow('gw1', info, now)).toEqual([
      'gw1',
      '0.2.0',
      'up 3h',
      '12 (+3 set aside)',
      '4/7',
      '10m',
      'rolled_back 60m ago',
    ]);
    expect(infoRow('gw2', {}, now)).toEqual(['gw2', '-', '-', '-', '-', '-', '-']);
    // Not republished within --stale-after: the uplink column says when it was last heard instead.
    const old = { ...info, at: '2026-01-01T10:00:00Z' };
    expect(infoRow('gw1', old, now, 15 * 60_000)[2]).toBe('silent 2h');
    expect(infoRow('gw1', { ...info, at: '2026-01-01T11:55:00Z' }, now, 15 * 60_000)[2]).toBe('up 3h');
    // Without --stale-after: three of the gateway's own info_interval_s (10 min here), else 15 min.
    const every200s = { ...info, info_interval_s: 200 };
    expect(infoRow('gw1', { ...every200s, at: '2026-01-01T11:49:00Z' }, now)[2]).toBe('silent 11m');
    expect(infoRow('gw1', { ...every200s, at: '2026-01-01T11:51:00Z' }, now)[2]).toBe('up 3h');
    expect(infoRow('gw1', { ...info, at: '2026-01-01T11:46:00Z' }, now)[2]).toBe('up 3h');
    expect(infoRow('gw1', { ...info, at: '2026-01-01T11:44:00Z' }, now)[2]).toBe('silent 16m');
    const pending = { ...info, pending_change: { change_id: 'c1', at: '2026-01-01T11:59:30Z' } };
    expect(infoRow('gw3', pending, now)[6]).toBe('pending since 30s');
    expect(infoLines({ a: 1, b: { c: 'x', d: [1, 2] } })).toEqual(['a: 1', 'b.c: x', 'b.d: [1,2]']);
  });

  it('names the admin topics and reads the gateway back from an info topic', () => {
    expect(requestTopic('fg/site', 'gw1', 'config/set')).toBe('fg/site/gw1/admin/req/config/set');
    expect(replyTopic('fieldgate', 'gw1', 'r1')).toBe('fieldgate/gw1/admin/reply/r1');
    expect(gatewayOfInfoTopic('fg/site', 'fg/site/gw-7/admin/info')).toBe('gw-7');
    expect(gatewayOfInfoTopic('fieldgate', 'fieldgate/a/b/admin/info')).toBeUndefined();
    expect(gatewayOfInfoTopic('fieldgate', 'other/gw/admin/info')).toBeUndefined();
    expect(topicMatches('fieldgate/+/admin/info', 'fieldgate/gw/admin/info')).toBe(true);
    expect(topicMatches('fieldgate/+/admin/info', 'fieldgate/gw/admin/change')).toBe(false);
    expect(topicMatches('a/#', 'a/b/c')).toBe(true);
  });

  it('keeps the hash of the copy in a header line config set reads back', () => {
    const text = `${hashHeader('gw1', 'abc123')}\ngateway: { id: gw1 }\n`;
    expect(headerHash(text)).toBe('abc123');
    expect(withoutHeader(text)).toBe('gateway: { id: gw1 }\n');
    expect(headerHash('gateway: { id: gw1 }\n')).toBeUndefined();
    expect(withoutHeader('# my notes\ngateway: {}\n')).toBe('# my notes\ngateway: {}\n');
  });

  it('maps answers to distinct exit codes and reads a garbled answer as an error', () => {
    expect(exitForCode('ok')).toBe(EXIT.ok);
    expect(exitForCode('pending')).toBe(EXIT.ok);
    expect(exitForCode('invalid')).toBe(EXIT.invalid);
    for (const c of ['conflict', 'busy', 'refused', 'unknown_request', 'error'])
      expect(exitForCode(c)).toBe(EXIT.refused);
    expect(new Set(Object.values(EXIT)).size).toBe(Object.keys(EXIT).length);
    expect(parseAnswer(Buffer.from('not json'), 'ping')).toMatchObject({ code: 'error', request: 'ping' });
    expect(parseAnswer(Buffer.from('{"code":"busy","message":"m"}'), 'config/set')).toEqual({
      request: 'config/set',
      code: 'busy',
      message: 'm',
    });
  });

  it('formats a log event on one line', () => {
    expect(
      formatEvent({
        time: Date.parse('2026-01-01T00:00:00Z'),
        level: 'warn',
        part: 'upstream',
        msg: 'lost',
        detail: 'ECONNRESET',
      }),
    ).toBe('2026-01-01T00:00:00.000Z WARN  [upstream] lost (ECONNRESET)');
  });
});

describe('fieldgate remote: operator settings', () => {
  it('reads the upstream-shaped file with paths relative to it; env and flags override', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'pw'), 'filepw\n');
    const file = join(dir, 'operator.yaml');
    writeFileSync(
      file,
      [
        'upstream:',
        '  url: [mqtts://a.example:8883, mqtts://b.example:8883]',
        '  username: ops',
        '  password_file: pw',
        '  tls: { ca: ca.pem }',
        'remote: { prefix: fg/site, actor: alice, timeout: 3s }',
      ].join('\n'),
    );
    const s = remoteSettings({ config: file }, {});
    expect(s.session.urls).toEqual(['mqtts://a.example:8883', 'mqtts://b.example:8883']);
    expect(s.session).toMatchObject({
      username: 'ops',
      password: 'filepw',
      protocol: '5',
      tls: { ca: join(dir, 'ca.pem') },
    });
    expect(s).toMatchObject({ prefix: 'fg/site', actor: 'alice', timeoutMs: 3000 });

    const o = remoteSettings(
      { config: file, url: ['mqtt://127.0.0.1:1883'], timeout: '500ms' },
      { FIELDGATE_REMOTE_PASSWORD: 'envpw' },
    );
    expect(o.session.urls).toEqual(['mqtt://127.0.0.1:1883']);
    expect(o.session.password).toBe('envpw');
    expect(o.timeoutMs).toBe(500);

    // FIELDGATE_REMOTE_CONFIG names the file when -c does not; FIELDGATE_REMOTE_USERNAME overrides it.
    const e = remoteSettings({}, { FIELDGATE_REMOTE_CONFIG: file, FIELDGATE_REMOTE_USERNAME: 'bob' });
    expect(e.session).toMatchObject({ username: 'bob', password: 'filepw' });
    expect(e.prefix).toBe('fg/site');
  });

  it('refuses unknown keys, gateway-only upstream keys and a missing broker with the key path', () => {
    const dir = tmpDir();
    const file = join(dir, 'op.yaml');
    writeFileSync(file, 'upstream: { url: "mqtt://127.0.0.1:1", inflight: 5 }\nremote: { prefx: x }\n');
    expect(() => remoteSettings({ config: file }, {})).toThrow(/upstream: .*inflight[\s\S]*remote: .*prefx/);
    expect(() => remoteSettings({}, {})).toThrow(SettingsError);
    expect(() => remoteSettings({ url: ['http://x'] }, {})).toThrow(/upstream\.url/);
    expect(() =>
      remoteSettings({ url: ['mqtt://127.0.0.1:1'], passwordFile: join(dir, 'nope') }, {}),
    ).toThrow(/cannot read/);
  });
});
