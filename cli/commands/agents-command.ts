import type { Command } from "commander";
import { agentListItems, agentsText } from "../format/agents-listing.ts";
import { clientOptions, printJson, withControl, type ClientFlags } from "./client-options.ts";

export function registerAgents(program: Command): void {
  clientOptions(program.command("agents").description("list agents (with each step kind's tool, and the devices and VRAM ComfyUI reports)")).action(async (flags: ClientFlags) => {
    await withControl(flags, async (c) => {
      const list = agentListItems((await c.listAgents()).agents);
      if (flags.json) return printJson(list);
      process.stdout.write(agentsText(list));
    });
  });
}
