// Why this file exists: the deploy tests run a shipped systemd unit's command line (deploy/*.service) as
// systemd would, with the installed paths mapped to a test's own.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../cli/paths.ts";

/** The unit's ExecStart, split into words. */
export function execStart(unit: string): string[] {
  const line = readFileSync(join(PROJECT_ROOT, "deploy", unit), "utf8").split("\n").find((l) => l.startsWith("ExecStart="));
  assert.ok(line, `${unit} has an ExecStart`);
  return line.slice("ExecStart=".length).trim().split(/\s+/);
}
