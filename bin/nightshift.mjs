#!/usr/bin/env node
// Thin entry point: run the compiled CLI (dist/, made by `npm run build`, shipped in the packed release).
// In a checkout without a build, or with NIGHTSHIFT_FROM_SOURCE=1 (the test suite sets it, so tests never
// run a stale build), load the TypeScript through tsx instead. An installed release has no TypeScript and
// always runs dist/.
import { existsSync } from "node:fs";

const compiled = new URL("../dist/main.js", import.meta.url);
const source = new URL("../cli/main.ts", import.meta.url);
const fromSource = process.env.NIGHTSHIFT_FROM_SOURCE === "1" && existsSync(source);
let main;
if (!fromSource && existsSync(compiled)) {
  ({ main } = await import(compiled.href));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../cli/main.ts"));
}
process.exitCode = await main(process.argv);
