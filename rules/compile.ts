import { randomUUID } from 'node:crypto';
import type { RulesConfig } from './config.js';
import { CompiledCommandRule } from './command-rules.js';
import { RuleEngine } from './engine.js';
import { Problems } from './errors.js';
import { CompiledTrigger } from './triggers.js';
import { compileUplinkRule, DefaultRoute } from './uplink.js';

export interface RuleEngineOptions {
  /** gateway.id: substituted for {gateway} in patterns and templates. */
  gatewayId: string;
  /** Command id factory; crypto.randomUUID by default (tests pass a counter). */
  newId?: () => string;
}

/**
 * Compile the `rules`, `default_route`, `commands` and `triggers` config sections. Throws one
 * RulesCompileError listing every problem with its config path (for `fieldgate check`).
 */
export function compileRules(config: Partial<RulesConfig>, options: RuleEngineOptions): RuleEngine {
  const problems = new Problems();
  const gateway = options.gatewayId;
  const rules = (config.rules ?? []).map((r, i) => compileUplinkRule(r, i, gateway, problems));
  const defaultRoute = DefaultRoute.compile(config.default_route ?? { action: 'pass', prefix: '' }, problems);
  const commands = (config.commands ?? []).map((c, i) =>
    CompiledCommandRule.compile(c, i, gateway, problems),
  );
  const triggers = (config.triggers ?? []).map((t, i) => CompiledTrigger.compile(t, i, gateway, problems));
  problems.throwIfAny();
  return new RuleEngine(
    gateway,
    Object.freeze(rules.filter((r) => r !== undefined)),
    defaultRoute,
    Object.freeze(commands.filter((c) => c !== undefined)),
    Object.freeze(triggers.filter((t) => t !== undefined)),
    options.newId ?? randomUUID,
  );
}
