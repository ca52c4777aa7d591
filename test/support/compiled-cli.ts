/**
 * The CLI compiled once for a long test run (the fault soak), as a release
 * runs it: scripts/build.mjs into a fresh folder under the checkout's .tmp/
 * (the package root is still found above it), never the dist/ a user runs.
 * Without it every process the soak starts or restarts would compile the
 * TypeScript on the fly through tsx first, seconds that a studio's coordinator
 * restart does not spend.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../cli/paths.ts";

/** Node runs this with the compiled main.js and the CLI's arguments after it (test/support/run-compiled.mjs). */
export const RUN_COMPILED = join(PROJECT_ROOT, "test/support/run-compiled.mjs");

export interface CompiledCli {
  /** The compiled main.js. */
  readonly main: string;
  remove(): void;
}

/** Builds the CLI now (a few seconds); throws with esbuild's output when the build fails. */
export function buildCompiledCli(): CompiledCli {
  mkdirSync(join(PROJECT_ROOT, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(PROJECT_ROOT, ".tmp", "compiled-cli-"));
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, "scripts/build.mjs"), "--outdir", dir], { cwd: PROJECT_ROOT, encoding: "utf8" });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`scripts/build.mjs failed (${r.status}): ${(r.stderr || r.stdout).slice(-2000)}`);
  }
  return { main: join(dir, "main.js"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
