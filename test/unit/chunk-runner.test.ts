import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { dirname } from "node:path";
import { test } from "node:test";
import { setImmediate as turn } from "node:timers/promises";
import type { EncodedFrame, Executor, ExecutorTask, RgbFrame } from "../../agent/executors/executor.ts";
import type { AnyExecutorFactory } from "../../agent/executors/executor-registry.ts";
import { runChunk, type ChunkRunnerDeps } from "../../agent/work/chunk-runner.ts";
import { ExecutorCache } from "../../agent/work/executor-cache.ts";
import { ExecutorSlot } from "../../agent/work/executor-slot.ts";
import type { ChunkMeter } from "../../shared/accounting/chunk-accounting.ts";
import { silentLogger } from "../../shared/log.ts";
import type { FrameSource } from "../../shared/media/frame-source.ts";
import type { ChunkWork } from "../../shared/protocol/messages.ts";
import { encodePng } from "../../shared/media/png-codec.ts";
import { tempDir } from "../helpers/temp-dir.ts";

/**
 * The chunk runner's hand-over between chunks on one agent
 * (agent/work/chunk-runner.ts): a model chunk reads its first input frames
 * while it waits for the executor slot, and the slot passes to the next
 * chunk as soon as the executor says it is done with the device, before the
 * last frame is uploaded. Executor, meter, upload and frame source are
 * stand-ins the test drives; the slot is the agent's own.
 */

/** Lets the runner's own awaits (its work folder, the slot) run until `done`, bounded. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) await turn();
  assert.ok(done(), "the runner never got there");
}

const pixel = (index: number): RgbFrame => ({ width: 1, height: 1, data: Uint8Array.of(index, 0, 0) });

const work = (id: string, first: number, last: number): ChunkWork => ({
  jobId: "job", chunkId: id, attemptId: `${id}-a`, frameStart: first, frameEnd: last, contextStart: first, contextEnd: last, seed: 0,
  input: { type: "generated", width: 1, height: 1, frames: 100, seed: 0 },
  steps: [{ id: "grade", kind: "model", model: "grade", modelSha256: "0".repeat(64), window: null }],
  ackWaitSeconds: 30,
});

/** Reads recorded as "<chunk> read <i>"; each chunk gets its own source, as the runner opens one per chunk. */
function sources(events: string[]): () => FrameSource {
  let n = 0;
  return () => {
    const name = String.fromCharCode("A".charCodeAt(0) + n++);
    return {
      frameCount: () => Promise.resolve(100),
      read: (i) => {
        events.push(`${name} read ${i}`);
        return Promise.resolve(pixel(i));
      },
      close: () => Promise.resolve(),
    };
  };
}

/** An executor whose device work per frame the test finishes by hand; it reports the device free after its last frame. */
class HandExecutor implements Executor {
  readonly kind = "model";
  readonly computes: Array<{ chunk: string; index: number; finish: () => void }> = [];
  constructor(private readonly events: string[]) {}
  async load(): Promise<void> {}
  async close(): Promise<void> {}
  async *run(task: ExecutorTask): AsyncIterable<EncodedFrame> {
    for (const [k, index] of task.frames.entries()) {
      const frame = await task.readFrame(index);
      await new Promise<void>((resolve) => this.computes.push({ chunk: task.chunkId, index, finish: resolve }));
      this.events.push(`${task.chunkId} computed ${index}`);
      if (k === task.frames.length - 1) task.onDeviceDone?.();
      yield { index, data: frame.data, format: "png" };
    }
  }
}

const meter = (): ChunkMeter => ({
  source: "estimate",
  start: () => Promise.resolve(),
  markBusy: () => undefined,
  stop: () => Promise.resolve({ wallSeconds: 0, busySeconds: 0, energyJoules: 0, energySource: "estimate", idleEnergyJoules: 0, peakMemoryBytes: 0, memoryKind: "ram", meanWatts: 0, samples: 0 }),
});

function deps(events: string[], executor: HandExecutor, slot: ExecutorSlot, uploads: Map<string, () => void>): ChunkRunnerDeps {
  const factory = {
    kind: "model",
    probe: () => Promise.resolve({ kind: "model", version: "test", features: [] }),
    reuseKey: () => "grade",
    create: () => Promise.resolve(executor),
  } as unknown as AnyExecutorFactory;
  const executors = new ExecutorCache([factory], { log: silentLogger() });
  void executors.probe();
  return {
    executors,
    newMeter: meter,
    log: silentLogger(),
    frameSource: sources(events),
    slot: async (signal) => {
      const release = await slot.acquire(signal);
      return (allMade) => {
        events.push(`release ${allMade ? "all made" : "failed"}`);
        release();
      };
    },
    // The upload takes each frame as it is made, and holds the last one until the test lets it commit.
    upload: async (w, frames, finish) => {
      let n = 0;
      for await (const f of frames) {
        n++;
        events.push(`${w.chunkId} uploaded ${f.index}`);
      }
      await new Promise<void>((resolve) => uploads.set(w.chunkId, resolve));
      await finish();
      return { committed: true, framesWritten: n, message: "" };
    },
  };
}

test("a model chunk reads its first frames while it waits for the slot, and gets the slot when the one before is done with the device", async () => {
  const events: string[] = [];
  const executor = new HandExecutor(events);
  const slot = new ExecutorSlot();
  const uploads = new Map<string, () => void>();
  const d = deps(events, executor, slot, uploads);
  let aSettled = false;
  const a = runChunk(work("A", 0, 2), d, new AbortController().signal).finally(() => (aSettled = true));
  await until(() => executor.computes.length >= 1);
  const b = runChunk(work("B", 3, 5), d, new AbortController().signal);
  await until(() => events.includes("B read 4"));
  for (let i = 0; i < 20; i++) await turn();
  // B waits for the slot with its first two frames already read; nothing more.
  assert.deepEqual(events.filter((e) => e.startsWith("B")), ["B read 3", "B read 4"]);

  executor.computes[0]!.finish();
  await until(() => executor.computes.length >= 2);
  executor.computes[1]!.finish();
  await until(() => executor.computes.length >= 3);
  for (let i = 0; i < 20; i++) await turn();
  assert.equal(executor.computes.filter((c) => c.chunk === "B").length, 0, "B waits while A's last frame is on the device");
  executor.computes[2]!.finish();
  // A's last frame left the device: B computes its first frame (read ahead) while A has still to upload it and commit.
  await until(() => executor.computes.length >= 4);
  assert.equal(executor.computes[3]!.chunk, "B");
  assert.equal(aSettled, false);
  assert.equal(events.indexOf("release all made") < events.indexOf("A uploaded 2"), true, "the slot passed on before the last frame was uploaded");
  assert.equal(events.filter((e) => e === "B read 3" || e === "B read 4").length, 2, "each input frame is read once");

  await until(() => uploads.has("A"));
  uploads.get("A")!();
  for (let k = 3; k < 6; k++) {
    await until(() => executor.computes.length >= k + 1);
    executor.computes[k]!.finish();
  }
  await until(() => uploads.has("B"));
  uploads.get("B")!();
  assert.deepEqual(await a, { committed: true, framesWritten: 3, message: "" });
  assert.deepEqual(await b, { committed: true, framesWritten: 3, message: "" });
  assert.deepEqual(events.filter((e) => e.includes("uploaded")), ["A uploaded 0", "A uploaded 1", "A uploaded 2", "B uploaded 3", "B uploaded 4", "B uploaded 5"]);
  assert.deepEqual(events.filter((e) => e.startsWith("release")), ["release all made", "release all made"]);
});

test("a chunk aborted while it waits for the slot ends without computing, its read-ahead frames dropped", async () => {
  const events: string[] = [];
  const executor = new HandExecutor(events);
  const slot = new ExecutorSlot();
  const held = await slot.acquire(new AbortController().signal);
  const abort = new AbortController();
  const run = runChunk(work("B", 3, 5), deps(events, executor, slot, new Map()), abort.signal);
  await until(() => events.length >= 2);
  for (let i = 0; i < 20; i++) await turn();
  assert.deepEqual(events, ["A read 3", "A read 4"]);
  abort.abort(new Error("drained"));
  await assert.rejects(run, /drained/);
  assert.equal(executor.computes.length, 0);
  assert.deepEqual(events, ["A read 3", "A read 4"], "the slot was never held, so it was never released");
  held();
});

/** Records the work folder each run was given, and whether it existed then; makes its frames at once. */
class FolderExecutor implements Executor {
  readonly seen: Array<{ kind: string; workDir: string | undefined; existed: boolean }> = [];
  constructor(readonly kind: string) {}
  async load(): Promise<void> {}
  async close(): Promise<void> {}
  async *run(task: ExecutorTask): AsyncIterable<EncodedFrame> {
    this.seen.push({ kind: this.kind, workDir: task.workDir, existed: task.workDir !== undefined && existsSync(dirname(task.workDir)) });
    // PNG bytes, as a step before the last hands on (the runner decodes them for the next step).
    for (const index of task.frames) yield { index, data: encodePng(await task.readFrame(index)), format: "png" };
  }
}

test("a chain of model steps alone gets no work folder; a chain with another kind gets one, removed after the chunk", async (t) => {
  const root = tempDir(t, "nightshift-runner-root-");
  const executors = { model: new FolderExecutor("model"), command: new FolderExecutor("command") };
  const factories = Object.values(executors).map(
    (e) => ({ kind: e.kind, probe: () => Promise.resolve({ kind: e.kind, version: "test", features: [] }), reuseKey: () => e.kind, create: () => Promise.resolve(e) }) as unknown as AnyExecutorFactory,
  );
  const cache = new ExecutorCache(factories, { log: silentLogger() });
  await cache.probe();
  const d: ChunkRunnerDeps = {
    executors: cache,
    newMeter: meter,
    log: silentLogger(),
    workRoot: root,
    frameSource: sources([]),
    upload: async (_w, frames, finish) => {
      let n = 0;
      for await (const _ of frames) n++;
      await finish();
      return { committed: true, framesWritten: n, message: "" };
    },
  };
  const modelOnly = work("M", 0, 1);
  await runChunk(modelOnly, d, new AbortController().signal);
  assert.deepEqual(executors.model.seen, [{ kind: "model", workDir: undefined, existed: false }]);

  const withCommand: ChunkWork = { ...work("C", 0, 1), steps: [{ id: "tool", kind: "command", program: "x", args: [], per: "frame" }, ...modelOnly.steps] };
  await runChunk(withCommand, d, new AbortController().signal);
  const [tool, grade] = [executors.command.seen[0]!, executors.model.seen[1]!];
  assert.ok(tool.workDir?.startsWith(root) && tool.existed, `the command step's folder is in the work root: ${tool.workDir}`);
  assert.equal(dirname(grade.workDir ?? ""), dirname(tool.workDir!), "each step of the attempt has a folder in the attempt's");
  assert.deepEqual(readdirSync(root), [], "the attempt's folder is removed after the chunk");
});
