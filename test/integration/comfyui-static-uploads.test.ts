import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { AssetCache } from "../../agent/assets/asset-cache.ts";
import { ComfyClient } from "../../agent/executors/comfyui/comfy-client.ts";
import { ComfyuiExecutor, refusedImageInput } from "../../agent/executors/comfyui/comfyui-executor.ts";
import { ComfyuiExecutorFactory } from "../../agent/executors/comfyui/comfyui-factory.ts";
import { UploadedInputs } from "../../agent/executors/comfyui/uploaded-inputs.ts";
import { StepFailedError } from "../../agent/executors/executor-registry.ts";
import type { EncodedFrame, Executor, ExecutorTask } from "../../agent/executors/executor.ts";
import { silentLogger } from "../../shared/log.ts";
import { encodePng } from "../../shared/media/png-codec.ts";
import type { ComfyuiWorkStep } from "../../shared/steps/work-step.ts";
import { defer } from "../helpers/defer.ts";
import { tempDir } from "../helpers/temp-dir.ts";
import { comfyStep } from "../support/comfyui-standin/comfy-step.ts";
import { ComfyStandin } from "../support/comfyui-standin/standin-server.ts";
import { img2img, TXT2IMG_BIND } from "../support/comfyui-standin/workflows.ts";

// A comfyui step's static input image (a LoadImage reference sent by content) against the ComfyUI stand-in: it is
// uploaded to a ComfyUI once, under its sha256, and later chunks (of this or another workflow) skip the upload; when
// ComfyUI answers that the file is missing (its input folder was cleaned), the chunk uploads it again, once.

const log = silentLogger();

function task(frames: number[]): ExecutorTask {
  return { jobId: "job-1", chunkId: "chunk-1", attemptId: `att-${Math.random().toString(36).slice(2, 8)}`, frames, seed: 7, readFrame: () => Promise.reject(new Error("no input frames")), signal: new AbortController().signal };
}

async function collect(it: AsyncIterable<EncodedFrame>): Promise<EncodedFrame[]> {
  const out: EncodedFrame[] = [];
  for await (const f of it) out.push(f);
  return out;
}

/** A step whose LoadImage #10 loads `reference` by content, the asset cache that serves it (counting fetches), and its uploaded name. */
function referenceStep(dir: string, steps = 1): { step: ComfyuiWorkStep; assets: { ensure: () => Promise<string>; fetches: number }; name: string; bytes: Buffer } {
  const bytes = Buffer.from(encodePng({ width: 6, height: 4, data: new Uint8Array(6 * 4 * 3).map((_, i) => (i * 11) & 0xff) }));
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  writeFileSync(join(dir, "reference.png"), bytes);
  const assets = {
    fetches: 0,
    ensure: async () => {
      assets.fetches += 1;
      return join(dir, "reference.png");
    },
  };
  const step = { ...comfyStep(img2img({ steps }), TXT2IMG_BIND), images: [{ node: "10", sha256, size: bytes.length, name: "Reference.PNG" }] };
  return { step, assets, name: `nightshift/${sha256}.png`, bytes };
}

const uploads = (s: ComfyStandin): number => s.requests.filter((r) => r.method === "POST" && r.path === "/upload/image").length;
const prompts = (s: ComfyStandin) => s.requests.filter((r) => r.method === "POST" && r.path === "/prompt").map((r) => (r.body as { prompt: Record<string, { inputs: Record<string, unknown> }> }).prompt);

test("a static input image is uploaded to a ComfyUI once, reused by later chunks and other workflows, and uploaded again once when ComfyUI lacks it", async (t) => {
  const dir = tempDir(t, "ns-comfy-uploads-");
  const standin = await ComfyStandin.start();
  defer(t, () => standin.close());
  const factory = new ComfyuiExecutorFactory({ url: standin.url, agentId: "agent-a", log, quietMs: 100, unreachableMs: 2000 });
  defer(t, () => factory.close());
  assert.notEqual(await factory.probe(), null);
  const { step, assets, name, bytes } = referenceStep(dir);
  const made: Executor[] = [];
  defer(t, async () => {
    for (const ex of made) await ex.close();
  });
  const make = async (s: ComfyuiWorkStep): Promise<Executor> => {
    // The executor asks the cache for ensure() only.
    const ex = await factory.create(s, { log, assets: assets as unknown as AssetCache });
    made.push(ex);
    return ex;
  };

  // First chunk: fetched from the cache and uploaded under its sha256 (the artist's extension, lower-cased).
  const ex = await make(step);
  assert.equal((await collect(ex.run(task([0, 1])))).length, 2);
  assert.equal(uploads(standin), 1);
  assert.equal(assets.fetches, 1);
  assert.deepEqual(readFileSync(join(standin.inputDir, name)), bytes);

  // Later chunks, and an executor for another workflow naming the same image on the same ComfyUI: no upload, no fetch.
  await collect(ex.run(task([2, 3])));
  const other = await make({ ...step, workflow: img2img({ steps: 2 }), workflowSha256: "f".repeat(64) });
  await collect(other.run(task([4])));
  assert.equal(uploads(standin), 1, "uploaded once for every chunk of both workflows");
  assert.equal(assets.fetches, 1);
  assert.equal(prompts(standin).length, 5);
  for (const p of prompts(standin)) assert.equal(p["10"]?.inputs.image, name);

  // ComfyUI's input folder is cleaned: the first prompt is refused naming the file; the chunk uploads it again and goes on.
  rmSync(join(standin.inputDir, "nightshift"), { recursive: true });
  const before = standin.accepted.length;
  assert.equal((await collect(ex.run(task([5, 6])))).length, 2);
  assert.equal(uploads(standin), 2, "uploaded again once");
  assert.equal(assets.fetches, 2);
  assert.equal(standin.accepted.length - before, 2, "both frames' prompts ran");
  assert.equal(prompts(standin).length, 8, "one refused prompt, then the chunk's two");
  assert.ok(existsSync(join(standin.inputDir, name)));
  await collect(ex.run(task([7])));
  assert.equal(uploads(standin), 2, "remembered again after the new upload");
});

test("a ComfyUI that still lacks the image after uploading it again fails the step with its own words, after one retry", async (t) => {
  const dir = tempDir(t, "ns-comfy-uploads-");
  const standin = await ComfyStandin.start();
  defer(t, () => standin.close());
  // A ComfyUI whose input folder loses every upload at once (a client that deletes the file after each upload).
  class ForgetfulComfy extends ComfyClient {
    override async uploadImage(n: string, b: Uint8Array, signal?: AbortSignal, subfolder = ""): Promise<string> {
      const answer = await super.uploadImage(n, b, signal, subfolder);
      rmSync(join(standin.inputDir, answer), { force: true });
      return answer;
    }
  }
  const client = new ForgetfulComfy({ url: standin.url, log });
  defer(t, () => client.close());
  const { step, assets } = referenceStep(dir);
  const uploaded = new UploadedInputs();
  const ex = new ComfyuiExecutor(step, { client, agentId: "agent-a", log, quietMs: 100, unreachableMs: 2000, assets, uploaded });
  await ex.load();
  defer(t, () => ex.close());
  await assert.rejects(collect(ex.run(task([0]))), (e: unknown) => e instanceof StepFailedError && /LoadImage #10: Custom validation failed for node: image - Invalid image file: nightshift\/[0-9a-f]{64}\.png/.test(e.message));
  assert.equal(uploads(standin), 2, "the first upload and one more");
  assert.equal(prompts(standin).length, 2);
  assert.equal(standin.accepted.length, 0);
});

test("ComfyUI's refusal of a LoadImage's file is told from other refusals of the node", () => {
  const refusal = (errors: unknown[]) => ({ error: { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation", details: "" }, node_errors: { "10": { errors, class_type: "LoadImage", dependent_outputs: ["9"] } } });
  // execution.py's custom_validation_failed for LoadImage.VALIDATE_INPUTS, and an older ComfyUI's combo check.
  const invalid = { type: "custom_validation_failed", message: "Custom validation failed for node", details: "image - Invalid image file: nightshift/ab.png", extra_info: { input_name: "image" } };
  const notInList = { type: "value_not_in_list", message: "Value not in list", details: "image: 'nightshift/ab.png' not in (list of length 3)", extra_info: { input_name: "image", received_value: "nightshift/ab.png" } };
  assert.equal(refusedImageInput(refusal([invalid]), "10"), true);
  assert.equal(refusedImageInput(refusal([notInList]), "10"), true);
  assert.equal(refusedImageInput(refusal([invalid]), "11"), false, "another node");
  assert.equal(refusedImageInput(refusal([{ ...invalid, details: "upload - bad", extra_info: { input_name: "upload" } }]), "10"), false, "another input");
  assert.equal(refusedImageInput(refusal([{ type: "required_input_missing", message: "Required input is missing", details: "image", extra_info: { input_name: "image" } }]), "10"), false, "not a missing file");
  assert.equal(refusedImageInput({ error: "no prompt", node_errors: [] }, "10"), false);
  assert.equal(refusedImageInput("not json", "10"), false);
});
