import type { AssetRef } from "../../shared/assets/asset-ref.ts";
import type { WorkStep } from "../../shared/steps/work-step.ts";
import type { Store } from "../store/store.ts";
import { stepContentAssets } from "../../shared/steps/step-content-assets.ts";

/**
 * What of the coordinator's asset store a job's chain needs on an agent: the
 * store model of its first step and of every later model step, and every file
 * of a Blender scene sent by content, and every input image of a comfyui
 * step. Placement counts the bytes an agent lacks (scheduling/eligibility.ts); prefetch sends them ahead (asset-prefetch.ts).
 */

/** Every store asset a job's chain uses: store models (the first step's and later ones), uploaded scene files and comfyui input images. */
export function storeAssets(store: Pick<Store, "models">, firstSha256: string, steps: readonly WorkStep[]): AssetRef[] {
  const out = new Map<string, AssetRef>();
  const model = (sha256: string): void => {
    const m = store.models.bySha(sha256);
    if (m) out.set(m.sha256, { sha256: m.sha256, size: m.size });
  };
  model(firstSha256);
  for (const s of steps) {
    if (s.kind === "model") model(s.modelSha256);
    for (const a of stepContentAssets(s)) out.set(a.sha256, a);
  }
  return [...out.values()];
}
