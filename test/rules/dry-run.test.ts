import { describe, expect, it } from 'vitest';
import { dryRun, formatDryRun } from '../../rules/dry-run.js';
import { engine } from './helpers.js';

const e = () =>
  engine({
    rules: [
      {
        name: 'temp',
        match: 'sensors/+device/temp',
        filter: 'payload < 100',
        transform: '{"c": payload}',
        publish: 'site/{gateway}/{device}/t',
      },
    ],
    default_route: { action: 'drop' },
    triggers: [
      {
        name: 'fan',
        match: 'sensors/+device/temp',
        when: 'payload > 30',
        to: 'mqttsn',
        device: 'fan',
        payload: 'on',
      },
    ],
    commands: [{ name: 'cmd', subscribe: 'cmd/{gateway}/+device', to: 'serial:weather' }],
  });

describe('dry run', () => {
  it('shows the rule trace, the published message and the fired command for an uplink reading', async () => {
    const r = await dryRun(e(), {
      source: 'serial:weather',
      topic: 'sensors/t1/temp',
      payload: '31',
      now: 0,
    });
    expect(r.trace).toEqual([
      { rule: 'temp', outcome: 'published', topic: 'site/gw1/t1/t' },
      { rule: 'fan', outcome: 'command', topic: 'sensors/t1/temp', detail: 'mqttsn fan' },
    ]);
    expect(formatDryRun(r)).toBe(
      [
        'uplink  serial:weather dry-run sensors/t1/temp "31"',
        '  temp: published site/gw1/t1/t',
        '  fan: command sensors/t1/temp (mqttsn fan)',
        'publish site/gw1/t1/t qos=0 {"c":31}',
        'command mqttsn device=fan topic=sensors/t1/temp qos=1 expires=1970-01-01T01:00:00.000Z on',
        '',
      ].join('\n'),
    );
  });

  it('says why nothing was sent', async () => {
    const filtered = await dryRun(e(), {
      source: 'serial:weather',
      topic: 'sensors/t1/temp',
      payload: '200',
      now: 0,
    });
    expect(formatDryRun(filtered)).toContain('  temp: filtered\n');
    expect(formatDryRun(filtered)).toMatch(/not published: filtered\n$/);
    const unmatched = await dryRun(e(), {
      source: 'mqttsn',
      topic: 'other',
      payload: 'x',
      device: 'd2',
      now: 0,
    });
    expect(unmatched.dropped).toBe('no_rule');
    expect(formatDryRun(unmatched)).toContain('uplink  mqttsn d2 other "x"');
  });

  it('runs the downlink direction for --upstream', async () => {
    const r = await dryRun(e(), { direction: 'downlink', topic: 'cmd/gw1/t1', payload: 'reboot', now: 0 });
    expect(r.commands).toMatchObject([{ target: 'serial:weather', device: 't1', topic: 'cmd/gw1/t1' }]);
    expect(formatDryRun(r)).toContain('command serial:weather device=t1 topic=cmd/gw1/t1 qos=1');
    const none = await dryRun(e(), { direction: 'downlink', topic: 'nobody/listens', payload: 'x', now: 0 });
    expect(formatDryRun(none)).toMatch(/no command: no_command_rule\n$/);
  });
});
