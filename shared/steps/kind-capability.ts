import { z } from "zod";

/**
 * What an agent offers for one step kind, advertised when it joins and kept
 * in the coordinator's agents table: the kind, the version of the tool behind
 * it (onnxruntime 1.30.0, blender 3.4.1, ComfyUI 0.3.x) and kind-specific
 * features (the programs a command step may name, the node classes a ComfyUI
 * server has). The scheduler matches these against step-needs.ts.
 */
export const KindCapabilitySchema = z.object({
  kind: z.string().min(1).max(32),
  version: z.string().max(64),
  features: z.array(z.string().max(200)).max(5000).default([]),
});
export type KindCapability = z.infer<typeof KindCapabilitySchema>;

/**
 * Reads a stored capability list. Rows written before step kinds were a seam
 * hold kind names only (["onnx"]): those read as kinds without a version.
 */
export function parseKinds(json: string): KindCapability[] {
  const raw = JSON.parse(json) as unknown;
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((e: unknown): KindCapability[] => {
    if (typeof e === "string") return [{ kind: e === "onnx" ? "model" : e, version: "", features: [] }];
    const parsed = KindCapabilitySchema.safeParse(e);
    return parsed.success ? [parsed.data] : [];
  });
}
