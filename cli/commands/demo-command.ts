import type { Command } from "commander";
import { runDemo, type DemoResult } from "../demo/run-demo.ts";
import { createLogger } from "../../shared/log.ts";
import { formatBytes, formatWh, table } from "../format/format.ts";
import { positiveInt } from "./parse-args.ts";
import { shutdownSignal } from "../signals.ts";

function printHuman(r: DemoResult): void {
  const out = process.stdout;
  out.write(`\nnightshift demo: job ${r.jobId} ${r.state}\n`);
  out.write(`  ${r.frames} frames in ${r.chunks} chunks, ${r.wallSeconds.toFixed(2)} s wall, ${r.framesPerSecond.toFixed(1)} frames/s\n`);
  out.write(`  frames: ${r.outputDir}\n`);
  out.write(r.video ? `  video:  ${r.video}\n` : `  video:  none (${r.message || "no assemble step"})\n`);
  out.write(`  data:   ${r.dataDir}   (nightshift report --data-dir ${r.dataDir})\n\n`);
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
      const log = createLogger("nightshift-demo", process.env.NIGHTSHIFT_LOG_LEVEL ?? (opts.json ? "warn" : "info"));
      const r = await runDemo({ frames: opts.frames, agents: opts.agents, ...(opts.dir ? { dir: opts.dir } : {}), upscale: opts.upscale === true, log, signal: shutdownSignal() });
      if (opts.json) process.stdout.write(JSON.stringify(r, null, 2) + "\n");
      else printHuman(r);
      if (r.state !== "done") process.exitCode = 1;
    });
}
