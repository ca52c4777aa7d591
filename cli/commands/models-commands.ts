import { createReadStream, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import type { Command } from "commander";
import type { ModelView } from "../../proto/gen/nightshift/v1/control.ts";
import { BadInputError } from "../../shared/errors.ts";
import { table } from "../format/format.ts";
import { clientOptions, printJson, withControl, type ClientFlags } from "./client-options.ts";

interface AddFlags extends ClientFlags {
  name: string;
  license?: string;
  source?: string;
  manifest?: string;
}

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function printModels(models: ModelView[]): void {
  process.stdout.write(table(["name", "sha256", "size", "license", "source"], models.map((m) => [m.name, m.sha256.slice(0, 12), mib(m.size), m.license, m.source])) + "\n");
}

/** The manifest for `file`: --manifest, or the one beside it whose `file` names it. */
async function manifestFor(file: string, explicit: string | undefined): Promise<{ path: string; raw: Record<string, unknown> }> {
  let path = explicit ? resolve(explicit) : undefined;
  if (!path) {
    const { listModels } = await import("../../shared/model-manifest/model-registry.ts");
    const beside = (await listModels(dirname(file))).find((l) => l.ok && l.model.modelPath === file);
    if (!beside) throw new BadInputError(`${file}: no manifest beside it names this file; pass --manifest FILE (see models/*.manifest.json)`, { field: "manifest" });
    path = beside.manifestPath;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new BadInputError(`${path}: cannot read the manifest as JSON`, { field: "manifest", cause: err });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new BadInputError(`${path}: the manifest must be a JSON object`, { field: "manifest" });
  return { path, raw: raw as Record<string, unknown> };
}

export function registerModelCommands(program: Command): void {
  const models = program.command("models").description("the coordinator's model store: agents fetch models from it by sha256");

  clientOptions(models.command("add <file>").description("add a model file (with its manifest) to the store"))
    .requiredOption("--name <name>", "the name jobs use")
    .option("--license <spdx>", "SPDX licence id of the weights (e.g. Apache-2.0)")
    .option("--source <url>", "where the weights came from")
    .option("--manifest <file>", "the model's manifest (default: the *.manifest.json beside the file that names it)")
    .action(async (fileArg: string, flags: AddFlags) => {
      const file = resolve(fileArg);
      let size: number;
      try {
        const s = statSync(file);
        if (!s.isFile()) throw new Error("not a regular file");
        size = s.size;
      } catch (err) {
        throw new BadInputError(`${fileArg}: cannot read the model file (${(err as Error).message})`, { field: "file", cause: err });
      }
      const manifest = await manifestFor(file, flags.manifest);
      const { sha256File } = await import("../../shared/model-manifest/model-file-hash.ts");
      const sha256 = await sha256File(file);
      if (manifest.raw.sha256 !== undefined && manifest.raw.sha256 !== sha256) {
        throw new BadInputError(`${manifest.path}: sha256 ${String(manifest.raw.sha256)} is not the sha256 of ${fileArg} (${sha256})`, { field: "manifest.sha256" });
      }
      const manifestJson = JSON.stringify({ ...manifest.raw, sha256, file: basename(file) });
      await withControl(flags, async (c) => {
        const m = await c.addModel(
          { name: flags.name, manifestJson, license: flags.license ?? "", source: flags.source ?? "", size },
          createReadStream(file, { highWaterMark: 1024 * 1024 }),
        );
        if (flags.json) printJson(m);
        else process.stdout.write(`added ${m.name}: sha256 ${m.sha256}, ${mib(m.size)}\n`);
      });
    });

  clientOptions(models.command("list").description("list the models in the store")).action(async (flags: ClientFlags) => {
    await withControl(flags, async (c) => {
      const { models: all } = await c.listModels();
      if (flags.json) printJson(all.map((m) => ({ ...m, manifest: JSON.parse(m.manifestJson) as unknown, manifestJson: undefined })));
      else printModels(all);
    });
  });

  clientOptions(models.command("rm <name>").description("remove a model from the store (its bytes go when no other name uses them)")).action(async (name: string, flags: ClientFlags) => {
    await withControl(flags, async (c) => {
      const m = await c.removeModel(name);
      if (flags.json) printJson(m);
      else process.stdout.write(`removed ${m.name} (${m.sha256.slice(0, 12)})\n`);
    });
  });
}
