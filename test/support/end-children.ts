import type { ChildProcess } from "node:child_process";

/**
 * Why this file exists: when a test file runs past --test-timeout, node's test runner ends the file's process with
 * SIGTERM, and neither the test's after-hooks nor an 'exit' listener run. The coordinators, agents and nats-servers
 * the test started were left running (seen here: an agent, a coordinator and its nats-server after a timed-out fault
 * test), loading the machine for every file after it. Each child registered here is sent SIGTERM (a coordinator
 * then stops its own nats-server) when this process gets SIGTERM, or exits with the child still running.
 */
const live = new Set<ChildProcess>();
let hooked = false;

function endAll(): void {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  live.clear();
}

export function endWithThisProcess(child: ChildProcess): void {
  live.add(child);
  child.once("exit", () => live.delete(child));
  if (hooked) return;
  hooked = true;
  process.once("exit", endAll);
  process.once("SIGTERM", () => {
    endAll();
    process.exit(143);
  });
}
