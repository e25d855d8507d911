import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../gateway/config/load.js';

const FILE = 'systemd/fieldgate.example.yaml';

describe('systemd/fieldgate.example.yaml', () => {
  it('loads with the real config loader, with the /etc defaults the unit expects', () => {
    const c = loadConfig(FILE, {});
    expect(c.gateway.state_dir).toBe('/var/lib/fieldgate');
    expect(c.upstream.url).toBe('mqtt://127.0.0.1:1883');
    expect(c.upstream.password_file).toBeUndefined();
    expect(c.serial).toEqual([]);
    expect(c.http).toEqual({
      enabled: true,
      listen: { host: '127.0.0.1', port: 9464 },
      health: { flap_disconnects: 3, flap_window: 300_000, stall_after: 120_000 },
      allowed_hosts: [],
    });
    expect(c.upstream.response_topics).toEqual(['reply/#']);
    expect(c.stats.topic).toBeUndefined();
  });

  it('its commented-out examples are valid too once uncommented', () => {
    // Drop the empty placeholders and uncomment every commented config line.
    const text = readFileSync(FILE, 'utf8')
      .split('\n')
      .filter((l) => !/^(serial|rules): \[\]/.test(l))
      .map((l) => l.replace(/^(\s*)# ((?:[a-z_]+:|\s+-|\s+[a-z_]+:).*)$/, '$1$2'))
      .join('\n');
    // The password file does not exist here; the env override means it is not read.
    const c = parseConfig(text, FILE, { FIELDGATE_UPSTREAM_PASSWORD: 'secret' });
    expect(c.upstream.password_file).toBe('/etc/fieldgate/password');
    expect(c.upstream.tls?.ca).toBe('/etc/fieldgate/ca.pem');
    expect(c.serial[0]).toMatchObject({ name: 'weather', baud: 115200, framing: 'line', format: 'kv' });
    expect(c.rules).toHaveLength(1);
    expect(c.stats).toEqual({ topic: 'fieldgate/{gateway}/stats', interval: 60_000 });
    expect(c.http.allowed_hosts).toEqual(['fieldgate.lan']);
  });
});
