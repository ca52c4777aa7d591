import type { Command } from "commander";
import type { AgentDecision } from "../../proto/gen/nightshift/v1/enrollment.ts";
import { clientOptions, printJson } from "./client-options.ts";
import type { AdminFlags } from "../studio-admin-client.ts";

/** `nightshift agents approve ID` and `nightshift agents remove ID`, under the existing `agents` command. */
export function registerAgentDecisions(program: Command): void {
  const agents = program.commands.find((c) => c.name() === "agents");
  if (agents === undefined) throw new Error("register the agents command first");
  const print = (d: AgentDecision, json: boolean | undefined): void => {
    if (json) return printJson(d);
    const requeued = d.requeuedChunks > 0 ? `, ${d.requeuedChunks} chunk(s) back in the queue` : "";
    process.stdout.write(`agent ${d.agentId} (${d.name}): ${d.message}; state ${d.state}${requeued}\n`);
  };
  // The parent `agents` command has the same flags and takes them wherever they stand: merge both.
  const flagsOf = (cmd: Command): AdminFlags => cmd.optsWithGlobals<AdminFlags>();
  clientOptions(agents.command("approve <id>").description("let a pending (or discovered) agent enroll without a token")).action(
    async (id: string, _flags: AdminFlags, cmd: Command) => {
      const flags = flagsOf(cmd);
      const { withStudioAdmin } = await import("../studio-admin-client.ts");
      print(await withStudioAdmin(flags, (a) => a.approveAgent(id)), flags.json);
    },
  );
  clientOptions(
    agents.command("remove <id>").description("revoke an agent at once: its chunks go back to the queue, its credentials stop working"),
  ).action(async (id: string, _flags: AdminFlags, cmd: Command) => {
    const flags = flagsOf(cmd);
    const { withStudioAdmin } = await import("../studio-admin-client.ts");
    print(await withStudioAdmin(flags, (a) => a.removeAgent(id)), flags.json);
  });
  for (const c of agents.commands) c.exitOverride();
}
