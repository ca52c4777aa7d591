import type { Command } from "commander";
import { join } from "node:path";
import type { DemoResult } from "../demo/run-demo.ts";
import type { JobView } from "../../proto/gen/nightshift/v1/control.ts";
import { formatBytes, formatWh, table } from "../format/format.ts";
import { positiveInt } from "./parse-args.ts";
import { shutdownSignal } from "../signals.ts";
import { renderProgress } from "./watch-render.ts";

/** One progress line redrawn in place on a terminal; nothing when stderr is a file or a pipe. */
function progressLine(): { draw: (v: JobView) => void; end: () => void } {
  if (process.stderr.isTTY !== true) return { draw: () => {}, end: () => {} };
  let drawn = false;
  return {
    draw: (v) => {
      process.stderr.write(`\r\x1b[2K${renderProgress(v)}`);
      drawn = true;
    },
    end: () => {
      if (drawn) process.stderr.write("\n");
    },
  };
}

function printHuman(r: DemoResult, logFile: string): void {
  const out = process.stdout;
  out.write(`\nnightshift demo: job ${r.jobId} ${r.state}\n`);
  out.write(`  ${r.frames} frames in ${r.chunks} chunks, ${r.wallSeconds.toFixed(2)} s wall, ${r.framesPerSecond.toFixed(1)} frames/s\n`);
  out.write(`  frames: ${r.outputDir}\n`);
  out.write(r.video ? `  video:  ${r.video}\n` : `  video:  none (${r.message || "no assemble step"})\n`);
  out.write(`  data:   ${r.dataDir}   (nightshift report --data-dir ${r.dataDir})\n`);
  out.write(`  logs:   ${logFile}\n\n`);
  out.write(
    table(
      ["agent", "frames", "chunks", "seconds", "frames/s", "energy", "source", "peak memory"],
      r.agents.map((a) => [
        a.name, String(a.frames), String(a.chunks), a.seconds.toFixed(2), a.framesPerSecond.toFixed(1),
        formatWh(a.energyWh), a.energySource, `${formatBytes(a.peakMemoryBytes)} ${a.memoryKind === "vram" ? "VRAM" : "RAM"}`,
      ]),
    ) + "\n",
  );
  if (r.agents.some((a) => a.energySource === "estimate")) {
    out.write("\n  energy source 'estimate': no power counter was readable; figures come from configured watts x CPU use, not a measurement.\n");
  }
  out.write(`  cost: ${r.cost.toFixed(5)} ${r.currency}\n`);
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("render a whole job on this machine: embedded coordinator, NATS and local agents")
    .option("--frames <n>", "frames to render", positiveInt("--frames"), 48)
    .option("--agents <k>", "local agents", positiveInt("--agents"), 1)
    .option("--dir <path>", "where to keep this run (default ./nightshift-demo/<time>)")
    .option("--upscale", "run the learned 2x upscaler (fetch it first: npm run models:fetch) instead of the built-in colour grade")
    .option("--json", "print the result as one JSON object")
    .action(async (opts: { frames: number; agents: number; dir?: string; json?: boolean; upscale?: boolean }) => {
      // The whole farm loads here, not when the CLI starts.
      const [{ demoRunDir, runDemo }, { createLogger }] = await Promise.all([import("../demo/run-demo.ts"), import("../../shared/log.ts")]);
      // The terminal is for the progress bar and the summary; the logs go to a file the demo names.
      const dir = demoRunDir(opts.dir);
      const logFile = join(dir, "demo.log");
      const log = createLogger("nightshift-demo", process.env.NIGHTSHIFT_LOG_LEVEL ?? "info", { file: logFile });
      if (!opts.json) process.stderr.write(`nightshift demo: rendering ${opts.frames} frames; logs in ${logFile}\n`);
      const bar = opts.json ? undefined : progressLine();
      const r = await runDemo({ frames: opts.frames, agents: opts.agents, dir, upscale: opts.upscale === true, log, signal: shutdownSignal(), ...(bar ? { onProgress: bar.draw } : {}) }).finally(() => bar?.end());
      log.flush();
      if (opts.json) process.stdout.write(JSON.stringify({ ...r, logFile }, null, 2) + "\n");
      else printHuman(r, logFile);
      if (r.state !== "done") process.exitCode = 1;
    });
}
