import type { TestContext } from "node:test";
import { join } from "node:path";
import { startCli, type CliProcess } from "./cli-process.ts";
import { freePort } from "./free-port.ts";

/**
 * Why this file exists: the restart tests kill a real `nightshift coordinator` process (SIGKILL, as a crash)
 * and start it again on the same data dir (`<dir>/data`), output root and loopback port; the one running is
 * stopped after the test. `logs` gives its output and the agents' for a failure message.
 */
export interface RestartableCoordinator {
  address: string;
  /** The process running now. */
  readonly now: CliProcess;
  /** SIGKILLs the running process and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts the coordinator again and waits until it listens. */
  restart(): Promise<void>;
  /** The last lines of the coordinator's output (the killed process's, then the running one's) and of each of `agents`. */
  logs(agents: readonly CliProcess[]): string;
}

export async function restartableCoordinator(t: TestContext, dir: string): Promise<RestartableCoordinator> {
  const address = `127.0.0.1:${await freePort()}`;
  const args = ["coordinator", "--data-dir", join(dir, "data"), "--output-root", join(dir, "output"), "--listen", address];
  let proc = startCli(args);
  let killed: CliProcess | undefined;
  t.after(() => proc.stop());
  await proc.waitFor(/coordinator listening/, 60_000);
  return {
    address,
    get now() {
      return proc;
    },
    async kill() {
      proc.kill("SIGKILL");
      await proc.exited;
      killed = proc;
    },
    async restart() {
      proc = startCli(args);
      await proc.waitFor(/coordinator listening/, 60_000);
    },
    logs: (agents) => `${killed ? `--- coordinator, killed ---\n${killed.output().slice(-3000)}\n` : ""}--- coordinator ---\n${proc.output().slice(-4000)}\n${agents.map((p, i) => `--- agent ${i} ---\n${p.output().slice(-3000)}`).join("\n")}`,
  };
}
