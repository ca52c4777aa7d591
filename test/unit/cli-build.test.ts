import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { NIGHTSHIFT_VERSION } from "../../shared/version.ts";
import { generateEcKeyPair } from "../../shared/tls/pem-keys.ts";

/** Static imports of one built file: relative chunks and bare packages (node: builtins left out). */
function staticImports(file: string): { chunks: string[]; packages: string[] } {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/^import\s+(?:[^"']*?\s+from\s+)?["']([^"']+)["'];?$/gms)].map((m) => m[1] as string);
  return { chunks: specs.filter((s) => s.startsWith("./")), packages: specs.filter((s) => !s.startsWith(".") && !s.startsWith("node:")) };
}

/** The packages that loading these built files loads: their static imports, and their chunks' static imports, transitively. */
function packagesReached(out: string, files: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const { chunks, packages: p } = staticImports(join(out, name));
    for (const pkg of p) packages.add(pkg);
    for (const c of chunks) visit(c.slice(2));
  };
  for (const f of files) visit(f);
  return packages;
}

/** Builds the CLI into a fresh folder inside the checkout (.tmp/ is ignored by git), so that the built files resolve node_modules. */
function buildCli(t: TestContext): string {
  mkdirSync(join(PROJECT_ROOT, ".tmp"), { recursive: true });
  const out = mkdtempSync(join(PROJECT_ROOT, ".tmp", "build-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const build = spawnSync(process.execPath, [join(PROJECT_ROOT, "scripts/build.mjs"), "--outdir", out], { encoding: "utf8" });
  assert.equal(build.status, 0, build.stderr);
  return out;
}

test("the built CLI loads only commander at start; onnxruntime, gRPC, NATS, SQLite, sharp and hono load in the commands that need them", (t) => {
  const out = buildCli(t);
  // Everything `nightshift --help` evaluates: main.js and the chunks it imports statically, transitively.
  assert.deepEqual([...packagesReached(out, ["main.js"])].sort(), ["commander"]);

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

test("a coordinator's start loads no YAML parser, pretty printer, Prometheus client, esbuild or X.509 builder unless asked for them", async (t) => {
  // Every module loaded is time a restarted coordinator is not listening (issue 15, twelfth round): the YAML reader only
  // with --config, pino-pretty only for logs on a terminal, prom-client only with metricsListen, esbuild never from dist/,
  // @peculiar/x509 only when a certificate is issued (thirteenth round: a restart reuses its kept server certificate).
  const out = buildCli(t);
  const main = readFileSync(join(out, "main.js"), "utf8");
  // The chunks the coordinator command's action imports (cli/commands/coordinator-command.ts), less the config file reader.
  const action = main.slice(main.indexOf('.command("coordinator")'), main.indexOf('.command("agent")'));
  const chunks = [...action.matchAll(/import\("\.\/([^"]+)"\)/g)].map((m) => m[1] as string).filter((f) => !f.startsWith("config-file-"));
  assert.ok(chunks.some((f) => f.startsWith("coordinator-")), `the coordinator command's chunks: ${chunks.join(", ")}`);
  const reached = packagesReached(out, chunks);
  for (const pkg of ["@grpc/grpc-js", "better-sqlite3"]) assert.ok(reached.has(pkg), `${pkg} is reached from ${chunks.join(", ")}`);
  for (const pkg of ["yaml", "pino-pretty", "prom-client", "esbuild", "@peculiar/x509"]) assert.ok(!reached.has(pkg), `${pkg} is loaded at every coordinator start`);
  // The X.509 builders, a chunk of their own since, work from the build (esbuild gave `undefined` for @peculiar/x509's
  // names when its `export *` module was in another chunk than the module using them: found by the soak, thirteenth round).
  const builders = readdirSync(out).find((f) => /^leaf-certificates-[^.]+\.js$/.test(f));
  assert.ok(builders, "the X.509 builders are a chunk of their own");
  const { createCaCertificate } = (await import(pathToFileURL(join(out, builders)).href)) as typeof import("../../coordinator/trust/leaf-certificates.ts");
  const ca = await createCaCertificate(await generateEcKeyPair(), "built CA", new Date(), 1);
  assert.match(ca.toString("pem"), /^-----BEGIN CERTIFICATE-----/);
});
