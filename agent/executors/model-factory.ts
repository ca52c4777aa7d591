import { BadInputError } from "../../shared/errors.ts";
import { resolveModel } from "../../shared/model-manifest/model-registry.ts";
import type { KindCapability } from "../../shared/steps/kind-capability.ts";
import type { ModelWorkStep } from "../../shared/steps/work-step.ts";
import type { Executor } from "./executor.ts";
import type { ExecutorFactory } from "./executor-registry.ts";
import { OnnxExecutor } from "./onnx-executor.ts";

export interface ModelFactoryOptions {
  modelsDir: string;
  executionProviders?: string[];
  intraOpThreads?: number;
  /** Builds the executor instead of the ONNX one (benchmarks and tests: agent/executors/sleep-executor.ts). */
  build?: (step: ModelWorkStep) => Promise<Executor>;
}

/**
 * The `model` step kind on onnxruntime-node: every agent has it. A step's
 * model must match the job's sha256 exactly (the audit trail records which
 * model bytes made each frame); loaded sessions are reused by model hash.
 */
export function modelFactory(opts: ModelFactoryOptions): ExecutorFactory<ModelWorkStep> {
  return {
    kind: "model",
    async probe(): Promise<KindCapability> {
      const ort = await import("onnxruntime-node");
      return { kind: "model", version: ort.env.versions.common ?? "unknown", features: opts.executionProviders ?? ["cpu"] };
    },
    reuseKey: (step) => step.modelSha256,
    async create(step): Promise<Executor> {
      if (opts.build) return opts.build(step);
      const model = await resolveModel(opts.modelsDir, step.model, { verify: true });
      if (model.manifest.sha256 !== step.modelSha256) {
        throw new BadInputError(
          `model '${step.model}' on this agent has sha256 ${model.manifest.sha256.slice(0, 12)}…, the job needs ${step.modelSha256.slice(0, 12)}…`,
          { field: "step.modelSha256" },
        );
      }
      const exec = new OnnxExecutor({
        manifest: model.manifest,
        modelPath: model.modelPath,
        ...(opts.executionProviders ? { executionProviders: opts.executionProviders } : {}),
        ...(opts.intraOpThreads ? { intraOpThreads: opts.intraOpThreads } : {}),
      });
      await exec.load();
      return exec;
    },
  };
}
