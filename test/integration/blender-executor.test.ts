import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BlenderExecutorFactory } from "../../agent/executors/blender/blender-factory.ts";
import { BlenderErrorLine } from "../../agent/executors/blender/blender-error-line.ts";
import { startBlender } from "../../agent/executors/blender/blender-process.ts";
import { StepFailedError } from "../../agent/executors/executor-registry.ts";
import type { EncodedFrame, ExecutorProgress, ExecutorTask } from "../../agent/executors/executor.ts";
import { sha256Bytes } from "../../shared/model-manifest/model-file-hash.ts";
import type { BlenderWorkStep } from "../../shared/steps/work-step.ts";
import { eventually } from "../helpers/eventually.ts";
import { testLog } from "../helpers/test-log.ts";
import { blenderBin, blenderMissing, buildBlenderScene, pixelDigest, renderReference, type BuiltScene } from "../support/blender-scene.ts";
import { processGroupMembers, processesWithArg } from "../support/process-table.ts";

/**
 * The Blender executor against the real Blender: frames equal to a plain
 * `blender -b -a` render, handed on as they are written, cancelled without
 * leftovers, and failures in Blender's own words.
 */

const FRAMES = 6;
let root: string;
let scene: BuiltScene;
let reference: Map<number, string>;

function step(overrides: Partial<BlenderWorkStep> = {}): BlenderWorkStep {
  return { id: "render", kind: "blender", scene: "shots/scene.blend", sceneSha256: scene.sha256, engine: null, samples: null, resolution: null, percentage: null, version: null, ...overrides };
}

function task(frames: number[], signal: AbortSignal, workDir: string, hooks: Partial<ExecutorTask> = {}): ExecutorTask {
  return {
    jobId: "job",
    chunkId: "chunk",
    attemptId: "attempt",
    frames,
    seed: 0,
    readFrame: () => Promise.reject(new Error("a Blender step reads no input frames")),
    signal,
    workDir,
    ...hooks,
  };
}

/** A work folder not yet created (the executor creates it, as the chunk runner expects). */
function workDir(): string {
  // A quote and a '#' in the folder: both must reach Blender as data, not as Python or as frame padding.
  return join(root, "work", `attempt it's #${Math.random().toString(36).slice(2)}`, "0-render");
}

async function collect(frames: AsyncIterable<EncodedFrame>): Promise<EncodedFrame[]> {
  const out: EncodedFrame[] = [];
  for await (const f of frames) out.push(f);
  return out;
}

const factory = (): BlenderExecutorFactory => new BlenderExecutorFactory({ sharedRoot: root });

describe("Blender executor", { skip: blenderMissing() }, () => {
  before(async () => {
    root = realpathSync(mkdtempSync(join(tmpdir(), "nightshift-blender-")));
    scene = await buildBlenderScene(join(root, "shots"), { frames: FRAMES });
    reference = await renderReference(scene);
    assert.equal(reference.size, FRAMES);
  });

  after(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  test("the probe finds Blender and its version", async () => {
    const cap = await factory().probe();
    assert.equal(cap?.kind, "blender");
    assert.match(cap?.version ?? "", /^\d+\.\d+(\.\d+)?$/);
    assert.equal(await new BlenderExecutorFactory({ blenderPath: join(root, "no-blender-here") }).probe(), null);
  });

  test("a chunk's frames have the pixels of a plain `blender -b -a` render, each handed on as Blender writes it", async () => {
    const dir = workDir();
    const log: string[] = [];
    const progress: ExecutorProgress[] = [];
    const logWhenYielded: string[][] = [];
    const executor = await factory().create(step(), { log: testLog() });
    const frames: EncodedFrame[] = [];
    const run = executor.run(task([2, 3, 4, 5], new AbortController().signal, dir, { onLog: (l) => log.push(l), onProgress: (p) => progress.push(p) }));
    for await (const frame of run) {
      frames.push(frame);
      logWhenYielded.push([...log]);
    }
    assert.deepEqual(frames.map((f) => f.index), [2, 3, 4, 5]);
    for (const f of frames) {
      assert.equal(f.format, "png");
      assert.equal(pixelDigest(f.data), reference.get(f.index), `frame ${f.index} pixels differ from the reference render`);
    }
    // Handed on as written: when frame 2 arrived, Blender had not yet saved frame 3 nor quit.
    const seen = logWhenYielded[0]!.join("");
    assert.match(seen, /Saved: '.*frame_0000002\.png'/);
    assert.doesNotMatch(seen, /frame_0000003\.png|Blender quit/);
    assert.match(log.join(""), /Blender quit/);
    for (const frame of [2, 3, 4, 5]) {
      assert.ok(progress.some((p) => p.frame === frame && p.fraction === 1), `frame ${frame} reported finished`);
      assert.ok(progress.some((p) => p.frame === frame && p.fraction > 0 && p.fraction < 1 && /^Sample \d+\/8$/.test(p.detail ?? "")), `frame ${frame} reported samples`);
    }
    await executor.close();
  });

  test("abort ends the Blender process group at once and yields nothing partial", async () => {
    const dir = workDir();
    const controller = new AbortController();
    let sampling!: () => void;
    const started = new Promise<void>((resolve) => (sampling = resolve));
    // A million samples: frame 1 would take hours, so only the abort can end this run.
    const executor = await factory().create(step({ samples: 1_000_000 }), { log: testLog() });
    const frames: EncodedFrame[] = [];
    const running = (async () => {
      for await (const f of executor.run(task([1, 2, 3], controller.signal, dir, { onProgress: (p) => p.fraction > 0 && sampling() }))) frames.push(f);
    })();
    await started;
    const pids = processesWithArg(dir);
    assert.equal(pids.length, 1, "one Blender process renders the chunk");
    const pid = pids[0]!;
    const abortedAt = performance.now();
    controller.abort(new Error("revoked"));
    await assert.rejects(running, /revoked/);
    const ms = performance.now() - abortedAt;
    assert.deepEqual(frames, []);
    assert.deepEqual(processGroupMembers(pid), [], `nothing left in Blender's process group ${pid}`);
    assert.deepEqual(processesWithArg(dir), []);
    // SIGKILL follows SIGTERM after 400 ms; the bound only guards against a hang.
    assert.ok(ms < 5000, `Blender ended ${Math.round(ms)} ms after the abort`);
    process.stderr.write(`# blender ended ${Math.round(ms)} ms after abort\n`);
  });

  test("an agent killed outright takes its Blender with it", async () => {
    const dir = workDir();
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "..", "support", "blender-child-render.ts"), root, "shots/scene.blend", scene.sha256, dir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => d.toString().includes("sampling") && resolve());
        child.once("exit", (code) => reject(new Error(`the render process exited (${String(code)}) before Blender sampled`)));
      });
      const pids = processesWithArg(dir).filter((pid) => pid !== child.pid);
      assert.equal(pids.length, 1, "one Blender process renders the chunk");
      child.kill("SIGKILL");
      // Blender's watchdog sees its parent gone within a quarter second; the bound only guards against a hang.
      await eventually(() => processGroupMembers(pids[0]!).length === 0, "Blender to end after its agent was killed", 10_000);
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("a missing scene fails with Blender's own error line", async () => {
    const executor = await factory().create(step({ scene: "shots/missing.blend" }), { log: testLog() });
    const err = await collect(executor.run(task([1, 2], new AbortController().signal, workDir()))).then(
      () => assert.fail("a missing scene must fail"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StepFailedError);
    assert.equal(err.detail, `Error: Cannot read file '${join(root, "shots", "missing.blend")}': No such file or directory`);
  });

  test("a damaged scene fails with Blender's own error line", async () => {
    const damaged = readFileSync(scene.path).subarray(0, 3000);
    writeFileSync(join(root, "shots", "damaged.blend"), damaged);
    const executor = await factory().create(step({ scene: "shots/damaged.blend", sceneSha256: sha256Bytes(damaged) }), { log: testLog() });
    await assert.rejects(collect(executor.run(task([1], new AbortController().signal, workDir()))), (e: unknown) => {
      assert.ok(e instanceof StepFailedError);
      assert.match(e.detail, /^Error: Failed to read blend file '.*damaged\.blend': /);
      return true;
    });
  });

  test("a scene that changed since submit is refused before any frame is handed on", async () => {
    const executor = await factory().create(step({ sceneSha256: "f".repeat(64) }), { log: testLog() });
    await assert.rejects(collect(executor.run(task([1], new AbortController().signal, workDir()))), (e: unknown) => {
      assert.ok(e instanceof StepFailedError);
      assert.match(e.detail, /changed since the job was submitted/);
      return true;
    });
  });

  test("scenes outside the shared root are refused", async () => {
    const outside = mkdtempSync(join(tmpdir(), "nightshift-outside-"));
    try {
      symlinkSync(outside, join(root, "escape"));
      for (const [scenePath, why] of [["../scene.blend", /must not contain '\.\.'/], ["/etc/scene.blend", /must be relative/], ["escape/scene.blend", /leaves the shared root/]] as const) {
        await assert.rejects(factory().create(step({ scene: scenePath }), { log: testLog() }), (e: unknown) => {
          assert.ok(e instanceof StepFailedError, `${scenePath}: ${String(e)}`);
          assert.match(e.detail, why);
          return true;
        });
      }
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test("a Python error in Blender yields Blender's own exception line", async () => {
    const blender = startBlender(blenderBin(), ["-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", "import bpy\nbpy.context.scene.render.engine = 'NO_SUCH_ENGINE'"]);
    const errors = new BlenderErrorLine();
    for await (const line of blender.lines as AsyncIterable<string>) errors.push(line);
    assert.equal((await blender.exited).code, 1);
    assert.match(errors.line ?? "", /^TypeError: bpy_struct: item\.attr = val: enum "NO_SUCH_ENGINE" not found in/);
  });
});
