/**
 * The page and its bundle (script, styles, uPlot's styles), all served by the
 * coordinator: nothing is loaded from the internet. The bundle is built with
 * esbuild by scripts/build-dashboard.mjs (npm test and the demo's bootstrap
 * run it); a coordinator that finds it missing or older than its sources
 * builds it once at start.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../shared/package-root.ts";

export const UI_DIR = join(PACKAGE_ROOT, "coordinator", "dashboard", "ui");
export const BUNDLE_DIR = join(UI_DIR, "dist");
const BUILD_SCRIPT = join(PACKAGE_ROOT, "scripts", "build-dashboard.mjs");

const TYPES: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };

export interface DashboardAssets {
  indexHtml(): string;
  file(name: string): { body: Uint8Array<ArrayBuffer>; type: string } | undefined;
}

/** The newest UI source; 0 in a packed release, which ships only the built bundle. */
function newestSource(): number {
  return Math.max(0, ...readdirSync(UI_DIR).filter((f) => f !== "dist").map((f) => statSync(join(UI_DIR, f)).mtimeMs));
}

/** Builds the bundle when it is missing or older than the UI sources. */
export function ensureDashboardBundle(): void {
  const js = join(BUNDLE_DIR, "app.js");
  if (existsSync(js) && statSync(js).mtimeMs >= newestSource()) return;
  execFileSync(process.execPath, [BUILD_SCRIPT], { stdio: ["ignore", "ignore", "inherit"], timeout: 60_000 });
}

export function loadDashboardAssets(): DashboardAssets {
  ensureDashboardBundle();
  const files = new Map<string, { body: Uint8Array<ArrayBuffer>; type: string }>();
  for (const name of readdirSync(BUNDLE_DIR)) {
    const ext = name.slice(name.lastIndexOf("."));
    const type = TYPES[ext];
    if (type) files.set(name, { body: new Uint8Array(readFileSync(join(BUNDLE_DIR, name))), type });
  }
  const html = [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>nightshift</title>",
    '<link rel="stylesheet" href="/assets/app.css">',
    '<script type="module" src="/assets/app.js"></script>',
    '</head><body><div id="app">loading…</div></body></html>',
  ].join("\n");
  return { indexHtml: () => html, file: (name) => files.get(name) };
}
