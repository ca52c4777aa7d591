#!/usr/bin/env node
// Runs the type check and the test suites with node's test runner, then prints
// one plain summary line: "N passed, N failed, N skipped".
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const suites = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const all = ["unit", "integration", "e2e", "lan"];
const chosen = suites.length ? suites : all;

let typecheckFailed = 0;
if (!suites.length) {
  process.stdout.write("typecheck: tsc --noEmit\n");
  const tsc = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", root], { stdio: "inherit" });
  if (tsc.status !== 0) typecheckFailed = 1;
}

const files = [];
for (const s of chosen) {
  const dir = join(root, "test", s);
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) if (f.endsWith(".test.ts")) files.push(join("test", s, f));
}

const child = spawn(
  process.execPath,
  ["--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=1", "--test-timeout=180000", ...files],
  {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
    // The CLI under test is the TypeScript (NIGHTSHIFT_FROM_SOURCE), never a dist/ build that may be stale.
    // Every dispatch pass of every test compares the rows it keeps between passes with a full read (coordinator/scheduling/kept-reads.ts).
    env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: process.env.NIGHTSHIFT_LOG_LEVEL ?? "silent", NIGHTSHIFT_FROM_SOURCE: process.env.NIGHTSHIFT_FROM_SOURCE ?? "1", NIGHTSHIFT_CHECK_KEPT_READS: process.env.NIGHTSHIFT_CHECK_KEPT_READS ?? "1" },
  },
);
// The runner's totals ("ℹ pass N") come before its list of failures, which can be long: keep the last of each seen.
let tail = "";
const totals = new Map();
child.stdout.on("data", (d) => {
  process.stdout.write(d);
  tail = (tail + d.toString()).slice(-4000);
  for (const m of tail.matchAll(/ℹ (pass|fail|cancelled|skipped|todo) (\d+)/g)) totals.set(m[1], Number(m[2]));
});
child.on("exit", (code) => {
  const num = (label) => totals.get(label) ?? 0;
  const passed = num("pass");
  const failed = num("fail") + num("cancelled") + typecheckFailed;
  const skipped = num("skipped") + num("todo");
  if (typecheckFailed) process.stdout.write("typecheck failed (counted as one failure)\n");
  process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
