import { describe, expect, it } from 'vitest';
import { Problems } from '../../rules/errors.js';
import { compileTemplate } from '../../rules/template.js';

const scope = new Set(['device', 'gateway', 'fields']);

function compile(source: string) {
  const problems = new Problems();
  return { t: compileTemplate(source, scope, problems, ['rules', 1, 'publish']), problems: problems.list };
}

describe('templates', () => {
  it('renders names and nested payload fields', () => {
    const { t } = compile('site/{gateway}/{device}/{fields.env.room}/{fields.n}');
    const r = t!.render({ vars: { gateway: 'gw1', device: 'd1' }, fields: { env: { room: 'lab' }, n: 3 } });
    expect(r).toEqual({ ok: true, text: 'site/gw1/d1/lab/3' });
  });

  it('leaves brace text that is not a placeholder alone (JSON payloads need no escaping)', () => {
    const { t } = compile('{"fan":"on","dev":"{device}"}');
    expect(t!.render({ vars: { device: 'd1' }, fields: {} })).toEqual({
      ok: true,
      text: '{"fan":"on","dev":"d1"}',
    });
  });

  it('reports a missing field at run time instead of rendering an empty string', () => {
    const { t } = compile('x/{fields.temp}');
    expect(t!.render({ vars: {}, fields: { hum: 1 } })).toEqual({ ok: false, missing: 'fields.temp' });
    expect(t!.render({ vars: {}, fields: { temp: null } })).toEqual({ ok: false, missing: 'fields.temp' });
  });

  it('rejects unknown placeholders at compile time, naming the known ones', () => {
    const { t, problems } = compile('site/{temp}/{devce}');
    expect(t).toBeUndefined();
    expect(problems).toHaveLength(2);
    expect(problems[0]).toEqual({
      path: ['rules', 1, 'publish'],
      message: expect.stringMatching(/unknown placeholder \{temp\}.*\{fields\.<name>\}/),
    });
  });

  it('rejects bare {fields}', () => {
    expect(compile('{fields}').problems).toHaveLength(1);
  });
});
