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
