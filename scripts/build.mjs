#!/usr/bin/env node
// Compiles the CLI to plain JavaScript in dist/ (what bin/nightshift.mjs runs), so that no start pays for
// TypeScript compilation. esbuild bundles our own modules and leaves every npm package external; each
// `await import()` in a command action becomes its own chunk, so `nightshift --help` loads commander and
// little else, and onnxruntime, gRPC and NATS load only in the commands that need them.
// All chunks sit in dist/ itself: cli/paths.ts finds the package root as the parent of its own file.
import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// --outdir DIR: build elsewhere (the build test inspects a copy, never the dist/ a user runs).
const at = process.argv.indexOf("--outdir");
const outdir = at > 0 && process.argv[at + 1] ? resolve(process.argv[at + 1]) : join(root, "dist");
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  // The worker threads are entries of their own: a worker loads a file, not a chunk's export.
  entryPoints: { main: "cli/main.ts", "onnx-worker-thread": "agent/executors/onnx-worker-thread.ts", "frame-encoder-thread": "agent/executors/frame-encoder-thread.ts", "frame-decoder-thread": "agent/executors/frame-decoder-thread.ts", "pixel-hash-thread": "coordinator/provenance/pixel-hash-thread.ts", "staging-thread": "coordinator/sink/staging-thread.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  packages: "external",
  chunkNames: "[name]-[hash]",
  sourcemap: true,
  logLevel: "warning",
});
// The dashboard's page bundle (coordinator/dashboard/ui/dist) ships with the compiled CLI; a build into
// another folder (the build test) leaves it alone.
if (at < 0) await import("./build-dashboard.mjs");
