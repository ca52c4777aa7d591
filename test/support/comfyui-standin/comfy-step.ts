import { createHash } from "node:crypto";
import type { ComfyuiWorkStep } from "../../../shared/steps/work-step.ts";
import type { ApiWorkflow } from "./workflows.ts";

/** A comfyui work step as the job spec compiles it, for executor tests. */
export function comfyStep(workflow: ApiWorkflow, bind: ComfyuiWorkStep["bind"], per: "frame" | "chunk" = "frame"): ComfyuiWorkStep {
  return { id: "gen", kind: "comfyui", workflow, workflowSha256: createHash("sha256").update(JSON.stringify(workflow)).digest("hex"), bind, per };
}
