#!/usr/bin/env node
// Bundles the dashboard's page (Preact + htm + uPlot, and their styles) into
// coordinator/dashboard/ui/dist with esbuild, so the coordinator serves every
// script and style itself and the page needs no internet.
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ui = join(dirname(fileURLToPath(import.meta.url)), "..", "coordinator", "dashboard", "ui");
await build({
  entryPoints: { app: join(ui, "app.js") },
  outdir: join(ui, "dist"),
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  loader: { ".css": "css" },
  legalComments: "none",
  logLevel: "warning",
});
