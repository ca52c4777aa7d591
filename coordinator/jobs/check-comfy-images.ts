import type { ComfyuiStep } from "../../shared/job-spec/index.ts";
import type { SpecIssue } from "../../shared/job-spec/spec-issue.ts";
import type { ComfyImage } from "../../shared/steps/work-step.ts";
import type { AssetStore } from "../assets/asset-store.ts";

/**
 * A comfyui step's static input images (`images: {node: {file, sha256,
 * size}}`, what `nightshift submit` sends after uploading the files) checked
 * before a job may name them: each node in the workflow with an `image`
 * input and not the one bound to the input frames, each file already in the
 * asset store with that size (`false`: the file sits in every agent's
 * ComfyUI input folder, as before images travelled). The coordinator reads
 * none of the artist's image files; a path given as text was never uploaded
 * and is refused. Each
 * file found is claimed, so the store's collector leaves it while the job row
 * that names it is being written.
 */
export function checkComfyImages(
  images: NonNullable<ComfyuiStep["images"]>,
  workflow: Record<string, { class_type: string; inputs: Record<string, unknown> }>,
  bound: string | null,
  assets: Pick<AssetStore, "claim"> | undefined,
  issues: SpecIssue[],
  stepPath: ReadonlyArray<PropertyKey>,
): ComfyImage[] | null {
  const before = issues.length;
  const out: ComfyImage[] = [];
  for (const [node, value] of Object.entries(images)) {
    const at = (message: string): void => void issues.push({ path: [...stepPath, "images", node], message });
    if (value === false) continue; // the agents' ComfyUI input folders have it: nothing to send or check
    if (typeof value === "string") {
      at(`'${value}' was not sent by content; submit the job with 'nightshift submit', which uploads the file`);
      continue;
    }
    const n = workflow[node];
    if (n === undefined) at(`node '${node}' (image '${value.file}') is not in the workflow`);
    else if (node === bound) at(`node '${node}' is bound to the input frames (bind.image); it cannot also take image '${value.file}'`);
    else if (!("image" in n.inputs)) at(`node '${node}' (${n.class_type}) has no input 'image' for '${value.file}'`);
    else if (assets === undefined) at("this coordinator has no asset store, so it cannot take input images by upload");
    else if (!assets.claim({ sha256: value.sha256, size: value.size })) {
      at(`node '${node}' (${n.class_type}) image '${value.file}' (${value.size} bytes, sha256 ${value.sha256.slice(0, 12)}…) was not uploaded to the asset store`);
    } else out.push({ node, sha256: value.sha256, size: value.size, name: value.file });
  }
  if (issues.length > before) return null;
  return out.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}
