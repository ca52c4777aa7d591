import { OnnxExecutor } from "../executors/onnx-executor.ts";
import type { Executor } from "../executors/executor.ts";
import { resolveModel } from "../../shared/model-manifest/model-registry.ts";
import { BadInputError } from "../../shared/errors.ts";
import type { ChunkWork } from "../../shared/protocol/messages.ts";

export interface ExecutorCacheOptions {
  modelsDir: string;
  executionProviders?: string[];
  intraOpThreads?: number;
  /** Builds the executor for a step instead of the ONNX one (benchmarks and tests: agent/executors/sleep-executor.ts). */
  factory?: (step: ChunkWork["step"]) => Promise<Executor>;
}

/**
 * Keeps loaded executors by model hash, so consecutive chunks of one job reuse
 * the session (the scheduler prefers agents that already hold the model).
 * A step's model must match the job's sha256 exactly: the audit trail records
 * which model bytes produced each frame.
 */
export class ExecutorCache {
  private readonly byHash = new Map<string, Promise<Executor>>();

  constructor(private readonly opts: ExecutorCacheOptions) {}

  /** Hashes of loaded models, advertised in heartbeats. */
  loaded(): string[] {
    return [...this.byHash.keys()];
  }

  get(step: ChunkWork["step"]): Promise<Executor> {
    let p = this.byHash.get(step.modelSha256);
    if (!p) {
      p = this.create(step);
      this.byHash.set(step.modelSha256, p);
      p.catch(() => this.byHash.delete(step.modelSha256));
    }
    return p;
  }

  private async create(step: ChunkWork["step"]): Promise<Executor> {
    if (this.opts.factory) return this.opts.factory(step);
    if (step.kind !== "onnx" && step.kind !== "model") {
      throw new BadInputError(`this agent has no executor for step kind '${step.kind}'`, { field: "step.kind" });
    }
    const model = await resolveModel(this.opts.modelsDir, step.model, { verify: true });
    if (model.manifest.sha256 !== step.modelSha256) {
      throw new BadInputError(
        `model '${step.model}' on this agent has sha256 ${model.manifest.sha256.slice(0, 12)}…, the job needs ${step.modelSha256.slice(0, 12)}…`,
        { field: "step.modelSha256" },
      );
    }
    const exec = new OnnxExecutor({
      manifest: model.manifest,
      modelPath: model.modelPath,
      ...(this.opts.executionProviders ? { executionProviders: this.opts.executionProviders } : {}),
      ...(this.opts.intraOpThreads ? { intraOpThreads: this.opts.intraOpThreads } : {}),
    });
    await exec.load();
    return exec;
  }

  async close(): Promise<void> {
    const all = [...this.byHash.values()];
    this.byHash.clear();
    for (const p of all) await p.then((e) => e.close()).catch(() => undefined);
  }
}
