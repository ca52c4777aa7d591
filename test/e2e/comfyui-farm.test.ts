import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { AgentKindsConfigSchema } from "../../agent/config/agent-kinds-config.ts";
import { stepNeed, unmetNeed } from "../../shared/steps/step-needs.ts";
import { WorkStepSchema } from "../../shared/steps/work-step.ts";
import { defer } from "../helpers/defer.ts";
import { startLocalAgent } from "../helpers/local-agent.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { startTestCoordinator } from "../support/farm.ts";
import { readPngText } from "../support/comfyui-standin/png-text.ts";
import { ComfyStandin } from "../support/comfyui-standin/standin-server.ts";
import { txt2img } from "../support/comfyui-standin/workflows.ts";
import { sentWorkflowFile } from "../support/comfyui-standin/sent-workflow.ts";
import type { ComfyWorkflowByContent } from "../../shared/job-spec/comfy-workflow-content.ts";

/**
 * ComfyUI across the farm: a real coordinator, two in-process agents, each
 * with its own ComfyUI stand-in (`comfyui: { url }` in its config). A job
 * file with a comfyui step renders 20 seeds; every frame carries the workflow
 * that made it and nightshift's provenance; one ComfyUI restarts mid-job and
 * nothing is lost; a job needing a node class no agent has is not placed and
 * the farm's answer names the node; a workflow ComfyUI refuses fails with
 * ComfyUI's own words.
 */

const BIND = { seed: { node: "3", input: "seed" }, prefix: { node: "9", input: "filename_prefix" } };

function comfyJob(name: string, workflow: ComfyWorkflowByContent, frames: number): Record<string, unknown> {
  return {
    name,
    seed: 500,
    steps: [{ id: "gen", kind: "comfyui", workflow, bind: BIND, per: "frame" }],
    frames: { start: 0, end: frames - 1 },
    chunking: { mode: "fixed", size: 2 },
    output: { path: "{job}", framePattern: "frame_{frame:06}.png" },
  };
}

test("a 20-seed comfyui job across two agents, one ComfyUI restarting mid-job: every frame lands once, carrying its workflow", async (t) => {
  const dir = tempDir(t, "nightshift-comfy-farm-");
  const standins = await Promise.all([ComfyStandin.start({ stepMs: 15 }), ComfyStandin.start({ stepMs: 15 })]);
  for (const s of standins) defer(t, () => s.close());
  const c = await startTestCoordinator(t, dir);
  for (const [i, s] of standins.entries()) {
    await startLocalAgent(t, c, dir, `comfy-${i}`, { kinds: AgentKindsConfigSchema.parse({ comfyui: { url: s.url } }) });
  }
  mkdirSync(join(dir, "workflows"));
  const workflow = txt2img({ width: 48, height: 32, steps: 8 });
  writeFileSync(join(dir, "workflows", "product.api.json"), JSON.stringify(workflow, null, 2));
  writeFileSync(join(dir, "workflows", "grain.api.json"), JSON.stringify(txt2img({ extraNode: "StandinFilmGrain" })));

  // Nothing has the custom node: the job is accepted, never placed, and the farm says which node is missing.
  const missing = await c.api.submit(JSON.stringify(comfyJob("needs a custom node", sentWorkflowFile(dir, "workflows/grain.api.json"), 2)), dir);
  const jobId = (await c.api.submit(JSON.stringify(comfyJob("product shots, 20 seeds", sentWorkflowFile(dir, "workflows/product.api.json"), 20)), dir)).jobId;

  // Restart the first ComfyUI while it runs one of this job's prompts.
  const victim = standins[0]!;
  for (let i = 0; i < 1000 && (victim.historyIds().length < 2 || victim.runningPromptId() === null); i++) await new Promise((r) => setTimeout(r, 10));
  const lostPrompt = victim.runningPromptId();
  assert.notEqual(lostPrompt, null, "the first ComfyUI was running a prompt");
  await victim.restart();

  const job = await c.finisher.waitFor(jobId);
  assert.equal(job.state, "done", job.message ?? "");
  assert.ok(!victim.historyIds().includes(lostPrompt!), "the restarted ComfyUI never finished the lost prompt");

  const out = join(dir, "output", jobId);
  const files = readdirSync(out).filter((f) => f.endsWith(".png")).sort();
  assert.deepEqual(files, Array.from({ length: 20 }, (_, i) => `frame_${String(i).padStart(6, "0")}.png`));
  const agentsSeen = new Set<string>();
  for (const [i, f] of files.entries()) {
    const text = readPngText(readFileSync(join(out, f)));
    const prompt = JSON.parse(text.get("prompt")!) as typeof workflow;
    assert.equal(prompt["3"]!.inputs.seed, 500 + i, `${f}: KSampler seed`);
    const { ["3"]: _k, ["9"]: _s, ...rest } = prompt;
    const { ["3"]: _k2, ["9"]: _s2, ...expectRest } = workflow;
    assert.deepEqual(rest, expectRest, `${f}: the rest of the workflow is the job's`);
    const prov = JSON.parse(text.get("nightshift")!) as { job: string; seed: number; frames: number[]; agent: string };
    assert.equal(prov.job, jobId);
    assert.equal(prov.seed, 500 + i);
    assert.deepEqual(prov.frames, [i]);
    agentsSeen.add(prov.agent);
  }
  assert.deepEqual([...agentsSeen].sort(), ["comfy-0", "comfy-1"], "both agents rendered");
  const failures = c.store.chunks.listByJob(jobId).flatMap((ch) => c.store.attempts.listByChunk(ch.id)).filter((a) => a.error !== null);
  assert.ok(failures.some((a) => /lost prompt/.test(a.error ?? "")), `the restart failed an attempt as a lost prompt: ${failures.map((a) => a.error).join(" | ")}`);

  const stuck = c.api.job(missing.jobId);
  assert.equal(stuck.framesDone, 0, "the job needing a missing node was never run");
  assert.notEqual(stuck.state, "done");
  const steps = WorkStepSchema.array().parse(JSON.parse(c.store.jobs.get(missing.jobId)!.stepsJson));
  for (const agent of c.store.agents.list()) {
    assert.equal(unmetNeed(stepNeed(steps[0]!), agent.kinds), "comfyui lacks node class StandinFilmGrain", agent.name);
  }
});

test("a workflow ComfyUI refuses fails its chunk with ComfyUI's own message, kept with the attempt", async (t) => {
  const dir = tempDir(t, "nightshift-comfy-refused-");
  const standin = await ComfyStandin.start();
  defer(t, () => standin.close());
  const c = await startTestCoordinator(t, dir);
  await startLocalAgent(t, c, dir, "comfy-solo", { kinds: AgentKindsConfigSchema.parse({ comfyui: { url: standin.url } }) });
  writeFileSync(join(dir, "zero-steps.api.json"), JSON.stringify(txt2img({ steps: 0 })));
  const { jobId } = await c.api.submit(JSON.stringify(comfyJob("refused", sentWorkflowFile(dir, "zero-steps.api.json"), 1)), dir);
  const errors = (): string[] => c.store.chunks.listByJob(jobId).flatMap((ch) => c.store.attempts.listByChunk(ch.id)).flatMap((a) => (a.error === null ? [] : [a.error]));
  for (let i = 0; i < 600 && errors().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(errors()[0] ?? "(no failed attempt)", /Prompt outputs failed validation: KSampler #3: Value 0 smaller than min of 1: steps/);
  assert.equal(c.api.job(jobId).framesDone, 0);
});
