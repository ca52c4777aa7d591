import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { prepareComfySteps } from "../../cli/comfy/prepare-comfy-steps.ts";
import { BUNDLED_MODELS_DIR } from "../../cli/paths.ts";
import { submitJob } from "../../coordinator/jobs/submit-job.ts";
import { storedSteps } from "../../coordinator/jobs/job-specs.ts";
import { BadInputError } from "../../shared/errors.ts";
import { validateJobSpec } from "../../shared/job-spec/index.ts";
import { openTempStore } from "../helpers/store-fixture.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { comfySubmitRefusal, rawOf } from "../support/comfy-submit-refusal.ts";
import { runCli } from "../support/run-cli.ts";
import { txt2img } from "../support/comfyui-standin/workflows.ts";

// A comfyui step's workflow travels in the submit request: the CLI reads the file relative to the job file and sends
// {file, sha256, text}; the coordinator (real SQLite) checks the text against its hash and reads no path.

const sha = (bytes: Uint8Array | string): string => createHash("sha256").update(bytes).digest("hex");
const BIND = { seed: { node: "3", input: "seed" } };

/** An artist's folder: shots/job.json naming ../workflows/<name>. */
function artistFolder(dir: string, workflowBytes: string | Buffer | null, name = "wf.api.json"): string {
  mkdirSync(join(dir, "shots"), { recursive: true });
  mkdirSync(join(dir, "workflows"), { recursive: true });
  if (workflowBytes !== null) writeFileSync(join(dir, "workflows", name), workflowBytes);
  const jobFile = join(dir, "shots", "job.json");
  writeFileSync(jobFile, JSON.stringify({ name: "seeds", frames: { start: 0, end: 1 }, steps: [{ id: "gen", kind: "comfyui", workflow: `../workflows/${name}`, bind: BIND }] }));
  return jobFile;
}


test("submit sends the workflow file (relative to the job file) by content; the coordinator accepts it from no folder and records its sha256", async (t) => {
  const dir = tempDir(t, "ns-comfy-wf-");
  const bytes = JSON.stringify(txt2img({ width: 16, height: 16, steps: 1 }), null, 2);
  const jobFile = artistFolder(dir, bytes);

  const prepared = await prepareComfySteps(rawOf(jobFile), jobFile);
  const step = (prepared.raw as { steps: Array<{ workflow: unknown; bind: unknown }> }).steps[0];
  assert.deepEqual(step?.workflow, { file: "../workflows/wf.api.json", sha256: sha(bytes), text: bytes });
  assert.deepEqual(step?.bind, BIND, "the rest of the step is kept");
  validateJobSpec(prepared.raw);
  // Preparing again (a spec already by content) changes nothing.
  assert.deepEqual((await prepareComfySteps(prepared.raw, jobFile)).raw, prepared.raw);

  // The artist's folder is gone and the coordinator is handed a folder that does not exist: it reads neither.
  rmSync(join(dir, "workflows"), { recursive: true });
  const { store, dir: storeDir } = openTempStore(t);
  mkdirSync(join(storeDir, "out"));
  const deps = { store, outputRoot: join(storeDir, "out"), modelsDir: BUNDLED_MODELS_DIR, sharedRoot: null, clock: Date.now };
  const { jobId } = await submitJob(deps, prepared.raw, join(dir, "no-such-folder"));
  const job = store.jobs.get(jobId);
  assert.ok(job);
  const [work] = storedSteps(job);
  assert.equal(work?.kind, "comfyui");
  assert.equal(work?.kind === "comfyui" ? work.workflowSha256 : "", sha(bytes), "the job records the sha256 of the file's bytes");
  assert.deepEqual(work?.kind === "comfyui" ? work.workflow : null, JSON.parse(bytes));
  assert.equal(job.modelSha256, sha(bytes));
});

test("the coordinator refuses a workflow path (it reads nothing from the submitting machine) and a text that does not match its sha256", async (t) => {
  const dir = tempDir(t, "ns-comfy-wf-");
  const bytes = JSON.stringify(txt2img());
  writeFileSync(join(dir, "wf.api.json"), bytes);
  const { store, dir: storeDir } = openTempStore(t);
  mkdirSync(join(storeDir, "out"));
  const deps = { store, outputRoot: join(storeDir, "out"), modelsDir: BUNDLED_MODELS_DIR, sharedRoot: null, clock: Date.now };
  const spec = (workflow: unknown): unknown => ({ name: "x", frames: { start: 0, end: 0 }, steps: [{ id: "gen", kind: "comfyui", workflow, bind: BIND }] });
  const refusedWith = async (workflow: unknown, re: RegExp): Promise<void> => {
    await assert.rejects(submitJob(deps, spec(workflow), dir), (e: unknown) => e instanceof BadInputError && re.test(e.message));
  };

  // The file exists in the base folder: still refused, naming the field.
  await refusedWith("wf.api.json", /steps\[0\]\.workflow: 'wf\.api\.json' was not sent by content.*nightshift submit/);
  await refusedWith({ file: "wf.api.json", sha256: sha("something else"), text: bytes }, /steps\[0\]\.workflow: 'wf\.api\.json': the text sent has sha256 [0-9a-f]{64}, not the/);
  const ui = JSON.stringify({ nodes: [], links: [] });
  await refusedWith({ file: "ui.json", sha256: sha(ui), text: ui }, /steps\[0\]\.workflow: 'ui\.json' is in ComfyUI's UI format/);
  assert.equal(store.jobs.list().length, 0, "nothing was written");
});

test("a missing, unreadable, non-JSON, non-UTF-8 or non-API workflow is refused by the CLI naming the step and the file", async (t) => {
  const cases: Array<[string, string | Buffer | null, RegExp]> = [
    ["missing", null, /steps\[0\]\.workflow: cannot read '.*\/workflows\/wf\.api\.json': ENOENT/],
    ["not JSON", "{ not json", /steps\[0\]\.workflow: '.*\/workflows\/wf\.api\.json' is not JSON/],
    ["UI format", JSON.stringify({ nodes: [], links: [], version: 0.4 }), /is in ComfyUI's UI format; export it with 'Save \(API Format\)'/],
    ["a node without class_type", JSON.stringify({ "3": { inputs: {} } }), /node '3' has no class_type and inputs: not ComfyUI's API format/],
    ["an array", "[]", /must be a JSON object in ComfyUI's API format/],
    ["not UTF-8", Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /is not UTF-8 text/],
  ];
  for (const [what, bytes, re] of cases) {
    const dir = tempDir(t, "ns-comfy-wf-");
    const err = await comfySubmitRefusal(artistFolder(dir, bytes));
    assert.match(err.message, re, what);
    assert.equal(err.field, "steps[0].workflow", what);
  }
  const dir = tempDir(t, "ns-comfy-wf-");
  const jobFile = artistFolder(dir, null);
  mkdirSync(join(dir, "workflows", "wf.api.json"));
  assert.match((await comfySubmitRefusal(jobFile)).message, /cannot read '.*wf\.api\.json': EISDIR/);
});

test("nightshift submit of a job whose workflow is missing exits 2 naming the file, before asking any coordinator", async (t) => {
  const dir = tempDir(t, "ns-comfy-wf-");
  const jobFile = artistFolder(dir, null);
  const r = await runCli(["submit", jobFile, "--coordinator", "127.0.0.1:1"]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /steps\[0\]\.workflow: cannot read '.*\/workflows\/wf\.api\.json': ENOENT/);
});
