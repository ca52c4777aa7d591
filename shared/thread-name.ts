import { writeFileSync } from "node:fs";

/**
 * Names the calling thread for the operating system (Linux: its `comm`, at
 * most 15 bytes), so `top -H`, `ps -L` and /proc/PID/task/TID/stat tell the
 * worker threads apart (the agent's onnxruntime, PNG encoder and input
 * decoder threads, the coordinator's pixel hasher); every Node thread is
 * called "node" otherwise. bench/onnx-in-farm.bench.ts accounts CPU per thread by these
 * names. Elsewhere (no /proc) it does nothing.
 */
export function nameThisThread(name: string): void {
  try {
    writeFileSync("/proc/thread-self/comm", name.slice(0, 15));
  } catch {
    // not Linux, or /proc not mounted: the name is only for people and benchmarks
  }
}
