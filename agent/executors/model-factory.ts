import { BadInputError } from "../../shared/errors.ts";
import { listModels, resolveModel } from "../../shared/model-manifest/model-registry.ts";
import { verifyModelFile } from "../../shared/model-manifest/model-file-hash.ts";
import type { KindCapability } from "../../shared/steps/kind-capability.ts";
import type { ModelWorkStep } from "../../shared/steps/work-step.ts";
import type { Executor } from "./executor.ts";
import type { ExecutorFactory } from "./executor-registry.ts";
import { OnnxExecutor } from "./onnx-executor.ts";
import { prepareFrameDecoder } from "./frame-decoder.ts";
import { prepareFrameEncoder } from "./frame-encoder.ts";
import { prepareOnnxWorker } from "./onnx-worker.ts";
import { parseManifest } from "../../shared/model-manifest/manifest-load.ts";
import type { ModelManifest } from "../../shared/model-manifest/manifest-schema.ts";
import type { AssetCache } from "../assets/asset-cache.ts";

export interface ModelFactoryOptions {
  modelsDir: string;
  executionProviders?: string[];
  intraOpThreads?: number;
  /** Where a model the models folder lacks comes from: the coordinator's store, by sha256 (agent/assets/). */
  assets?: Pick<AssetCache, "ensure">;
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
      // The agent is starting: start the model's worker thread, the frame encoder's and the input decoder's now rather than inside the first chunk.
      // The decoder is the chunk runner's (it reads a model step's input whatever executor runs it), so it starts with a built executor too.
      if (!opts.build) {
        prepareOnnxWorker();
        prepareFrameEncoder();
      }
      void prepareFrameDecoder();
      return { kind: "model", version: ort.env.versions.common ?? "unknown", features: opts.executionProviders ?? ["cpu"] };
    },
    reuseKey: (step) => step.modelSha256,
    async create(step): Promise<Executor> {
      if (opts.build) return opts.build(step);
      const model = await findModel(step, opts);
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

/**
 * The models folder first (a model there with the job's sha256 is used as
 * is); otherwise, when the job's model is in the coordinator's store, the
 * asset cache fetches it by sha256 (verified) and the store's manifest says
 * how to run it.
 */
async function findModel(step: ModelWorkStep, opts: ModelFactoryOptions): Promise<{ manifest: ModelManifest; modelPath: string }> {
  const stored = step.modelSize !== undefined && step.modelManifest !== undefined && opts.assets ? { size: step.modelSize, manifestJson: step.modelManifest, assets: opts.assets } : undefined;
  const local = await resolveModel(opts.modelsDir, step.model, { verify: true }).catch((err: unknown) => {
    if (stored) return undefined;
    throw err;
  });
  if (local?.manifest.sha256 === step.modelSha256) return local;
  // The same bytes under another name in the models folder (what the heartbeat advertised as cached).
  const sameBytes = stored ? await folderModelByHash(opts.modelsDir, step.modelSha256) : undefined;
  if (sameBytes) return sameBytes;
  if (!stored) {
    throw new BadInputError(
      `model '${step.model}' on this agent has sha256 ${local?.manifest.sha256.slice(0, 12)}…, the job needs ${step.modelSha256.slice(0, 12)}…`,
      { field: "step.modelSha256" },
    );
  }
  const manifest = parseManifest(JSON.parse(stored.manifestJson), `store manifest of model '${step.model}'`);
  if (manifest.sha256 !== step.modelSha256) throw new BadInputError(`store manifest of model '${step.model}' names sha256 ${manifest.sha256}, the job needs ${step.modelSha256}`, { field: "step.modelManifest" });
  const modelPath = await stored.assets.ensure({ sha256: step.modelSha256, size: stored.size });
  return { manifest, modelPath };
}

/** A model in the folder whose manifest names this sha256 and whose file really has it; undefined when none. */
async function folderModelByHash(modelsDir: string, sha256: string): Promise<{ manifest: ModelManifest; modelPath: string } | undefined> {
  for (const l of await listModels(modelsDir)) {
    if (!l.ok || l.model.manifest.sha256 !== sha256) continue;
    const ok = await verifyModelFile(l.model.modelPath, sha256).then(() => true, () => false);
    if (ok) return l.model;
  }
  return undefined;
}

/** sha256 of every model the folder's manifests name: advertised as cached, so placement does not count a fetch for them. */
export async function folderModelHashes(modelsDir: string): Promise<string[]> {
  return (await listModels(modelsDir)).flatMap((l) => (l.ok ? [l.model.manifest.sha256] : []));
}
