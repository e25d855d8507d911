/** Where in the config a problem is, e.g. ['rules', 2, 'filter'] (maps to a YAML line in `fieldgate check`). */
export type ConfigPath = (string | number)[];

export interface RuleProblem {
  path: ConfigPath;
  message: string;
}

/** Every problem found while compiling rules, thrown once so `fieldgate check` can list them all. */
export class RulesCompileError extends Error {
  override readonly name = 'RulesCompileError';
  constructor(readonly problems: RuleProblem[]) {
    super(
      `${problems.length} rule problem(s)\n${problems.map((p) => `  ${p.path.join('.')}: ${p.message}`).join('\n')}`,
    );
  }
}

/** Collects problems during compile; compilers keep going after a problem to report the rest too. */
export class Problems {
  readonly list: RuleProblem[] = [];
  add(path: ConfigPath, message: string): void {
    this.list.push({ path, message });
  }
  throwIfAny(): void {
    if (this.list.length) throw new RulesCompileError(this.list);
  }
}
