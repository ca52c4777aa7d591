import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { NIGHTSHIFT_VERSION } from "../../shared/version.ts";

/** Static imports of one built file: relative chunks and bare packages (node: builtins left out). */
function staticImports(file: string): { chunks: string[]; packages: string[] } {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/^import\s+(?:[^"']*?\s+from\s+)?["']([^"']+)["'];?$/gms)].map((m) => m[1] as string);
  return { chunks: specs.filter((s) => s.startsWith("./")), packages: specs.filter((s) => !s.startsWith(".") && !s.startsWith("node:")) };
}

test("the built CLI loads only commander at start; onnxruntime, gRPC, NATS, SQLite, sharp and hono load in the commands that need them", (t) => {
  // Inside the checkout (.tmp/ is ignored by git), so that the built files resolve node_modules.
  mkdirSync(join(PROJECT_ROOT, ".tmp"), { recursive: true });
  const out = mkdtempSync(join(PROJECT_ROOT, ".tmp", "build-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const build = spawnSync(process.execPath, [join(PROJECT_ROOT, "scripts/build.mjs"), "--outdir", out], { encoding: "utf8" });
  assert.equal(build.status, 0, build.stderr);

  // Everything `nightshift --help` evaluates: main.js and the chunks it imports statically, transitively.
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const { chunks, packages: p } = staticImports(join(out, name));
    for (const pkg of p) packages.add(pkg);
    for (const c of chunks) visit(c.slice(2));
  };
  visit("main.js");
  assert.deepEqual([...packages].sort(), ["commander"]);

  // The heavy modules are in the build, in chunks that only a command's `await import()` reaches.
  const all = readdirSync(out).filter((f) => f.endsWith(".js"));
  const everywhere = new Set(all.flatMap((f) => staticImports(join(out, f)).packages));
  for (const heavy of ["onnxruntime-node", "@grpc/grpc-js", "@nats-io/transport-node", "better-sqlite3", "hono"]) assert.ok(everywhere.has(heavy), `${heavy} is in the build`);
  // sharp is loaded at the dashboard's first thumbnail, not at the coordinator's start (coordinator/dashboard/thumbnails.ts).
  assert.ok(all.some((f) => readFileSync(join(out, f), "utf8").includes('import("sharp")')), "sharp is in the build");
  assert.ok(!everywhere.has("sharp"), "sharp is not imported statically: a coordinator start does not load it");

  // And it runs: --version and --help from the compiled files.
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["--input-type=module", "-e", `const { main } = await import(${JSON.stringify(pathToFileURL(join(out, "main.js")).href)}); process.exitCode = await main([process.execPath, "nightshift", ...process.argv.slice(1)]);`, "--", ...args], {
      encoding: "utf8",
    });
  const version = run("--version");
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), NIGHTSHIFT_VERSION);
  const help = run("--help");
  assert.equal(help.status, 0, help.stderr);
  for (const cmd of ["demo", "coordinator", "agent", "submit", "jobs", "report"]) assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`));
});
