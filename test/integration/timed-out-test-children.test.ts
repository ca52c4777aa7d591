import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { PROJECT_ROOT } from "../../cli/paths.ts";
import { eventually } from "../helpers/eventually.ts";
import { tempDir } from "../helpers/temp-dir.ts";

/**
 * A test file that runs past --test-timeout is ended by node's test runner with SIGTERM (node 20's runner; its
 * after-hooks do not run then): the processes it started (test/support/cli-process.ts registers each with
 * test/support/end-children.ts) must not outlive it. The fixture stands for such a file: a real process with a real
 * child, sent the runner's SIGTERM once its child runs. A child left running is ended here by its pid.
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

/** Starts the fixture, waits until its child runs, sends the fixture SIGTERM and waits for it to end; the child's pid. */
async function endedByTheRunner(t: TestContext, register: boolean, pidFile: string): Promise<number> {
  const file = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CHILD_PID_FILE: pidFile, REGISTER_CHILD: register ? "1" : "0" },
    stdio: "ignore",
  });
  const exited = new Promise<number | null>((resolve) => file.once("exit", (code) => resolve(code)));
  t.after(() => {
    if (file.exitCode === null && file.signalCode === null) file.kill("SIGKILL");
  });
  await eventually(() => existsSync(pidFile) && readFileSync(pidFile, "utf8") !== "", "the fixture's child to start", 60_000);
  const pid = Number(readFileSync(pidFile, "utf8"));
  t.after(() => {
    if (alive(pid)) process.kill(pid, "SIGKILL");
  });
  file.kill("SIGTERM");
  await exited;
  return pid;
}

test("a child registered by a test file ended with SIGTERM (past its timeout) is ended with it; one not registered is left", async (t) => {
  const dir = tempDir(t, "ns-timed-out-children-");
  // What the registry is for: without it, the child outlives the file's process.
  const left = await endedByTheRunner(t, false, join(dir, "unregistered.pid"));
  assert.equal(alive(left), true, "the unregistered child is still running");
  const ended = await endedByTheRunner(t, true, join(dir, "registered.pid"));
  await eventually(() => !alive(ended), "the registered child to be ended with the file's process", 10_000);
});
