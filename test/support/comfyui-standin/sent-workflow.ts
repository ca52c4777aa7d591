import { readFileSync } from "node:fs";
import { join } from "node:path";
import { workflowByContent, type ComfyWorkflowByContent } from "../../../shared/job-spec/comfy-workflow-content.ts";

/**
 * A workflow file as `nightshift submit` sends it ({file, sha256, text}), for
 * tests that submit a comfyui job through the coordinator's API directly: the
 * coordinator reads no workflow path.
 */
export function sentWorkflowFile(dir: string, file: string): ComfyWorkflowByContent {
  const checked = workflowByContent(file, readFileSync(join(dir, file)));
  if ("problem" in checked) throw new Error(`${file} ${checked.problem}`);
  return checked.sent;
}
