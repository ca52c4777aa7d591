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
        blocklistedJobs: a.blocklistedJobs,
        status: a.status,
        note: a.note,
        powerWatts: a.powerWatts ?? null,
        energySource: a.energySource,
        keyFingerprint: a.keyFingerprint,
        nameVerified: a.nameVerified,
      }));
      if (flags.json) return printJson(list);
      process.stdout.write(
        table(
          ["id", "name", "state", "status", "power", "gpus", "last seen", "blocklisted for"],
          list.map((a) => [a.id, shownName(a), a.state, a.status, formatPower(a.powerWatts, a.energySource), a.gpus.map((g) => `${g.name} ${formatBytes(g.vramBytes)}`).join(", ") || "cpu", a.lastSeen, a.blocklistedJobs.join(", ")]),
        ) + "\n",
      );
      for (const a of list) if (a.note) process.stdout.write(`${a.name}: ${a.note}\n`);
      for (const a of list) {
        if (a.state === "pending") process.stdout.write(`${a.id}: key sha256 ${a.keyFingerprint}; compare with the agent's log, then: nightshift agents approve ${a.id}\n`);
      }
    });
  });
}

/** A name nobody vouched for yet (pending, discovered) is the agent's own claim: shown quoted and marked. */
function shownName(a: { name: string; nameVerified: boolean; state: string }): string {
  return a.nameVerified || a.state === "removed" ? a.name : `"${a.name.slice(0, 40)}" (unverified)`;
}

/** "212 W nvml"; estimates say so; "" when unknown. */
function formatPower(watts: number | null, source: string): string {
  return watts === null ? "" : `${watts.toFixed(0)} W ${source}`;
}
