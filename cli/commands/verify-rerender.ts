import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../../coordinator/store/store.ts";
import { provenanceSteps } from "../../coordinator/provenance/provenance-steps.ts";
import { JobSpecs } from "../../coordinator/jobs/job-specs.ts";
import { BadInputError } from "../../shared/errors.ts";
import { comparePixels, type PixelComparison } from "../../shared/provenance/pixel-compare.ts";
import { defaultDataDir } from "../paths.ts";
import type { Control } from "../control-client.ts";

/**
 * `nightshift verify --rerender N JOB`: renders N committed frames of a done
 * job again on other agents (coordinator/provenance/rerender-job.ts), waits
 * for that job, and compares the pixels of each pair. The farm keeps only a
 * chain's last output, so the comparison is of the whole step chain; each
 * step is listed with whether its kind is declared deterministic. A mismatch
 * fails the check (exit 1) only when every step of the chain is declared
 * deterministic: onnxruntime `model` steps (same model bytes, same input,
 * no sampling). Blender, ComfyUI and command steps may legitimately differ
 * between machines (GPU models, drivers, samplers): their difference is
 * reported, not failed.
 */

/** Step kinds whose output must be the same bytes on any agent. */
export const DETERMINISTIC_KINDS: ReadonlySet<string> = new Set(["model"]);

export interface RerenderReport {
  ok: boolean;
  job: string;
  rerenderJob: string;
  avoidedAgents: string[];
  frames: Array<{ frame: number; original: { agent: string; path: string }; rerender: { agent: string; path: string } } & PixelComparison>;
  steps: Array<{ id: string; kind: string; declaredDeterministic: boolean }>;
  chain: { deterministic: boolean; maxAbsDiff: number | null; framesDiffering: number };
}

/** N frames spread evenly over the committed ones (first and last included), so a rerun picks the same ones. */
export function sampleFrames(committed: readonly number[], n: number): number[] {
  const sorted = [...committed].sort((a, b) => a - b);
  if (n >= sorted.length) return sorted;
  if (n === 1) return [sorted[Math.floor(sorted.length / 2)]!];
  return [...new Set(Array.from({ length: n }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (n - 1))]!))];
}

function openStore(dataDir: string): Store {
  const db = join(dataDir, "nightshift.db");
  if (!existsSync(db)) throw new BadInputError(`--data-dir: no nightshift store at ${db}`, { field: "dataDir" });
  return Store.open(db);
}

export async function rerenderCheck(c: Control, jobId: string, n: number, opts: { dataDir?: string; timeoutMs: number; onProgress?: (line: string) => void }): Promise<RerenderReport> {
  const dataDir = opts.dataDir ?? defaultDataDir();
  const committed = withStore(dataDir, (s) => {
    if (!s.jobs.get(jobId)) throw new BadInputError(`no job '${jobId}' in ${dataDir}`, { field: "job" });
    return s.frames.listByJob(jobId).map((r) => r.frame);
  });
  const frames = sampleFrames(committed, n);
  const r = await c.rerender(jobId, frames);
  opts.onProgress?.(`re-rendering frame(s) ${frames.join(", ")} as job ${r.jobId}, off agent(s) ${r.avoidedAgents.join(", ")}`);
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await c.getJob(r.jobId);
    if (v.state === "done") break;
    if (v.state === "failed" || v.state === "cancelled") throw new Error(`re-render job ${r.jobId} ${v.state}: ${v.message}`);
    if (Date.now() > deadline) throw new Error(`re-render job ${r.jobId} not done after ${opts.timeoutMs / 1000} s (state ${v.state}); is another agent online?`);
    await new Promise((res) => setTimeout(res, 500));
  }
  return withStore(dataDir, (s) => {
    const job = s.jobs.get(jobId)!;
    const original = new Map(s.frames.listByJob(jobId).map((row) => [row.frame, row]));
    const name = (id: string): string => s.agents.get(id)?.name ?? id;
    const pairs = s.frames.listByJob(r.jobId).map((again) => {
      const first = original.get(again.frame)!;
      return {
        frame: again.frame,
        original: { agent: name(first.agentId), path: first.path },
        rerender: { agent: name(again.agentId), path: again.path },
        ...comparePixels(readFileSync(first.path), readFileSync(again.path)),
      };
    });
    const steps = provenanceSteps(new JobSpecs().steps(job)).map((st) => ({ id: st.id, kind: st.kind, declaredDeterministic: DETERMINISTIC_KINDS.has(st.kind) }));
    const differing = pairs.filter((p) => !p.exact);
    const maxAbsDiff = pairs.some((p) => p.maxAbsDiff === null) ? null : Math.max(0, ...pairs.map((p) => p.maxAbsDiff ?? 0));
    const mustMatch = steps.every((st) => st.declaredDeterministic);
    return {
      ok: differing.length === 0 || !mustMatch,
      job: jobId,
      rerenderJob: r.jobId,
      avoidedAgents: r.avoidedAgents.map(name),
      frames: pairs,
      steps,
      chain: { deterministic: differing.length === 0, maxAbsDiff, framesDiffering: differing.length },
    };
  });
}

function withStore<T>(dataDir: string, fn: (s: Store) => T): T {
  const s = openStore(dataDir);
  try {
    return fn(s);
  } finally {
    s.close();
  }
}

export function printRerender(r: RerenderReport): void {
  const out = process.stdout;
  for (const f of r.frames) {
    const what = f.exact ? "exact" : f.maxAbsDiff === null ? `size differs (${f.sizes.a} vs ${f.sizes.b})` : `max abs diff ${f.maxAbsDiff}/255, ${f.differingSamples} of ${f.samples} samples differ`;
    out.write(`frame ${f.frame}: ${f.original.agent} vs ${f.rerender.agent}: ${what}\n`);
  }
  for (const st of r.steps) {
    const verdict = r.chain.deterministic ? "deterministic (exact on every sampled frame)" : `differs (max abs diff ${r.chain.maxAbsDiff ?? "n/a"}, ${r.chain.framesDiffering} frame(s))`;
    out.write(`step ${st.id} (${st.kind}, ${st.declaredDeterministic ? "declared deterministic" : "may differ between machines"}): ${verdict}\n`);
  }
  out.write(r.ok ? "re-render check passed\n" : "re-render check FAILED: a step declared deterministic gave other pixels on another agent\n");
}
