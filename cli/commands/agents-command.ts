import type { Command } from "commander";
import { table, formatBytes } from "../format/format.ts";
import { clientOptions, printJson, withControl, type ClientFlags } from "./client-options.ts";

export function registerAgents(program: Command): void {
  clientOptions(program.command("agents").description("list agents")).action(async (flags: ClientFlags) => {
    await withControl(flags, async (c) => {
      const { agents } = await c.listAgents();
      const list = agents.map((a) => ({
        id: a.id,
        name: a.name,
        state: a.state,
        gpus: a.gpus.map((g) => ({ name: g.name, vramBytes: g.vramBytes })),
        lastSeen: new Date(a.lastSeenMs).toISOString(),
        version: a.version,
      }));
      if (flags.json) return printJson(list);
      process.stdout.write(
        table(
          ["id", "name", "state", "gpus", "last seen"],
          list.map((a) => [a.id, a.name, a.state, a.gpus.map((g) => `${g.name} ${formatBytes(g.vramBytes)}`).join(", ") || "cpu", a.lastSeen]),
        ) + "\n",
      );
    });
  });
}
