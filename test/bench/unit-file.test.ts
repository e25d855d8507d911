import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMemory, parseUnit, splitWords } from '../../bench/unit-file.js';

const GiB = 2 ** 30;
const unit = (service: string) =>
  `[Unit]\nDescription=x\nMemoryMax=1G\n\n[Service]\n${service}\n\n[Install]\nWantedBy=multi-user.target\n`;

describe('bench/unit-file: what the bench reads of systemd/fieldgate.service', () => {
  it('splits words as systemd does: quotes group, backslash escapes', () => {
    expect(splitWords(`a "b c" 'd e' f\\ g  "" h`)).toEqual(['a', 'b c', 'd e', 'f g', '', 'h']);
    expect(() => splitWords('a "b')).toThrow(/unterminated/);
  });

  it('takes the node flags between the binary and the script, and ignores the script arguments', () => {
    const u = parseUnit(
      unit(
        'ExecStart=/usr/bin/node --max-old-space-size=64 --max-semi-space-size=2 /opt/fieldgate/bin/fieldgate.js run -c /etc/fieldgate/fieldgate.yaml',
      ),
      4 * GiB,
    );
    expect(u.nodeFlags).toEqual(['--max-old-space-size=64', '--max-semi-space-size=2']);
    expect(parseUnit(unit('ExecStart=/usr/bin/node /opt/x.js run'), GiB).nodeFlags).toEqual([]);
  });

  it('handles an ExecStart prefix, continuation lines, and uses the last ExecStart', () => {
    const u = parseUnit(
      unit('ExecStart=/bin/false\nExecStart=-/usr/bin/node \\\n  --jitless \\\n  /opt/x.js run'),
      GiB,
    );
    expect(u.nodeFlags).toEqual(['--jitless']);
  });

  it('refuses a flag whose value is a separate word rather than misreading it as the script', () => {
    expect(() => parseUnit(unit('ExecStart=/usr/bin/node -r ./x.js /opt/x.js'), GiB)).toThrow(/-r=/);
  });

  it('collects Environment= assignments (quoted, several per line, an empty one resets)', () => {
    const u = parseUnit(
      unit(
        'Environment=DROPPED=1\nEnvironment=\nEnvironment=NODE_ENV=production "UV_THREADPOOL_SIZE=2"\nEnvironment=A=b=c\nExecStart=/usr/bin/node /x.js',
      ),
      GiB,
    );
    expect(u.env).toEqual({ NODE_ENV: 'production', UV_THREADPOOL_SIZE: '2', A: 'b=c' });
  });

  it('reads MemoryMax= from [Service] only, in systemd units (base 1024), percent or infinity', () => {
    expect(parseUnit(unit('ExecStart=/usr/bin/node /x.js'), GiB).memoryMax).toBeUndefined();
    const u = parseUnit(unit('MemoryMax=256M\nExecStart=/usr/bin/node /x.js'), GiB);
    expect(u.memoryMax).toBe(256 * 2 ** 20);
    expect(u.memoryMaxText).toBe('256M');
    expect(parseMemory('infinity', GiB)).toBeUndefined();
    expect(parseMemory('25%', 4 * GiB)).toBe(GiB);
    expect(parseMemory('1048576', GiB)).toBe(2 ** 20);
    expect(parseMemory('1.5G', GiB)).toBe(1.5 * GiB);
    expect(() => parseMemory('lots', GiB)).toThrow(/MemoryMax=lots/);
  });

  it('parses the unit the project ships, whose script is bin/fieldgate.js', () => {
    const text = readFileSync('systemd/fieldgate.service', 'utf8');
    const u = parseUnit(text, 4 * GiB);
    const exec = /^ExecStart=(.*)$/m.exec(text)![1]!;
    const script = splitWords(exec)[u.nodeFlags.length + 1];
    expect(script).toMatch(/bin\/fieldgate\.js$/);
    expect(u.env.NODE_ENV).toBe('production');
  });
});
