import type { TestContext } from "node:test";
import { defer } from "./defer.ts";
import { EmbeddedNatsServer, type EmbeddedNatsOptions } from "../../coordinator/nats/embedded-nats-server.ts";
import { tempDir } from "./temp-dir.ts";
import { testLog } from "./test-log.ts";

export interface StartedNats {
  server: EmbeddedNatsServer;
  url: string;
  /** The server's directory (config, JetStream store, ports file). */
  dir: string;
}

/** Kills a pid we spawned if it is still alive; quiet when it is already gone. */
function killIfAlive(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * Starts a real nats-server (JetStream, store in a temp dir) on an ephemeral
 * loopback port through EmbeddedNatsServer. Stopped when the test ends; every
 * pid it ever had is SIGKILLed as a safety net (supervision may have replaced it).
 */
export async function startNats(t: TestContext, opts: Partial<Omit<EmbeddedNatsOptions, "dir" | "log">> = {}): Promise<StartedNats> {
  const dir = tempDir(t, "nightshift-nats-");
  const server = new EmbeddedNatsServer({ dir, host: "127.0.0.1", port: 0, log: testLog(), ...opts });
  const pids = new Set<number>();
  server.on("restarted", () => {
    if (server.pid !== undefined) pids.add(server.pid);
  });
  // defer() is LIFO: the server stops before its temp dir is removed.
  defer(t, async () => {
    await server.stop();
    for (const pid of pids) killIfAlive(pid);
  });
  const url = await server.start();
  if (server.pid !== undefined) pids.add(server.pid);
  return { server, url, dir };
}
