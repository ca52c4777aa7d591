import { Command, CommanderError } from "commander";
import { NIGHTSHIFT_VERSION } from "../shared/version.ts";
import { BadInputError } from "../shared/errors.ts";
import { describeFailure, EXIT_BAD_INPUT, EXIT_OK } from "./exit-codes.ts";
import { registerDemo } from "./commands/demo-command.ts";
import { registerCoordinator } from "./commands/coordinator-command.ts";
import { registerAgent } from "./commands/agent-command.ts";
import { registerJobCommands } from "./commands/jobs-commands.ts";
import { registerAgents } from "./commands/agents-command.ts";
import { registerReport } from "./commands/report-command.ts";
import { registerToken } from "./commands/token-command.ts";
import { registerAgentDecisions } from "./commands/agent-decisions-command.ts";
import { registerAdmin } from "./commands/admin-command.ts";
import { registerModelCommands } from "./commands/models-commands.ts";
import { registerAssetCommands } from "./commands/assets-commands.ts";
import { registerVerify } from "./commands/verify-command.ts";
import { registerDashboard } from "./commands/dashboard-command.ts";
import { registerNatsCluster } from "./commands/nats-cluster-command.ts";

/** `--log-format` becomes NIGHTSHIFT_LOG_FORMAT, which shared/log.ts reads when a command makes its logger. */
function applyLogFormat(flag: string | undefined): void {
  const format = flag ?? process.env.NIGHTSHIFT_LOG_FORMAT;
  if (format === undefined || format === "") return;
  const field = flag === undefined ? "NIGHTSHIFT_LOG_FORMAT" : "--log-format";
  if (format !== "json" && format !== "pretty") throw new BadInputError(`${field}: expected pretty or json, got '${format}'`, { field });
  process.env.NIGHTSHIFT_LOG_FORMAT = format;
}

export function buildProgram(): Command {
  const program = new Command("nightshift")
    .description("a private render farm for open-weight AI models on your own GPUs")
    .version(NIGHTSHIFT_VERSION)
    .option("--log-format <format>", "logs as 'pretty' lines or 'json' lines (default: pretty on a terminal, json otherwise)")
    .exitOverride()
    .showHelpAfterError()
    .hook("preAction", (cmd) => applyLogFormat(cmd.opts<{ logFormat?: string }>().logFormat));
  registerDemo(program);
  registerCoordinator(program);
  registerAgent(program);
  registerJobCommands(program);
  registerAgents(program);
  registerAgentDecisions(program);
  registerToken(program);
  registerAdmin(program);
  registerReport(program);
  registerModelCommands(program);
  registerAssetCommands(program);
  registerVerify(program);
  registerDashboard(program);
  registerNatsCluster(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Runs the CLI and returns the exit code: 0 ok, 2 bad usage or input, 1 anything else. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0) return EXIT_OK;
      return EXIT_BAD_INPUT;
    }
    const { code, message } = describeFailure(err);
    process.stderr.write(`nightshift: ${message}\n`);
    return code;
  }
}
