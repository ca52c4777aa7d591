/**
 * Runs every benchmark, one after the other, each in its own process (so one
 * cannot warm or load the other), and prints one JSON object.
 *
 *   node --import tsx bench/run-all.ts [--frames N] [--dir PARENT]      (npm run bench)
 *
 * --frames and --dir, when given, are passed to every benchmark.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { intFlag, parentDirFlag, parseFlags, runBench } from "./bench-cli.ts";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const CHILD_TIMEOUT_MS = 5 * 60_000;

const BENCHES = [
  { key: "onnxInFarm", file: "onnx-in-farm.bench.ts" },
  { key: "sinkThroughput", file: "sink-throughput.bench.ts" },
  { key: "provenanceCost", file: "provenance-cost.bench.ts" },
] as const;

/** Runs one benchmark file with tsx; its stderr passes through, its stdout must be one JSON object. */
function runChild(file: string, args: readonly string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(BENCH_DIR, file), ...args], {
      cwd: join(BENCH_DIR, ".."),
      stdio: ["ignore", "pipe", "inherit"],
      timeout: CHILD_TIMEOUT_MS,
      killSignal: "SIGTERM",
    });
    const forward = (): void => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGTERM");
    };
    process.once("SIGINT", forward);
    process.once("SIGTERM", forward);
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (out += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      if (code !== 0) return reject(new Error(`${file} exited ${code ?? signal}`));
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`${file}: stdout is not one JSON object: ${out.slice(0, 200)}`));
      }
    });
  });
}

async function runAll(argv: readonly string[]): Promise<Record<string, unknown>> {
  const f = parseFlags(argv, { frames: { default: "" }, dir: { default: "" } });
  const args: string[] = [];
  if (f.frames) args.push("--frames", String(intFlag("frames", f.frames, 1, 4096)));
  const dir = parentDirFlag(f.dir);
  if (dir) args.push("--dir", dir);
  const out: Record<string, unknown> = {};
  for (const b of BENCHES) out[b.key] = await runChild(b.file, args);
  return out;
}

runBench(() => runAll(process.argv.slice(2)));
