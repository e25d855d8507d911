// The rules engine's public surface: what the gateway and the CLI import.
export { compileRules, type RuleEngineOptions } from './compile.js';
export { type DownlinkResult, RuleEngine, type UplinkResult } from './engine.js';
export type { RulesConfig } from './config.js';
export {
  commandReply,
  commandResult,
  type CommandOutcome,
  type ResponseRequest,
  type RoutedCommand,
} from './command-rules.js';
export { dryRun, type DryRunInput, type DryRunResult, formatDryRun } from './dry-run.js';
export { type ConfigPath, type RuleProblem, RulesCompileError } from './errors.js';
export type { DropReason, TraceEntry } from './uplink.js';
