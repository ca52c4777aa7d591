import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodePng, encodePng } from "../../../shared/media/png-codec.ts";
import type { CommandWorkStep } from "../../../shared/steps/work-step.ts";
import type { EncodedFrame, Executor, ExecutorTask } from "../executor.ts";
import { StepFailedError } from "../executor-registry.ts";
import type { AllowedProgram } from "./command-allowlist.ts";
import { FRAME_PATTERN, frameFile, substituteArgs, type CommandValues } from "./command-args.ts";
import { runProgram } from "./run-program.ts";

const monotonicSeconds = (): number => performance.now() / 1000;

/**
 * Runs an allowed program for a command step: once per frame (`{input}` ->
 * `{output}`) or once per chunk (a folder of frames in, a folder out). Input
 * frames are written as PNG into the attempt's work folder; outputs must be
 * PNG frames, checked by decoding before they are streamed on.
 */
export class CommandExecutor implements Executor {
  readonly kind = "command";

  constructor(
    private readonly step: CommandWorkStep,
    private readonly program: AllowedProgram,
  ) {}

  async load(): Promise<void> {}

  run(task: ExecutorTask): AsyncIterable<EncodedFrame> {
    return this.step.per === "frame" ? this.perFrame(task) : this.perChunk(task);
  }

  private async *perFrame(task: ExecutorTask): AsyncIterable<EncodedFrame> {
    const dirs = await this.folders(task);
    const reads = this.step.args.includes("{input}");
    for (const index of task.frames) {
      task.signal.throwIfAborted();
      const values: CommandValues = { frame: String(index), seed: String(task.seed), output: join(dirs.out, frameFile(index)) };
      if (reads) {
        values.input = join(dirs.in, frameFile(index));
        await writeFile(values.input, encodePng(await task.readFrame(index)));
      }
      const started = monotonicSeconds();
      await this.exec(task, values, dirs.root);
      task.onBusy?.(monotonicSeconds() - started);
      yield await this.collect(dirs.out, index);
    }
  }

  private async *perChunk(task: ExecutorTask): AsyncIterable<EncodedFrame> {
    const dirs = await this.folders(task);
    if (this.step.args.some((a) => a === "{inputDir}" || a === "{inputPattern}")) {
      for (const index of task.frames) {
        task.signal.throwIfAborted();
        await writeFile(join(dirs.in, frameFile(index)), encodePng(await task.readFrame(index)));
      }
    }
    const values: CommandValues = {
      first: String(task.frames[0]),
      last: String(task.frames[task.frames.length - 1]),
      seed: String(task.seed),
      inputDir: dirs.in,
      outputDir: dirs.out,
      inputPattern: join(dirs.in, FRAME_PATTERN),
      outputPattern: join(dirs.out, FRAME_PATTERN),
    };
    const started = monotonicSeconds();
    await this.exec(task, values, dirs.root);
    task.onBusy?.(monotonicSeconds() - started);
    for (const index of task.frames) yield await this.collect(dirs.out, index);
  }

  private async folders(task: ExecutorTask): Promise<{ root: string; in: string; out: string }> {
    if (!task.workDir) throw new Error("command step: the runner gave no work folder");
    const dirs = { root: task.workDir, in: join(task.workDir, "in"), out: join(task.workDir, "out") };
    await mkdir(dirs.in, { recursive: true });
    await mkdir(dirs.out, { recursive: true });
    return dirs;
  }

  private exec(task: ExecutorTask, values: CommandValues, cwd: string): Promise<void> {
    return runProgram({
      program: this.program,
      name: this.step.program,
      args: substituteArgs(this.step.args, values),
      cwd,
      signal: task.signal,
      onLog: (t) => task.onLog?.(t),
    });
  }

  /** The program's frame: it must exist and be a PNG that decodes. */
  private async collect(outDir: string, index: number): Promise<EncodedFrame> {
    const file = join(outDir, frameFile(index));
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch {
      throw new StepFailedError("command", `${this.step.program} wrote no ${frameFile(index)} for frame ${index}`);
    }
    try {
      decodePng(data, file);
    } catch (err) {
      throw new StepFailedError("command", `${this.step.program} wrote ${frameFile(index)}, which is not a PNG: ${(err as Error).message}`);
    }
    return { index, data, format: "png" };
  }

  async close(): Promise<void> {}
}
