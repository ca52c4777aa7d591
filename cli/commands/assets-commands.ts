import type { Command } from "commander";
import { table } from "../format/format.ts";
import { clientOptions, printJson, withControl, type ClientFlags } from "./client-options.ts";

interface GcFlags extends ClientFlags {
  dryRun?: boolean;
}

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/**
 * `nightshift assets gc`: the coordinator's asset store cleanup (coordinator/assets/asset-collector.ts);
 * `nightshift assets list`: every stored blob with its kinds, names and the jobs that name it. Admin certificate only.
 */
export function registerAssetCommands(program: Command): void {
  const assets = program.command("assets").description("the coordinator's asset store (models, uploaded scene files, comfyui input images)");

  clientOptions(assets.command("list").description("every stored blob: sha256, size, kind, names and the jobs that name it")).action(async (flags: ClientFlags) => {
    await withControl(flags, async (c) => {
      const { assets: list } = await c.listAssets();
      if (flags.json) return printJson(list);
      const rows = list.map((a) => [a.sha256.slice(0, 16), String(a.size), a.kinds.join(", ") || "(unnamed)", a.names.join(", "), a.jobs.join(", ")]);
      process.stdout.write(table(["sha256", "bytes", "kind", "names", "jobs"], rows) + "\n");
    });
  });

  clientOptions(
    assets
      .command("gc")
      .description("remove stored blobs that no model, no queued or running job and no job within assetRetentionHours names (uploads younger than assetUploadGraceMinutes stay)")
      .option("--dry-run", "only list what would be removed"),
  ).action(async (flags: GcFlags) => {
    await withControl(flags, async (c) => {
      const r = await c.collectAssets(flags.dryRun === true);
      if (flags.json) return printJson(r);
      const verb = r.dryRun ? "would remove" : "removed";
      for (const a of r.removed) process.stdout.write(`${verb} ${a.sha256} (${mib(a.size)})\n`);
      process.stdout.write(`${verb} ${r.removed.length} blob(s), ${mib(r.removedBytes)}; kept ${r.keptInUse} in use and ${r.keptRecent} recently uploaded, ${mib(r.keptBytes)}\n`);
    });
  });
}
