import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ComfyPromptLostError } from "../../agent/executors/comfyui/comfy-errors.ts";
import { ComfyuiExecutorFactory } from "../../agent/executors/comfyui/comfyui-factory.ts";
import { StepFailedError } from "../../agent/executors/executor-registry.ts";
import type { EncodedFrame, Executor, ExecutorProgress, ExecutorTask } from "../../agent/executors/executor.ts";
import type { ComfyuiWorkStep } from "../../shared/steps/work-step.ts";
import { silentLogger } from "../../shared/log.ts";
import { decodePng } from "../../shared/media/png-codec.ts";
import type { RgbFrame } from "../../shared/media/rgb-frame.ts";
import { comfyStep } from "../support/comfyui-standin/comfy-step.ts";
import { readPngText } from "../support/comfyui-standin/png-text.ts";
import { invert, seedPattern } from "../support/comfyui-standin/standin-nodes.ts";
import { ComfyStandin } from "../support/comfyui-standin/standin-server.ts";
import { IMG2IMG_BIND, img2batch, img2img, TXT2IMG_BIND, txt2img, VID2VID_BIND, vid2vid } from "../support/comfyui-standin/workflows.ts";

/**
 * The comfyui executor against the ComfyUI stand-in: bindings, provenance,
 * per-frame and per-chunk prompts, progress, and every fault the agent must
 * survive (restart mid-prompt, a lost prompt, a stalled socket, history {}
 * while running, node errors, execution errors, cancel, ComfyUI down).
 */

const log = silentLogger();

function task(frames: number[], extra: Partial<ExecutorTask> = {}): ExecutorTask {
  return { jobId: "job-1", chunkId: "chunk-1", attemptId: `att-${Math.random().toString(36).slice(2, 8)}`, frames, seed: 1000, readFrame: async () => ({ width: 8, height: 8, data: new Uint8Array(192) }), signal: new AbortController().signal, ...extra };
}

/** An executor as the agent's registry hands it out: created and loaded (the socket held); closed after the test. */
const made: Executor[] = [];
async function make(f: ComfyuiExecutorFactory, step: ComfyuiWorkStep): Promise<Executor> {
  const ex = await f.create(step, { log });
  await ex.load();
  made.push(ex);
  return ex;
}
after(async () => {
  for (const ex of made) await ex.close();
});

async function collect(it: AsyncIterable<EncodedFrame>): Promise<EncodedFrame[]> {
  const out: EncodedFrame[] = [];
  for await (const f of it) out.push(f);
  return out;
}

function findOutput(dir: string, name: string): string {
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) stack.push(join(d, e.name));
      else if (e.name === name) return join(d, e.name);
    }
  }
  throw new Error(`${name} not in ${dir}`);
}

async function setup(opts: ConstructorParameters<typeof ComfyuiExecutorFactory>[0] extends infer O ? Partial<O> : never = {}, standinOpts: Parameters<typeof ComfyStandin.start>[0] = {}) {
  const standin = await ComfyStandin.start(standinOpts);
  const factory = new ComfyuiExecutorFactory({ url: standin.url, agentId: "agent-a", log, quietMs: 100, unreachableMs: 2000, ...opts });
  return { standin, factory, [Symbol.asyncDispose]: async () => (factory.close(), standin.close()) };
}

describe("comfyui executor", () => {
  let standin: ComfyStandin;
  let factory: ComfyuiExecutorFactory;
  before(async () => {
    ({ standin, factory } = await setup());
    assert.notEqual(await factory.probe(), null);
  });
  after(async () => {
    factory.close();
    await standin.close();
  });

  it("per frame: one prompt per frame, seed = job seed + frame, frames are ComfyUI's PNGs byte for byte with nightshift's provenance", async () => {
    const step = comfyStep(txt2img({ width: 24, height: 16, steps: 3 }), TXT2IMG_BIND);
    const ex = await make(factory, step);
    const progress: ExecutorProgress[] = [];
    const t = task([5, 6, 7], { onProgress: (p) => progress.push(p) });
    const before = standin.accepted.length;
    const frames = await collect(ex.run(t));
    assert.equal(standin.accepted.length - before, 3);
    assert.deepEqual(frames.map((f) => f.index), [5, 6, 7]);
    for (const f of frames) {
      const text = readPngText(f.data);
      const prompt = JSON.parse(text.get("prompt")!) as Record<string, { inputs: Record<string, unknown> }>;
      assert.equal(prompt["3"]!.inputs.seed, 1000 + f.index);
      assert.equal(prompt["9"]!.inputs.filename_prefix, `nightshift/job-1/${t.attemptId}_${String(f.index).padStart(6, "0")}`);
      assert.deepEqual(JSON.parse(text.get("nightshift")!), { job: "job-1", chunk: "chunk-1", attempt: t.attemptId, agent: "agent-a", seed: 1000 + f.index, frames: [f.index], workflowSha256: step.workflowSha256 });
      const onDisk = readFileSync(findOutput(standin.outputDir, `${t.attemptId}_${String(f.index).padStart(6, "0")}_00001_.png`));
      assert.deepEqual(f.data, new Uint8Array(onDisk));
      assert.deepEqual(decodePng(f.data), seedPattern(24, 16, 1000 + f.index));
    }
    assert.deepEqual(progress.filter((p) => p.frame === 6).map((p) => p.fraction), [1 / 3, 2 / 3, 1]);
    assert.equal(progress[0]!.detail, "KSampler #3 1/3");
  });

  it("per chunk: one prompt makes the chunk's frames, in order", async () => {
    const ex = await make(factory, comfyStep(txt2img({ batch: 4, steps: 1 }), TXT2IMG_BIND, "chunk"));
    const before = standin.accepted.length;
    const frames = await collect(ex.run(task([10, 11, 12, 13])));
    assert.equal(standin.accepted.length - before, 1);
    assert.deepEqual(frames.map((f) => f.index), [10, 11, 12, 13]);
    frames.forEach((f, i) => assert.deepEqual(decodePng(f.data), seedPattern(32, 24, 1010 + i)));
  });

  it("per chunk: a workflow that saves fewer images than the chunk has frames fails the step, saying so", async () => {
    const ex = await make(factory, comfyStep(txt2img({ batch: 2, steps: 1 }), TXT2IMG_BIND, "chunk"));
    await assert.rejects(collect(ex.run(task([0, 1, 2]))), (err: unknown) => err instanceof StepFailedError && /saved 2 image\(s\) for 3 frame\(s\)/.test(err.detail));
  });

  it("a bound image: the input frame goes up with /upload/image first and the workflow runs on it", async () => {
    const input: RgbFrame = { width: 8, height: 6, data: new Uint8Array(8 * 6 * 3).map((_, i) => (i * 7) & 0xff) };
    const ex = await make(factory, comfyStep(img2img({ steps: 1 }), IMG2IMG_BIND));
    const read: number[] = [];
    const [frame] = await collect(ex.run(task([3], { readFrame: async (i) => (read.push(i), input) })));
    assert.deepEqual(read, [3]);
    assert.deepEqual(decodePng(frame!.data), invert(input));
    const reqs = standin.requests.map((r) => `${r.method} ${r.path}`);
    assert.ok(reqs.lastIndexOf("POST /upload/image") < reqs.lastIndexOf("POST /prompt"));
  });

  it("per chunk, image bound to a directory loader (VHS_LoadImages): every input frame goes up, in frame order, into a folder of its own, and the node gets that folder", async () => {
    await using env = await setup({}, { customNodes: true });
    await env.factory.probe();
    const inputs = new Map([20, 21, 22].map((f) => [f, { width: 8, height: 6, data: new Uint8Array(8 * 6 * 3).map((_, i) => (i * f) & 0xff) } satisfies RgbFrame]));
    const ex = await make(env.factory, comfyStep(vid2vid({ steps: 1 }), VID2VID_BIND, "chunk"));
    const read: number[] = [];
    const t = task([20, 21, 22], { readFrame: async (i) => (read.push(i), inputs.get(i)!) });
    const frames = await collect(ex.run(t));
    assert.deepEqual(read, [20, 21, 22]);
    assert.deepEqual(frames.map((f) => f.index), [20, 21, 22]);
    for (const f of frames) assert.deepEqual(decodePng(f.data), invert(inputs.get(f.index)!), `frame ${f.index} was made from its own input frame`);
    const folder = `nightshift_${t.attemptId}`;
    assert.deepEqual(readdirSync(join(env.standin.inputDir, folder)).sort(), ["frame_000020.png", "frame_000021.png", "frame_000022.png"]);
    const prompt = env.standin.requests.filter((r) => r.path === "/prompt").at(-1)?.body as { prompt: Record<string, { inputs: Record<string, unknown> }> };
    assert.equal(prompt.prompt["10"]?.inputs.directory, folder);
    assert.equal(env.standin.requests.filter((r) => r.path === "/prompt").length, 1, "one prompt for the chunk");
  });

  it("per chunk, image bound to LoadImage (one file, as img2vid models start): the chunk's first frame only", async () => {
    const input: RgbFrame = { width: 8, height: 6, data: new Uint8Array(8 * 6 * 3).map((_, i) => (i * 5) & 0xff) };
    const ex = await make(factory, comfyStep(img2batch(3, { steps: 1 }), IMG2IMG_BIND, "chunk"));
    const read: number[] = [];
    const uploadsBefore = standin.requests.filter((r) => r.path === "/upload/image").length;
    const frames = await collect(ex.run(task([7, 8, 9], { readFrame: async (i) => (read.push(i), input) })));
    assert.deepEqual(read, [7]);
    assert.equal(standin.requests.filter((r) => r.path === "/upload/image").length - uploadsBefore, 1);
    assert.deepEqual(frames.map((f) => f.index), [7, 8, 9]);
    for (const f of frames) assert.deepEqual(decodePng(f.data), invert(input));
  });

  it("node errors from /prompt (HTTP 400) fail the step with ComfyUI's own message", async () => {
    const ex = await make(factory, comfyStep(txt2img({ steps: 0 }), TXT2IMG_BIND));
    const logs: string[] = [];
    await assert.rejects(collect(ex.run(task([0], { onLog: (t) => logs.push(t) }))), (err: unknown) => {
      assert.ok(err instanceof StepFailedError);
      assert.equal(err.detail, "Prompt outputs failed validation: KSampler #3: Value 0 smaller than min of 1: steps");
      return true;
    });
    assert.match(logs.join(""), /smaller than min/);
  });

  it("an error while the prompt runs (execution_error) fails the step with ComfyUI's message", async () => {
    const ex = await make(factory, comfyStep(txt2img(), TXT2IMG_BIND));
    standin.failNextExecution("CUDA out of memory. Tried to allocate 2.00 GiB");
    await assert.rejects(collect(ex.run(task([0]))), (err: unknown) => err instanceof StepFailedError && err.detail === "KSampler #3: RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB");
  });

  it("/history/{id} answering {} while the prompt still runs is not an error", async () => {
    const ex = await make(factory, comfyStep(txt2img({ steps: 2 }), TXT2IMG_BIND));
    standin.holdHistory(true);
    const run = collect(ex.run(task([0])));
    const polled = () => standin.requests.filter((r) => r.path.startsWith("/history/")).length;
    const start = polled();
    const deadline = Date.now() + 5000;
    while (polled() < start + 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(polled() >= start + 3, "the executor polled /history while the prompt ran");
    standin.holdHistory(false);
    assert.equal((await run).length, 1);
  });
});

describe("comfyui executor faults", () => {
  it("ComfyUI restarting mid-prompt fails the attempt (prompt lost), never reports it done", async () => {
    await using env = await setup({}, { stepMs: 40 });
    await env.factory.probe();
    const ex = await make(env.factory, comfyStep(txt2img({ steps: 100 }), TXT2IMG_BIND));
    const got: EncodedFrame[] = [];
    const run = (async () => {
      for await (const f of ex.run(task([0, 1]))) got.push(f);
    })();
    const deadline = Date.now() + 5000;
    while (!env.standin.sent.some((m) => m.type === "progress") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await env.standin.restart();
    await assert.rejects(run, ComfyPromptLostError);
    assert.equal(got.length, 0);
  });

  it("a prompt ComfyUI accepted and then dropped is detected as lost", async () => {
    await using env = await setup();
    await env.factory.probe();
    env.standin.loseNextPrompt();
    const ex = await make(env.factory, comfyStep(txt2img(), TXT2IMG_BIND));
    await assert.rejects(collect(ex.run(task([0]))), ComfyPromptLostError);
  });

  it("a stalled websocket falls back to polling /history and the prompt still completes", async () => {
    await using env = await setup({}, { stepMs: 5 });
    await env.factory.probe();
    env.standin.stallSocket(true);
    const ex = await make(env.factory, comfyStep(txt2img({ steps: 3 }), TXT2IMG_BIND));
    const frames = await collect(ex.run(task([0, 1])));
    assert.equal(frames.length, 2);
    assert.equal(env.standin.sent.filter((m) => m.type === "executing").length, 0, "the socket said nothing");
  });

  it("cancel sends POST /interrupt with the prompt id and stops the run", async () => {
    await using env = await setup({}, { stepMs: 30 });
    await env.factory.probe();
    const ex = await make(env.factory, comfyStep(txt2img({ steps: 200 }), TXT2IMG_BIND));
    const ac = new AbortController();
    const run = collect(ex.run(task([0], { signal: ac.signal })));
    const deadline = Date.now() + 5000;
    while (!env.standin.sent.some((m) => m.type === "progress") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    ac.abort(new Error("revoked"));
    await assert.rejects(run, /revoked/);
    const promptId = env.standin.accepted.at(-1)!;
    const until = Date.now() + 5000;
    while (!env.standin.historyIds().includes(promptId) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(env.standin.requests.find((r) => r.path === "/interrupt")?.body, { prompt_id: promptId });
    assert.ok(env.standin.historyIds().includes(promptId), "ComfyUI stopped the prompt");
    assert.ok(env.standin.sent.some((m) => m.type === "execution_interrupted"));
  });

  it("probe advertises version and node classes; a ComfyUI that is down is not advertised, and the watcher says when it goes and comes back", async () => {
    await using env = await setup({ healthIntervalMs: 50 }, { customNodes: true });
    const cap = await env.factory.probe();
    assert.equal(cap?.kind, "comfyui");
    assert.match(cap!.version, /^0\.3\./);
    assert.ok(cap!.features.includes("SaveImage") && cap!.features.includes("StandinFilmGrain"));
    assert.ok((env.factory.systemStats()?.devices[0]?.vram_total ?? 0) > 0);
    assert.equal(env.factory.available(), true);
    const changes: boolean[] = [];
    env.factory.onAvailability((up) => changes.push(up));
    env.factory.watch();
    await env.standin.stop();
    for (let i = 0; i < 100 && env.factory.available(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(env.factory.available(), false);
    assert.equal(await env.factory.probe(), null);
    await env.standin.resume();
    for (let i = 0; i < 100 && !env.factory.available(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(changes, [false, true]);
  });

  it("a chunk taken while ComfyUI is down fails fast with ComfyUI unavailable (retried elsewhere), within the bound", async () => {
    await using env = await setup({ unreachableMs: 300 });
    await env.factory.probe();
    await env.standin.stop();
    const ex = await make(env.factory, comfyStep(txt2img(), TXT2IMG_BIND));
    await assert.rejects(collect(ex.run(task([0]))), { name: "ComfyUnavailableError" });
    for (let i = 0; i < 100 && env.factory.available(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(env.factory.available(), false, "the failed chunk made the factory re-check at once, without the watcher");
  });
});
