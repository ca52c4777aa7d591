import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { defer } from "./defer.ts";

/** A fresh directory under os.tmpdir(), removed (recursively) when the test ends. */
export function tempDir(t: TestContext, prefix = "nightshift-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
