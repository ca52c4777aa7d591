#!/usr/bin/env node
// Compiles the CLI to plain JavaScript in dist/ (what bin/nightshift.mjs runs), so that no start pays for
// TypeScript compilation. esbuild bundles our own modules and the pure-JS npm packages (native ones and those
// that read their own files by path stay in node_modules: scripts/build-externals.mjs), so a coordinator start
// reads a few dozen chunks instead of resolving ~230 package modules one by one. Each `await import()` in a
// command action becomes its own chunk, so `nightshift --help` loads commander and little else, and
// onnxruntime, gRPC and NATS load only in the commands that need them.
// All chunks sit in dist/ itself: cli/paths.ts finds the package root as the parent of its own file.
// The bundled packages' licences are written to dist/THIRD-PARTY-LICENSES.txt (scripts/build-licences.mjs).
//   node scripts/build.mjs [--outdir DIR] [--metafile FILE]
import { rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { checkBundledByPath, externalsPlugin } from "./build-externals.mjs";
import { writeThirdPartyLicences } from "./build-licences.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// --outdir DIR: build elsewhere (the build test inspects a copy, never the dist/ a user runs).
const at = process.argv.indexOf("--outdir");
const outdir = at > 0 && process.argv[at + 1] ? resolve(process.argv[at + 1]) : join(root, "dist");
// --metafile FILE: esbuild's record of which inputs (our files, package files) went into which chunk (the build test reads it).
const metaAt = process.argv.indexOf("--metafile");
const metafile = metaAt > 0 && process.argv[metaAt + 1] ? resolve(process.argv[metaAt + 1]) : undefined;
rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  // The worker threads are entries of their own: a worker loads a file, not a chunk's export.
  entryPoints: { main: "cli/main.ts", "onnx-worker-thread": "agent/executors/onnx-worker-thread.ts", "frame-encoder-thread": "agent/executors/frame-encoder-thread.ts", "frame-decoder-thread": "agent/executors/frame-decoder-thread.ts", "pixel-hash-thread": "coordinator/provenance/pixel-hash-thread.ts", "staging-thread": "coordinator/sink/staging-thread.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  plugins: [externalsPlugin(join(root, "node_modules"))],
  // Bundled CommonJS packages call require() for Node's builtins and for the packages left external; an ES
  // module has no require, so each chunk gets one, resolving from dist/ (the package's node_modules above it).
  banner: { js: 'import { createRequire as __nightshiftCreateRequire } from "node:module"; const require = __nightshiftCreateRequire(import.meta.url);' },
  chunkNames: "[name]-[hash]",
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
});
checkBundledByPath(result.metafile, root);
writeThirdPartyLicences(result.metafile, root, join(outdir, "THIRD-PARTY-LICENSES.txt"));
if (metafile) writeFileSync(metafile, JSON.stringify(result.metafile));
// The dashboard's page bundle (coordinator/dashboard/ui/dist) ships with the compiled CLI; a build into
// another folder (the build test) leaves it alone.
if (at < 0) await import("./build-dashboard.mjs");
