/**
 * The client side of the call-cost benches (bench/grpc-call-cost.bench.ts,
 * bench/sink-call-vs-stream.bench.ts), run in a process of its own so that
 * the bench's own process CPU is the server's alone. The bench file forks
 * itself with `--child CONFIG`; its child says "ready" once connected, then
 * runs each batch it is sent and answers "done" (or an error's text).
 * `run` gives the server process's CPU (user + system) per call over that
 * batch, in microseconds.
 */
import { fork } from "node:child_process";
import { once } from "node:events";

export interface CallClientProcess<M extends { calls: number }> {
  run(batch: M): Promise<number>;
  close(): void;
}

export async function forkCallClient<M extends { calls: number }>(benchFile: string, config: unknown): Promise<CallClientProcess<M>> {
  const proc = fork(benchFile, ["--child", JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  try {
    await once(proc, "message");
  } catch (err) {
    proc.kill();
    throw err;
  }
  return {
    async run(batch) {
      const before = process.cpuUsage();
      proc.send(batch);
      const [answer] = (await once(proc, "message")) as [string];
      if (answer !== "done") throw new Error(`client: ${answer}`);
      const used = process.cpuUsage(before);
      return (used.user + used.system) / batch.calls;
    },
    close() {
      proc.disconnect();
    },
  };
}

/**
 * The child's side: runs each batch the parent sends (`one` per call, `gapMs`
 * between calls), answers "done" or the error's text, exits when the parent
 * lets go, and says "ready" (call once connected).
 */
export function serveCallBatches<M extends { calls: number; gapMs: number }>(one: (batch: M) => Promise<unknown>): void {
  process.on("message", (m: M) => {
    void (async () => {
      for (let i = 0; i < m.calls; i++) {
        await one(m);
        if (m.gapMs > 0) await new Promise((r) => setTimeout(r, m.gapMs));
      }
      process.send?.("done");
    })().catch((err: unknown) => process.send?.(`error ${String(err)}`));
  });
  process.on("disconnect", () => process.exit(0));
  process.send?.("ready");
}
