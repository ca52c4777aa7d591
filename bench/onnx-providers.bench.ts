/**
 * The model step's execution providers against the CPU in the same run: the
 * bundled colour-grade model on one frame, per provider, through the
 * executor's own session code (graph options as the agent sets them).
 *
 *   node --import tsx bench/onnx-providers.bench.ts [--providers cpu,webgpu,cuda] [--width 1920] [--height 1080] [--runs 20]
 *
 * Prints one JSON object: per provider the session open time, ms per frame
 * (mean of --runs after one warm-up), the ratio to the CPU's, and the largest
 * difference of its output bytes from the CPU's; a provider that cannot start
 * on this machine is listed with onnxruntime's reason. CPU first: it is the
 * baseline. On an NVIDIA H200 (ninth round) WebGPU took 31.2 ms a 1080p frame
 * against the CPU's 49.1 on 16 cores.
 */
import { openOnnxSession, runModelOnWindow } from "../agent/executors/onnx-session.ts";
import { parseOnnxProviders } from "../agent/executors/onnx-providers.ts";
import { onnxruntimeSaid } from "../agent/executors/onnx-provider-check.ts";
import { resolveModel } from "../shared/model-manifest/model-registry.ts";
import { BUNDLED_MODELS_DIR } from "../cli/paths.ts";
import { intFlag, parseFlags, round, runBench } from "./bench-cli.ts";

async function main(): Promise<unknown> {
  const f = parseFlags(process.argv.slice(2), { providers: { default: "cpu,webgpu,cuda" }, width: { default: "1920" }, height: { default: "1080" }, runs: { default: "20" } });
  const providers = parseOnnxProviders(f.providers, "providers").filter((p) => p !== "cpu");
  const width = intFlag("width", f.width, 16, 8192);
  const height = intFlag("height", f.height, 16, 8192);
  const runs = intFlag("runs", f.runs, 1, 10_000);
  const { manifest, modelPath } = await resolveModel(BUNDLED_MODELS_DIR, "colour-grade", { verify: true });
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
  const frame = { width, height, data };
  let cpu: { msPerFrame: number; out: Uint8Array } | undefined;
  const results = [];
  for (const p of ["cpu", ...providers]) {
    const t0 = performance.now();
    let session;
    try {
      session = await openOnnxSession(modelPath, manifest, { executionProviders: [p] });
    } catch (err) {
      results.push({ provider: p, started: false, reason: onnxruntimeSaid(err) });
      continue;
    }
    try {
      const openMs = performance.now() - t0;
      let out = await runModelOnWindow(session, manifest, [frame]);
      const t1 = performance.now();
      for (let i = 0; i < runs; i++) out = await runModelOnWindow(session, manifest, [frame]);
      const msPerFrame = (performance.now() - t1) / runs;
      let maxByteDiff = 0;
      if (cpu) for (let i = 0; i < out.data.length; i++) maxByteDiff = Math.max(maxByteDiff, Math.abs(out.data[i]! - cpu.out[i]!));
      else cpu = { msPerFrame, out: out.data };
      results.push({ provider: p, started: true, openMs: round(openMs, 1), msPerFrame: round(msPerFrame, 2), ratioToCpu: round(msPerFrame / cpu.msPerFrame, 3), maxByteDiffFromCpu: maxByteDiff });
    } finally {
      await session.release();
    }
  }
  return { benchmark: "onnx-providers", model: manifest.name, width, height, runs, baseline: "the cpu provider in the same run", results };
}

runBench(main);
