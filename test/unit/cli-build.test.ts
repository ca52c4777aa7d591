import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { NIGHTSHIFT_VERSION } from "../../shared/version.ts";
import { generateEcKeyPair } from "../../shared/tls/pem-keys.ts";

/** esbuild's metafile (scripts/build.mjs --metafile): each output's inputs (bytes) and imports. */
interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }>; imports: Array<{ path: string; kind: string; external?: boolean }> }>;
}

/** The npm package a bundled input (".../node_modules/@scope/name/lib/x.js") or a bare import ("name/sub") belongs to. */
function packageName(path: string): string {
  const at = path.lastIndexOf("node_modules/");
  const parts = (at >= 0 ? path.slice(at + "node_modules/".length) : path).split("/");
  return (parts[0] as string).startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string);
}

interface Reached {
  /** Packages whose code is bundled into the chunks reached. */
  bundled: Set<string>;
  /** Packages left in node_modules that the chunks reached import or require (node: builtins left out). */
  external: Set<string>;
}

/**
 * The packages that loading these built files loads: those bundled into them and into the chunks they import
 * statically, transitively, and the external packages any of those import or require (a chunk's `await import()`
 * is not followed: it loads only when a command asks).
 */
function packagesReached(out: string, meta: Metafile, files: readonly string[]): Reached {
  const byName = new Map(Object.entries(meta.outputs).map(([path, o]) => [join(PROJECT_ROOT, path), o]));
  const seen = new Set<string>();
  const reached: Reached = { bundled: new Set(), external: new Set() };
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const o = byName.get(file);
    assert.ok(o, `${file} is in the metafile`);
    for (const input of Object.keys(o.inputs)) if (input.includes("node_modules/")) reached.bundled.add(packageName(input));
    for (const i of o.imports) {
      if (i.external) {
        if (!i.path.startsWith("node:") && i.kind !== "dynamic-import" && !builtinModules.includes(i.path)) reached.external.add(packageName(i.path));
      } else if (i.kind === "import-statement") visit(join(PROJECT_ROOT, i.path));
    }
  };
  for (const f of files) visit(join(out, f));
  return reached;
}

const all = (r: Reached): string[] => [...new Set([...r.bundled, ...r.external])].sort();

/** Builds the CLI into a fresh folder inside the checkout (.tmp/ is ignored by git), so that the built files resolve node_modules; returns it and its metafile. */
function buildCli(t: TestContext): { out: string; meta: Metafile } {
  mkdirSync(join(PROJECT_ROOT, ".tmp"), { recursive: true });
  const out = mkdtempSync(join(PROJECT_ROOT, ".tmp", "build-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const metafile = join(out, "..", `${basename(out)}.meta.json`);
  t.after(() => rmSync(metafile, { force: true }));
  const build = spawnSync(process.execPath, [join(PROJECT_ROOT, "scripts/build.mjs"), "--outdir", out, "--metafile", metafile], { encoding: "utf8" });
  assert.equal(build.status, 0, build.stderr);
  return { out, meta: JSON.parse(readFileSync(metafile, "utf8")) as Metafile };
}

test("the built CLI loads only commander at start; onnxruntime, gRPC, NATS, SQLite, sharp and hono load in the commands that need them", (t) => {
  const { out, meta } = buildCli(t);
  // Everything `nightshift --help` evaluates: main.js and the chunks it imports statically, transitively.
  assert.deepEqual(all(packagesReached(out, meta, ["main.js"])), ["commander"]);

  // The heavy modules are in the build, in chunks that only a command's `await import()` reaches.
  const files = readdirSync(out).filter((f) => f.endsWith(".js"));
  const everywhere = packagesReached(out, meta, files);
  for (const heavy of ["onnxruntime-node", "@grpc/grpc-js", "@nats-io/transport-node", "better-sqlite3", "hono"]) assert.ok(all(everywhere).includes(heavy), `${heavy} is in the build`);
  // sharp is loaded at the dashboard's first thumbnail, not at the coordinator's start (coordinator/dashboard/thumbnails.ts).
  assert.ok(files.some((f) => readFileSync(join(out, f), "utf8").includes('import("sharp")')), "sharp is in the build");
  assert.ok(!all(everywhere).includes("sharp"), "sharp is not imported statically: a coordinator start does not load it");
  // The packages bundled into dist/ ship their licences there (scripts/build-licences.mjs): their own folders are not where their code runs from.
  const licences = readFileSync(join(out, "THIRD-PARTY-LICENSES.txt"), "utf8");
  assert.ok(everywhere.bundled.size > 20, `packages bundled: ${[...everywhere.bundled].join(", ")}`);
  for (const name of everywhere.bundled) assert.ok(licences.includes(`\n${name}@`), `${name}'s licence is in THIRD-PARTY-LICENSES.txt`);

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
  const { out, meta } = buildCli(t);
  const main = readFileSync(join(out, "main.js"), "utf8");
  // The chunks the coordinator command's action imports (cli/commands/coordinator-command.ts), less the config file reader.
  // esbuild marks each module's start with a `// path` line: the command's module runs to the next one.
  const from = main.indexOf("\n// cli/commands/coordinator-command.ts\n");
  assert.ok(from >= 0, "the coordinator command's module is in main.js");
  const action = main.slice(from, main.indexOf("\n// ", from + 1));
  const chunks = [...action.matchAll(/import\("\.\/([^"]+)"\)/g)].map((m) => m[1] as string).filter((f) => !f.startsWith("config-file-"));
  assert.ok(chunks.some((f) => f.startsWith("coordinator-")), `the coordinator command's chunks: ${chunks.join(", ")}`);
  const atStart = packagesReached(out, meta, chunks);
  const reached = all(atStart);
  // The pure-JS packages are bundled into the chunks (issue 15: Node resolved and loaded ~230 package modules one by one
  // at every start); only the native SQLite binding is loaded from node_modules.
  assert.deepEqual([...atStart.external].sort(), ["better-sqlite3"], "the packages a coordinator start loads from node_modules");
  for (const pkg of ["@grpc/grpc-js", "@nats-io/nats-core", "zod", "hono", "pino"]) assert.ok(atStart.bundled.has(pkg), `${pkg} is bundled into the coordinator's chunks`);
  for (const pkg of ["@grpc/grpc-js", "better-sqlite3"]) assert.ok(reached.includes(pkg), `${pkg} is reached from ${chunks.join(", ")}`);
  for (const pkg of ["yaml", "pino-pretty", "prom-client", "esbuild", "@peculiar/x509"]) assert.ok(!reached.includes(pkg), `${pkg} is loaded at every coordinator start`);
  // The X.509 builders, a chunk of their own since, work from the build (esbuild gave `undefined` for @peculiar/x509's
  // names when its `export *` module was in another chunk than the module using them: found by the soak, thirteenth round).
  const builders = readdirSync(out).find((f) => /^leaf-certificates-[^.]+\.js$/.test(f));
  assert.ok(builders, "the X.509 builders are a chunk of their own");
  const { createCaCertificate } = (await import(pathToFileURL(join(out, builders)).href)) as typeof import("../../coordinator/trust/leaf-certificates.ts");
  const ca = await createCaCertificate(await generateEcKeyPair(), "built CA", new Date(), 1);
  assert.match(ca.toString("pem"), /^-----BEGIN CERTIFICATE-----/);
});
