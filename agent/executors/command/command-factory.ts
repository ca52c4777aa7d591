import { NIGHTSHIFT_VERSION } from "../../../shared/version.ts";
import type { CommandWorkStep } from "../../../shared/steps/work-step.ts";
import type { ExecutorFactory } from "../executor-registry.ts";
import { NoExecutorError } from "../executor-registry.ts";
import { runnablePrograms, type CommandAllowlist } from "./command-allowlist.ts";
import { CommandExecutor } from "./command-executor.ts";

/**
 * The `command` kind: offered when the agent's admin allowed at least one
 * program that exists here; the capability lists the allowed names, so the
 * scheduler never places a step naming another program on this agent, and the
 * factory refuses it again should one arrive.
 */
export function commandFactory(allowed: CommandAllowlist): ExecutorFactory<CommandWorkStep> {
  return {
    kind: "command",
    async probe() {
      const names = runnablePrograms(allowed);
      return names.length === 0 ? null : { kind: "command", version: NIGHTSHIFT_VERSION, features: names };
    },
    reuseKey: () => null,
    async create(step) {
      const program = Object.hasOwn(allowed, step.program) ? allowed[step.program] : undefined;
      if (!program) throw new NoExecutorError(`command '${step.program}' (not allowed on this agent)`);
      return new CommandExecutor(step, program);
    },
  };
}
