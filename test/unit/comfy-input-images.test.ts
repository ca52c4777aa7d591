import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { prepareComfySteps } from "../../cli/comfy/prepare-comfy-steps.ts";
import { checkComfyImages } from "../../coordinator/jobs/check-comfy-images.ts";
import { provenanceSteps } from "../../coordinator/provenance/provenance-steps.ts";
import { validateJobSpec } from "../../shared/job-spec/index.ts";
import type { SpecIssue } from "../../shared/job-spec/spec-issue.ts";
import { stepContentAssets } from "../../shared/steps/step-content-assets.ts";
import { WorkStepSchema } from "../../shared/steps/work-step.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { comfySubmitRefusal, rawOf } from "../support/comfy-submit-refusal.ts";
import { img2img } from "../support/comfyui-standin/workflows.ts";

// Finding a comfyui step's input images at submit (the CLI side), checking them against the asset store (the
// coordinator side), and naming them in provenance and in what the store and the agent's cache keep.

const sha = (bytes: string): string => createHash("sha256").update(bytes).digest("hex");

/** An artist's folder: job.json, workflows/wf.api.json, and the images the test writes. */
function artistFolder(dir: string, workflow: Record<string, unknown>, step: Record<string, unknown> = {}): string {
  mkdirSync(join(dir, "workflows"), { recursive: true });
  writeFileSync(join(dir, "workflows", "wf.api.json"), JSON.stringify(workflow));
  const jobFile = join(dir, "job.json");
  writeFileSync(jobFile, JSON.stringify({ name: "refs", frames: { start: 0, end: 1 }, steps: [{ id: "gen", kind: "comfyui", workflow: "workflows/wf.api.json", ...step }] }));
  return jobFile;
}


test("LoadImage-family nodes' files are found beside the workflow, then the job file; the bound node and [output] names are left alone", async (t) => {
  const dir = tempDir(t, "ns-comfy-img-");
  const base = img2img();
  base["10"]!.inputs.image = "ref.png";
  const wf = {
    ...base,
    "20": { class_type: "LoadImageMask", inputs: { image: "masks/matte.png [input]", channel: "alpha" } },
    "21": { class_type: "LoadImage", inputs: { image: "previous.png [output]" } },
    "22": { class_type: "LoadImage", inputs: { image: "frame-in.png" } },
  };
  const jobFile = artistFolder(dir, wf, { bind: { image: { node: "22", input: "image" } } });
  writeFileSync(join(dir, "workflows", "ref.png"), "reference beside the workflow");
  writeFileSync(join(dir, "ref.png"), "a file of the same name beside the job file");
  mkdirSync(join(dir, "masks"));
  writeFileSync(join(dir, "masks", "matte.png"), "matte beside the job file");

  const prepared = await prepareComfySteps(rawOf(jobFile), jobFile);
  assert.deepEqual(
    prepared.images.map(({ node, file, sha256, size }) => ({ node, file, sha256, size })),
    [
      { node: "10", file: "ref.png", sha256: sha("reference beside the workflow"), size: 29 },
      { node: "20", file: "masks/matte.png", sha256: sha("matte beside the job file"), size: 25 },
    ],
  );
  assert.equal(prepared.images[0]?.local, join(dir, "workflows", "ref.png"));
  const step = (prepared.raw as { steps: Array<{ images?: unknown }> }).steps[0];
  assert.deepEqual(step?.images, {
    "10": { file: "ref.png", sha256: sha("reference beside the workflow"), size: 29 },
    "20": { file: "masks/matte.png", sha256: sha("matte beside the job file"), size: 25 },
  });
});

test("a job's images field names a node's file relative to the job file, instead of the workflow's value", async (t) => {
  const dir = tempDir(t, "ns-comfy-img-");
  const jobFile = artistFolder(dir, img2img(), { images: { "10": "refs/hero_v3.png" } });
  mkdirSync(join(dir, "refs"));
  writeFileSync(join(dir, "refs", "hero_v3.png"), "hero");
  const prepared = await prepareComfySteps(rawOf(jobFile), jobFile);
  assert.deepEqual(prepared.images.map((i) => [i.node, i.file, i.sha256]), [["10", "refs/hero_v3.png", sha("hero")]]);
  // What the CLI sends is a valid job spec, the file by content.
  const spec = validateJobSpec(prepared.raw);
  assert.deepEqual(spec.steps[0]?.kind === "comfyui" && spec.steps[0].images, { "10": { file: "refs/hero_v3.png", sha256: sha("hero"), size: 4 } });

  // false: the file is on every agent already; nothing is looked for or sent, and the coordinator takes it as is.
  const onAgents = artistFolder(tempDir(t, "ns-comfy-img-"), img2img(), { images: { "10": false } });
  const kept = await prepareComfySteps(rawOf(onAgents), onAgents);
  assert.deepEqual(kept.images, []);
  const keptSpec = validateJobSpec(kept.raw);
  assert.deepEqual(keptSpec.steps[0]?.kind === "comfyui" && keptSpec.steps[0].images, { "10": false });

  const wrongNode = artistFolder(tempDir(t, "ns-comfy-img-"), img2img(), { images: { "99": "refs/hero_v3.png" } });
  assert.match((await comfySubmitRefusal(wrongNode)).message, /steps\[0\]\.images\.99: node '99' is not in the workflow/);
});

test("a missing or hostile image is refused naming the step, node and file", async (t) => {
  const wfWith = (image: string): Record<string, unknown> => {
    const wf = img2img();
    wf["10"]!.inputs.image = image;
    return wf;
  };
  const missing = await comfySubmitRefusal(artistFolder(tempDir(t, "ns-comfy-img-"), wfWith("ref.png")));
  assert.equal(missing.field, "steps[0].workflow");
  assert.match(missing.message, /^steps\[0\]\.workflow: node '10' \(LoadImage\) image 'ref\.png': no such file \(looked for '.*\/workflows\/ref\.png' and '.*\/ref\.png'\)$/);

  const dotdot = tempDir(t, "ns-comfy-img-");
  writeFileSync(join(dotdot, "secret.png"), "outside the workflow folder, but reached with ..");
  assert.match((await comfySubmitRefusal(artistFolder(dotdot, wfWith("../secret.png")))).message, /node '10' \(LoadImage\) image '\.\.\/secret\.png': must not contain '\.\.'/);

  const outside = tempDir(t, "ns-comfy-outside-");
  writeFileSync(join(outside, "passwd.png"), "elsewhere");
  assert.match((await comfySubmitRefusal(artistFolder(tempDir(t, "ns-comfy-img-"), wfWith(join(outside, "passwd.png"))))).message, /node '10' \(LoadImage\) image '.*passwd\.png': is an absolute path outside/);

  const linked = tempDir(t, "ns-comfy-img-");
  const linkedJob = artistFolder(linked, wfWith("ref.png"));
  symlinkSync(join(outside, "passwd.png"), join(linked, "workflows", "ref.png"));
  assert.match((await comfySubmitRefusal(linkedJob)).message, /node '10' \(LoadImage\) image 'ref\.png': '.*\/workflows\/ref\.png' leaves .* through a symlink/);

  // An absolute path inside the job's folder is fine.
  const inside = tempDir(t, "ns-comfy-img-");
  const insideJob = artistFolder(inside, wfWith(join(inside, "ref.png")));
  writeFileSync(join(inside, "ref.png"), "inside");
  assert.equal((await prepareComfySteps(rawOf(insideJob), insideJob)).images[0]?.sha256, sha("inside"));
});

test("the coordinator takes images only by content, in the store, on a node with an image input that is not bound", () => {
  const wf = img2img() as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  const stored = new Set([sha("ref")]);
  const claims: string[] = [];
  const assets = { claim: (r: { sha256: string }) => (claims.push(r.sha256), stored.has(r.sha256)) };
  const check = (images: Parameters<typeof checkComfyImages>[0], bound: string | null = null): { out: ReturnType<typeof checkComfyImages>; issues: SpecIssue[] } => {
    const issues: SpecIssue[] = [];
    return { out: checkComfyImages(images, wf, bound, assets, issues, ["steps", 0]), issues };
  };
  const ref = { file: "ref.png", sha256: sha("ref"), size: 3 };
  assert.deepEqual(check({ "10": ref }).out, [{ node: "10", sha256: sha("ref"), size: 3, name: "ref.png" }]);
  assert.deepEqual(claims, [sha("ref")], "the file is claimed in the store");
  assert.deepEqual(check({ "10": false }), { out: [], issues: [] }, "false: the agents have the file; nothing is checked");

  const msgs = (r: { issues: SpecIssue[] }): string[] => r.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  assert.deepEqual(msgs(check({ "10": "ref.png" })), ["steps.0.images.10: 'ref.png' was not sent by content; submit the job with 'nightshift submit', which uploads the file"]);
  assert.match(msgs(check({ "10": { ...ref, sha256: sha("other") } }))[0] ?? "", /^steps\.0\.images\.10: node '10' \(LoadImage\) image 'ref\.png' \(3 bytes, sha256 [0-9a-f]{12}…\) was not uploaded/);
  assert.match(msgs(check({ "10": ref }, "10"))[0] ?? "", /is bound to the input frames/);
  assert.match(msgs(check({ "3": ref }))[0] ?? "", /node '3' \(KSampler\) has no input 'image'/);
  assert.match(msgs(check({ "77": ref }))[0] ?? "", /node '77' \(image 'ref\.png'\) is not in the workflow/);
});

test("a comfyui step's images are named in provenance, kept by the store and pinned by the agent", () => {
  const step = WorkStepSchema.parse({
    id: "gen",
    kind: "comfyui",
    workflow: img2img(),
    workflowSha256: sha("wf"),
    bind: { seed: null, image: null, prefix: null },
    per: "frame",
    images: [
      { node: "10", sha256: sha("ref"), size: 3, name: "ref.png" },
      { node: "20", sha256: sha("mask"), size: 4, name: "masks/matte.png" },
    ],
  });
  const [named] = provenanceSteps([step]);
  assert.deepEqual(named?.hashes, { workflow: sha("wf"), "image:10": sha("ref"), "image:20": sha("mask") });
  assert.deepEqual(stepContentAssets(step), [
    { sha256: sha("ref"), size: 3 },
    { sha256: sha("mask"), size: 4 },
  ]);
});
