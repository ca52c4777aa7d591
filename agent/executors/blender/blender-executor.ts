import { mkdir, mkdtemp, readFile, rm, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256File } from "../../../shared/model-manifest/model-file-hash.ts";
import type { BlenderWorkStep } from "../../../shared/steps/work-step.ts";
import { ExrUnsupportedError, exrLayout } from "../../../shared/media/exr-header-attribute.ts";
import { StepFailedError } from "../executor-registry.ts";
import type { EncodedFrame, Executor, ExecutorTask } from "../executor.ts";
import { blenderArgs, blenderPrelude, frameOfOutput } from "./blender-command.ts";
import { BlenderErrorLine } from "./blender-error-line.ts";
import { startBlender, type BlenderExit } from "./blender-process.ts";
import { parseBlenderLine } from "./blender-progress.ts";

/**
 * Runs a Blender step (the scene already found: under the shared root or rebuilt from its tree): one `blender -b -a` process per run of contiguous
 * frames (a chunk is one run), each frame handed on as soon as Blender's
 * `Saved:` line says its file is complete, its console lines passed to the
 * log, its sample counts to live progress. A failed render (missing file,
 * Python error, crash, a frame not written) is a StepFailedError carrying
 * Blender's own error line. Abort ends the process group and yields nothing
 * more.
 */

export interface BlenderExecutorOptions {
  blenderPath: string;
  /** Absolute path of the scene, already checked to lie under the shared root. */
  scenePath: string;
  step: BlenderWorkStep;
  /** SIGTERM-to-SIGKILL grace on abort (default BLENDER_KILL_GRACE_MS). */
  killGraceMs?: number;
  /** Monotonic clock in seconds, for busy-time accounting. */
  clock?: () => number;
  /** Runs once when the executor is closed (gives back a scene tree it rendered from). */
  onClose?: () => void;
}

const PNG_END = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
const monotonicSeconds = (): number => performance.now() / 1000;

export class BlenderExecutor implements Executor {
  readonly kind = "blender";
  private readonly clock: () => number;

  constructor(private readonly options: BlenderExecutorOptions) {
    this.clock = options.clock ?? monotonicSeconds;
  }

  async load(): Promise<void> {}

  async *run(task: ExecutorTask): AsyncIterable<EncodedFrame> {
    task.signal.throwIfAborted();
    const ownDir = task.workDir === undefined ? await mkdtemp(join(tmpdir(), "nightshift-blender-")) : undefined;
    const workDir = task.workDir ?? ownDir ?? "";
    await mkdir(workDir, { recursive: true });
    const sceneCheck = this.checkScene();
    sceneCheck.catch(() => undefined);
    try {
      for (const [first, last] of contiguousRuns(task.frames)) {
        yield* this.renderRun(task, workDir, first, last, sceneCheck);
      }
    } finally {
      if (ownDir !== undefined) await rm(ownDir, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    this.options.onClose?.();
  }

  private async *renderRun(
    task: ExecutorTask,
    workDir: string,
    first: number,
    last: number,
    sceneCheck: Promise<void>,
  ): AsyncGenerator<EncodedFrame> {
    const { blenderPath, scenePath, step, killGraceMs } = this.options;
    const blender = startBlender(blenderPath, blenderArgs(scenePath, blenderPrelude(step, workDir), first, last), killGraceMs);
    const onAbort = (): void => blender.stop();
    task.signal.addEventListener("abort", onAbort, { once: true });
    const errors = new BlenderErrorLine();
    let next = first;
    let since = this.clock();
    try {
      for await (const line of blender.lines as AsyncIterable<string>) {
        task.onLog?.(`${line}\n`);
        errors.push(line);
        const parsed = parseBlenderLine(line);
        if (parsed?.type === "progress") task.onProgress?.({ frame: parsed.frame, fraction: parsed.fraction, detail: parsed.detail });
        if (parsed?.type !== "saved" || task.signal.aborted) continue;
        if (frameOfOutput(parsed.path) !== next || !parsed.path.startsWith(workDir)) {
          throw new StepFailedError("blender", `Blender wrote '${parsed.path}' where frame ${next} was expected`);
        }
        const data = await readFile(parsed.path);
        const format = parsed.path.endsWith(".exr") ? "exr" : "png";
        if (!(format === "exr" ? isCompleteExr(data) : isCompletePng(data))) {
          throw new StepFailedError("blender", `frame ${next}: '${parsed.path}' is not a complete ${format.toUpperCase()}`);
        }
        await sceneCheck;
        const now = this.clock();
        task.onBusy?.(Math.max(0, now - since));
        since = now;
        task.signal.throwIfAborted();
        yield { index: next, data, format };
        await unlink(parsed.path).catch(() => undefined);
        next += 1;
      }
      const exit = await blender.exited.catch((err: unknown) => {
        throw new StepFailedError("blender", `cannot start ${blenderPath}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      task.signal.throwIfAborted();
      await sceneCheck;
      if (next <= last || exit.code !== 0) throw new StepFailedError("blender", errors.line ?? exitProblem(exit, next, last));
    } finally {
      task.signal.removeEventListener("abort", onAbort);
      blender.stop();
      await blender.exited.catch(() => undefined);
    }
  }

  /** The scene must still be the file the job was submitted with; a missing file is left to Blender to report. */
  private async checkScene(): Promise<void> {
    const { scenePath, step } = this.options;
    let actual: string;
    try {
      actual = await sha256File(scenePath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new StepFailedError("blender", `cannot read scene '${step.scene}': ${(err as Error).message}`, { cause: err });
    }
    if (actual !== step.sceneSha256) {
      throw new StepFailedError("blender", `scene '${step.scene}' changed since the job was submitted (sha256 ${actual}, job has ${step.sceneSha256})`);
    }
  }
}

/** [first, last] pairs of consecutive frames, in order. */
export function contiguousRuns(frames: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const frame of frames) {
    const run = runs[runs.length - 1];
    if (run !== undefined && frame === run[1] + 1) run[1] = frame;
    else runs.push([frame, frame]);
  }
  return runs;
}

/** Header and offset table read, every chunk offset inside the file (exr-header-attribute.ts checks them). */
function isCompleteExr(data: Buffer): boolean {
  try {
    exrLayout(data);
    return true;
  } catch (err) {
    // A multi-part or deep file is complete as far as this check knows: the farm passes it on unstamped.
    return err instanceof ExrUnsupportedError;
  }
}

function isCompletePng(data: Buffer): boolean {
  return data.length > PNG_END.length + 8 && data.subarray(data.length - PNG_END.length).equals(PNG_END);
}

function exitProblem(exit: BlenderExit, next: number, last: number): string {
  if (exit.signal !== null) return `Blender was killed by ${exit.signal} at frame ${next}`;
  if (exit.code !== 0) return `Blender exited with code ${String(exit.code)} at frame ${next}`;
  return `Blender exited without writing frame ${next} (of ${next}..${last})`;
}
