import type { Logger } from "../../shared/log.ts";
import type { KindCapability } from "../../shared/steps/kind-capability.ts";
import type { StepKind, WorkStep } from "../../shared/steps/work-step.ts";
import type { Executor } from "./executor.ts";
import type { AssetCache } from "../assets/asset-cache.ts";

/**
 * The agent's executor registry: step kind -> factory, built at start from
 * what this machine really has (onnxruntime always; Blender when found; the
 * programs its admin allowed; a ComfyUI server when one answers). The agent
 * advertises each factory's capability when it joins; the runner asks the
 * registry for an executor per step of a chunk.
 */

export interface ExecutorContext {
  log: Logger;
  /** The agent's asset cache (agent/assets/): what a step names by content (a scene's files) is fetched through it. */
  assets?: AssetCache;
}

export interface ExecutorFactory<S extends WorkStep = WorkStep> {
  readonly kind: S["kind"];
  /** What this machine offers for the kind, or null when it has nothing (then it is not advertised). */
  probe(): Promise<KindCapability | null>;
  /** Executors with the same key are reused by the next chunk (a model's hash, a scene's hash); null builds one per chunk. */
  reuseKey(step: S): string | null;
  create(step: S, ctx: ExecutorContext): Promise<Executor>;
  /** False while the tool behind the kind stopped answering (a ComfyUI server that is down): take none of its chunks meanwhile. Absent: always. */
  available?(): boolean;
  /** Stops what the factory runs itself (a health watcher, a socket) when the agent stops. */
  close?(): void | Promise<void>;
}

/** Narrows a factory to the union; each factory checks its own kind on create. */
export type AnyExecutorFactory = { [K in StepKind]: ExecutorFactory<Extract<WorkStep, { kind: K }>> }[StepKind];

/** A step the agent has no factory for (should not be placed here; the claim guard normally catches it). */
export class NoExecutorError extends Error {
  override readonly name = "NoExecutorError";
  constructor(readonly kind: string) {
    super(`this agent has no executor for step kind '${kind}'`);
  }
}

/** A step the tool refused or failed on; `detail` is the tool's own error line (Blender's, ComfyUI's). */
export class StepFailedError extends Error {
  override readonly name = "StepFailedError";
  constructor(
    readonly kind: string,
    readonly detail: string,
    options: { cause?: unknown } = {},
  ) {
    super(`${kind} step failed: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
  }
}
