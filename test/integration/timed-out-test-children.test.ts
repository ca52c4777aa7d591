import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { eventually } from "../helpers/eventually.ts";
import { tempDir } from "../helpers/temp-dir.ts";

/**
 * A test file that runs past --test-timeout is ended by node's test runner with SIGTERM, and its after-hooks do not
 * run: the processes it started (test/support/cli-process.ts registers each with test/support/end-children.ts) must
 * not outlive it. A real runner, a real timeout, a real child process; the child is ended here by its pid if left.
 */
const FIXTURE = join(PROJECT_ROOT, "test/fixtures/timed-out/child-left-running.ts");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runTimedOut(register: boolean, pidFile: string): { pid: number; out: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", "--test-timeout=1500", FIXTURE], {
    cwd: PROJECT_ROOT,
    // A runner of its own: without NODE_TEST_CONTEXT, which would make it report to this test's runner instead.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT")), CHILD_PID_FILE: pidFile, REGISTER_CHILD: register ? "1" : "0" },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { pid: Number(readFileSync(pidFile, "utf8")), out: `${r.stdout}${r.stderr}` };
}

test("a child registered by a test file that runs past its timeout is ended with the file's process; one not registered is left", async (t) => {
  const dir = tempDir(t, "ns-timed-out-children-");
  const left = runTimedOut(false, join(dir, "unregistered.pid"));
  t.after(() => {
    if (alive(left.pid)) process.kill(left.pid, "SIGKILL");
  });
  assert.match(left.out, /test timed out after 1500ms/, "the fixture ran past its timeout");
  // What the registry is for: without it, the child outlives the timed-out file.
  assert.equal(alive(left.pid), true, "the unregistered child is still running");

  const ended = runTimedOut(true, join(dir, "registered.pid"));
  t.after(() => {
    if (alive(ended.pid)) process.kill(ended.pid, "SIGKILL");
  });
  assert.match(ended.out, /test timed out after 1500ms/, "the fixture ran past its timeout");
  await eventually(() => !alive(ended.pid), "the registered child to be ended with the timed-out file", 10_000);
});
