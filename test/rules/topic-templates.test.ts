import { describe, expect, it } from 'vitest';
import { configChecks } from '../../gateway/config/checks.js';
import { ConfigError, parseConfig } from '../../gateway/config/load.js';

/** `fieldgate check` runs parseConfig with configChecks: the same problems, with key path and line. */
function check(text: string) {
  try {
    parseConfig(text, 'test.yaml', {}, configChecks);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => ({ ...p }));
    throw err;
  }
}

const head = 'gateway: { id: gw1 }\nupstream: { url: "mqtt://127.0.0.1:1883" }\n';

describe('topic templates with an impossible fixed text are config errors', () => {
  it('a wildcard or a control character in a rule publish template, with its line', () => {
    const ps = check(
      [
        head.trimEnd(), //                               1-2
        'rules:', //                                     3
        '  - match: a/#', //                             4
        '    publish: "site/#/{device}"', //             5
        '  - match: b/#', //                             6
        '    publish: "site/x\\u0013/{device}"', //      7
        '  - match: c/#', //                             8
        '    publish: "site/{device}/ok//levels"', //    9  empty levels are valid
        'default_route: { prefix: "up/+/" }', //         10
        'commands:', //                                  11
        '  - subscribe: cmd/{gateway}/+device', //       12
        '    to: serial:none', //                        13
        '    result_topic: "res/{device}/\\u0000"', //   14
      ].join('\n'),
    );
    const byPath = (path: string) => ps.find((p) => p.path === path);
    expect(byPath('rules.0.publish')).toMatchObject({ line: 5 });
    expect(byPath('rules.0.publish')?.message).toMatch(/wildcard/);
    expect(byPath('rules.1.publish')).toMatchObject({ line: 7 });
    expect(byPath('rules.1.publish')?.message).toMatch(/control character/);
    expect(byPath('rules.2.publish')).toBeUndefined();
    expect(byPath('default_route.prefix')?.message).toMatch(/wildcard/);
    expect(byPath('commands.0.result_topic')?.message).toMatch(/U\+0000/);
  });

  it('placeholders are not wildcards: a template made of them passes', () => {
    expect(
      check(
        `${head}rules:\n  - match: +dev/#rest\n    publish: "site/{gateway}/{dev}/{rest}/{fields.room}"\n`,
      ),
    ).toEqual([]);
  });
});
