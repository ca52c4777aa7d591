import type { AssetRef } from "../assets/asset-ref.ts";
import type { WorkStep } from "./work-step.ts";

/**
 * The files a work step names by content, besides its model: every file of a
 * Blender scene sent as a tree, every input image of a comfyui step. The
 * agent pins them in its cache while a chunk needs them; the coordinator
 * counts them for placement and prefetch and keeps them in its store while
 * a job names them.
 */
export function stepContentAssets(step: WorkStep): AssetRef[] {
  switch (step.kind) {
    case "blender":
      return (step.tree ?? []).map(({ sha256, size }) => ({ sha256, size }));
    case "comfyui":
      return (step.images ?? []).map(({ sha256, size }) => ({ sha256, size }));
    default:
      return [];
  }
}
