import type { z } from 'zod';
import type { Reading } from '../../adapters/types.js';
import { compileRules } from '../../rules/compile.js';
import type { RuleEngine } from '../../rules/engine.js';
import {
  commandsConfigSchema,
  defaultRouteSchema,
  rulesConfigSchema,
  triggersConfigSchema,
} from '../../rules/config.js';

/** Config as a user writes it (YAML-shaped), run through the real schemas so defaults apply. */
export interface RawRules {
  rules?: z.input<typeof rulesConfigSchema>;
  default_route?: z.input<typeof defaultRouteSchema>;
  commands?: z.input<typeof commandsConfigSchema>;
  triggers?: z.input<typeof triggersConfigSchema>;
}

export function parseRules(raw: RawRules) {
  return {
    rules: rulesConfigSchema.parse(raw.rules),
    default_route: defaultRouteSchema.parse(raw.default_route),
    commands: commandsConfigSchema.parse(raw.commands),
    triggers: triggersConfigSchema.parse(raw.triggers),
  };
}

export function engine(raw: RawRules): RuleEngine {
  let n = 0;
  return compileRules(parseRules(raw), { gatewayId: 'gw1', newId: () => `id-${++n}` });
}

export function reading(
  over: Partial<Omit<Reading, 'payload'>> & { payload?: Buffer | string } = {},
): Reading {
  const { payload = '21.5', ...rest } = over;
  return {
    source: 'serial:weather',
    device: 'dev-a',
    topic: 'sensors/t1/temp',
    qos: 1,
    retain: false,
    receivedAt: 1000,
    ...rest,
    payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
  };
}

export const text = (b: Buffer) => b.toString('utf8');
