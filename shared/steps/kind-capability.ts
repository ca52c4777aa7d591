import { z } from "zod";

/**
 * What an agent offers for one step kind, advertised when it joins and kept
 * in the coordinator's agents table: the kind, the version of the tool behind
 * it (onnxruntime 1.30.0, blender 3.4.1, ComfyUI 0.3.x) and kind-specific
 * features (the programs a command step may name, the node classes a ComfyUI
 * server has) and, where the tool reports them, its devices and their VRAM.
 * The scheduler matches these against step-needs.ts.
 */
/** A device the tool behind a kind reports (ComfyUI's /system_stats `devices`), memory in bytes. */
export const KindDeviceSchema = z.object({
  name: z.string().max(200),
  type: z.string().max(32),
  vramTotal: z.number().int().min(0),
  /** Free when the agent last asked (at join): a hint, not a reservation. */
  vramFree: z.number().int().min(0),
});
export type KindDevice = z.infer<typeof KindDeviceSchema>;

export const KindCapabilitySchema = z.object({
  kind: z.string().min(1).max(32),
  version: z.string().max(64),
  features: z.array(z.string().max(200)).max(5000).default([]),
  /** What the tool runs on (ComfyUI: its devices with vram_total / vram_free); absent where the kind has no such report. */
  devices: z.array(KindDeviceSchema).max(64).optional(),
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
