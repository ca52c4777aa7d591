import { realpath } from "node:fs/promises";
import { resolve, sep } from "node:path";
import type { FrameStep, JobSpec } from "../../shared/job-spec/index.ts";
import type { SpecIssue } from "../../shared/job-spec/spec-issue.ts";
import { parseApiWorkflow, type ApiWorkflow, type ComfyWorkflowByContent } from "../../shared/job-spec/comfy-workflow-content.ts";
import { listModels, resolveModel } from "../../shared/model-manifest/model-registry.ts";
import { sha256Bytes, sha256File } from "../../shared/model-manifest/model-file-hash.ts";
import { relativePathProblem } from "../../shared/safe-path.ts";
import { modelWindow } from "../../shared/model-manifest/frame-tensor.ts";
import { WorkStepSchema, type WorkStep } from "../../shared/steps/work-step.ts";
import type { ModelsTable } from "../store/models-table.ts";
import type { AssetStore } from "../assets/asset-store.ts";
import type { SceneFile } from "../../shared/assets/scene-tree.ts";
import { checkSceneTree } from "./check-scene-tree.ts";
import { checkComfyImages } from "./check-comfy-images.ts";

export interface ResolveStepsDeps {
  modelsDir: string;
  /** The studio's shared root as the coordinator mounts it (scenes live under it); null when none is configured. */
  sharedRoot: string | null;
  /** The coordinator's model store (coordinator/assets/), looked at after the models folder. */
  storeModels?: Pick<ModelsTable, "byName" | "bySha" | "list">;
  /** A Blender scene sent by content (its files already in `assets`); empty or absent: scenes come from the shared root. */
  sceneTree?: readonly SceneFile[];
  /** The asset store: a scene tree's files and comfyui input images are claimed in it. */
  assets?: Pick<AssetStore, "claim">;
}

/**
 * Turns the compiled spec's frame steps into the work steps agents receive,
 * checked against what the farm has: each model resolved to its exact hash,
 * each scene found under the shared root and hashed, each workflow (sent by
 * content) checked against its hash and its bindings. Every problem is collected, none
 * thrown, so that submit reports them all at once.
 */
export async function resolveSteps(spec: JobSpec, deps: ResolveStepsDeps, issues: SpecIssue[]): Promise<WorkStep[]> {
  const out: WorkStep[] = [];
  const listings = await listModels(deps.modelsDir);
  const inFolder = listings.flatMap((l) => (l.ok ? [l.model.manifest.name] : []));
  const known = [...new Set([...inFolder, ...(deps.storeModels?.list() ?? []).map((m) => m.name)])];
  for (const [i, step] of spec.steps.entries()) {
    if (step.kind === "assemble") continue;
    const at = (field: string, message: string): void => void issues.push({ path: ["steps", i, field], message });
    const resolved = await resolveOne(step, deps, { known, inFolder }, at, { index: i, issues });
    if (resolved) out.push(WorkStepSchema.parse(resolved));
  }
  if ((deps.sceneTree?.length ?? 0) > 0 && !spec.steps.some((s) => s.kind === "blender")) {
    issues.push({ path: ["sceneTree"], message: "scene files were sent, but the job has no blender step" });
  }
  return out;
}

type At = (field: string, message: string) => void;

async function resolveOne(
  step: FrameStep,
  deps: ResolveStepsDeps,
  models: { known: string[]; inFolder: string[] },
  at: At,
  { index, issues }: { index: number; issues: SpecIssue[] },
): Promise<WorkStep | null> {
  switch (step.kind) {
    case "model":
    case "temporal": {
      const window = step.kind === "temporal" ? step.window : null;
      const inFolder = models.inFolder.includes(step.model);
      // Not in the models folder: the model store, by name, or by hash for a job that names its model by sha256.
      const stored = inFolder ? undefined : (deps.storeModels?.byName(step.model) ?? (step.modelSha256 ? deps.storeModels?.bySha(step.modelSha256) : undefined));
      if (stored) {
        if (step.modelSha256 && step.modelSha256 !== stored.sha256) {
          at("modelSha256", `model '${step.model}' has sha256 ${stored.sha256}, the job asks for ${step.modelSha256}`);
          return null;
        }
        return { id: step.id, kind: "model", model: stored.name, modelSha256: stored.sha256, window, modelSize: stored.size, modelManifest: stored.manifestJson };
      }
      if (!inFolder) {
        at("model", `unknown model '${step.model}'; available: ${[...models.known].sort().join(", ") || "(none)"}`);
        return null;
      }
      const model = await resolveModel(deps.modelsDir, step.model, { verify: true });
      if (step.modelSha256 && step.modelSha256 !== model.manifest.sha256) {
        at("modelSha256", `model '${step.model}' has sha256 ${model.manifest.sha256}, the job asks for ${step.modelSha256}`);
        return null;
      }
      const sees = modelWindow(model.manifest);
      if (step.kind === "model" && sees > 1) {
        at("kind", `model '${step.model}' is temporal (it sees ${sees} frames at once): use kind: temporal with window: ${sees}`);
        return null;
      }
      if (step.kind === "temporal" && sees === 1) {
        at("model", `model '${step.model}' works on one frame at a time: use kind: model`);
        return null;
      }
      if (step.kind === "temporal" && sees !== step.window) {
        at("window", `model '${step.model}' sees ${sees} frames at once, the step says ${step.window}`);
        return null;
      }
      return { id: step.id, kind: "model", model: model.manifest.name, modelSha256: model.manifest.sha256, window: step.kind === "temporal" ? step.window : null };
    }
    case "blender": {
      const { engine, samples, resolution, percentage, version } = step;
      const overrides = { engine, samples, resolution, percentage, version, ...(step.format === "exr" ? { format: step.format } : {}) };
      if ((deps.sceneTree?.length ?? 0) > 0) {
        const tree = checkSceneTree(deps.sceneTree ?? [], step.scene, deps.assets, issues, ["steps", index, "scene"]);
        if (tree === null) return null;
        return { id: step.id, kind: "blender", scene: step.scene, sceneSha256: tree.sceneSha256, tree: tree.files, ...overrides };
      }
      const scene = await sceneUnderRoot(step.scene, deps.sharedRoot, at);
      if (scene === null) return null;
      return { id: step.id, kind: "blender", scene: scene.relative, sceneSha256: await sha256File(scene.absolute), ...overrides };
    }
    case "command":
      return { id: step.id, kind: "command", program: step.program, args: step.args, per: step.per };
    case "comfyui": {
      const sent = sentWorkflow(step.workflow, at);
      if (sent === null) return null;
      const workflow = sent.graph;
      for (const [name, b] of Object.entries(step.bind)) {
        if (b === null) continue;
        const node = workflow[b.node];
        if (!node) at(`bind.${name}.node`, `node '${b.node}' is not in the workflow (nodes: ${Object.keys(workflow).slice(0, 20).join(", ")})`);
        else if (!(b.input in node.inputs)) at(`bind.${name}.input`, `node '${b.node}' (${node.class_type}) has no input '${b.input}'`);
      }
      const images = step.images === undefined ? [] : checkComfyImages(step.images, workflow, step.bind.image?.node ?? null, deps.assets, issues, ["steps", index]);
      if (images === null) return null;
      return {
        id: step.id,
        kind: "comfyui",
        workflow,
        workflowSha256: sent.sha256,
        bind: step.bind,
        per: step.per,
        ...(step.minVramBytes !== undefined ? { minVramBytes: step.minVramBytes } : {}),
        ...(images.length > 0 ? { images } : {}),
      };
    }
  }
}

/**
 * The workflow the submit sent, checked: its text must hash to the sha256 it came with and be ComfyUI's API
 * format. A path is refused: the coordinator reads no file from the submitting machine.
 */
function sentWorkflow(workflow: string | ComfyWorkflowByContent, at: At): { graph: ApiWorkflow; sha256: string } | null {
  if (typeof workflow === "string") {
    at("workflow", `'${workflow}' was not sent by content: the coordinator reads no workflow from the submitting machine; submit the job with nightshift submit, which sends the file`);
    return null;
  }
  const sha256 = sha256Bytes(Buffer.from(workflow.text, "utf8"));
  if (sha256 !== workflow.sha256) {
    at("workflow", `'${workflow.file}': the text sent has sha256 ${sha256}, not the ${workflow.sha256} it was sent with`);
    return null;
  }
  const graph = parseApiWorkflow(workflow.text);
  if (typeof graph === "string") {
    at("workflow", `'${workflow.file}' ${graph}`);
    return null;
  }
  return { graph, sha256 };
}

/** A scene path must stay under the shared root, also through symlinks. */
async function sceneUnderRoot(scene: string, sharedRoot: string | null, at: At): Promise<{ relative: string; absolute: string } | null> {
  if (sharedRoot === null) {
    at("scene", "this coordinator has no sharedRoot configured, so it cannot find scenes; set sharedRoot in its config");
    return null;
  }
  const problem = relativePathProblem(scene);
  if (problem !== undefined) {
    at("scene", `${problem} (scenes are given relative to the shared root)`);
    return null;
  }
  let root: string;
  let absolute: string;
  try {
    root = await realpath(sharedRoot);
    absolute = await realpath(resolve(root, scene));
  } catch (err) {
    at("scene", `cannot read '${scene}' under the shared root ${sharedRoot}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return null;
  }
  if (!absolute.startsWith(root + sep)) {
    at("scene", `'${scene}' leaves the shared root through a symlink`);
    return null;
  }
  return { relative: absolute.slice(root.length + 1).split(sep).join("/"), absolute };
}
