import { formatGiB } from "../job-spec/byte-size.ts";
import type { KindCapability } from "./kind-capability.ts";
import type { WorkStep } from "./work-step.ts";

/**
 * What a step needs from an agent, and whether an agent's capabilities meet
 * it. Pure: the scheduler and `nightshift job show` use the same answer, so a
 * job that nothing can run says exactly what is missing.
 */
export interface StepNeed {
  stepId: string;
  kind: WorkStep["kind"];
  /** Version prefix ("3.4" matches "3.4.1"); null = any. */
  version: string | null;
  /** Features the capability must list (a command's program, ComfyUI node classes). */
  features: string[];
  /** GPU memory one of the capability's devices must have (a ComfyUI step's minVram); absent or 0: any. */
  minVramBytes?: number;
}

/** What a Blender capability lists: the agent mounts the studio's shared root (scenes by path) / rebuilds scenes sent by content. */
export const BLENDER_SHARED_ROOT = "shared-root";
export const BLENDER_SCENE_TREE = "scene-tree";

export function stepNeed(step: WorkStep): StepNeed {
  switch (step.kind) {
    case "model":
      return { stepId: step.id, kind: "model", version: null, features: [] };
    case "blender":
      return { stepId: step.id, kind: "blender", version: step.version, features: [step.tree === undefined ? BLENDER_SHARED_ROOT : BLENDER_SCENE_TREE] };
    case "command":
      return { stepId: step.id, kind: "command", version: null, features: [step.program] };
    case "comfyui":
      return {
        stepId: step.id,
        kind: "comfyui",
        version: null,
        features: [...new Set(Object.values(step.workflow).map((n) => n.class_type))].sort(),
        ...(step.minVramBytes ? { minVramBytes: step.minVramBytes } : {}),
      };
  }
}

/** True when `version` is `prefix` or starts with `prefix.` ("3.4" matches "3.4.1", not "3.40"). */
export function versionMatches(version: string, prefix: string | null): boolean {
  return prefix === null || version === prefix || version.startsWith(`${prefix}.`);
}

/** Why an agent with these capabilities cannot run the step, or null when it can (when several offers fall short, the last one's reason). */
export function unmetNeed(need: StepNeed, caps: readonly KindCapability[]): string | null {
  const offers = caps.filter((c) => c.kind === need.kind);
  if (offers.length === 0) return `no ${need.kind} executor`;
  const versioned = offers.filter((c) => versionMatches(c.version, need.version));
  if (versioned.length === 0) return `${need.kind} ${offers.map((c) => c.version).join(", ")}, step ${need.stepId} needs ${need.version}`;
  let why: string | null = null;
  for (const c of versioned) {
    why = missingFeatures(need, c) ?? deviceShortfall(need, c);
    if (why === null) return null;
  }
  return why;
}

function missingFeatures(need: StepNeed, c: KindCapability): string | null {
  const have = new Set(c.features);
  const missing = need.features.filter((f) => !have.has(f));
  if (missing.length === 0) return null;
  const what = need.kind === "command" ? "allowed program" : need.kind === "comfyui" ? "node class" : "feature";
  return `${need.kind} lacks ${what} ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""}`;
}

/**
 * Why the capability's devices cannot hold the step (its minVramBytes against
 * the largest device's total memory), or null. Free memory is not used: it
 * was measured when the agent joined and says nothing about when the chunk
 * runs. A `cpu` device does not count: ComfyUI started with --cpu reports
 * the machine's RAM as its vram_total.
 */
function deviceShortfall(need: StepNeed, c: KindCapability): string | null {
  const min = need.minVramBytes ?? 0;
  if (min <= 0) return null;
  const gpus = (c.devices ?? []).filter((d) => d.type !== "cpu");
  if (gpus.length === 0) {
    const where = (c.devices ?? []).length === 0 ? "that reports no device" : "on cpu only";
    return `${need.kind} ${where}, needs ${formatGiB(min)} VRAM`;
  }
  const largest = gpus.reduce((a, b) => (b.vramTotal > a.vramTotal ? b : a));
  if (largest.vramTotal >= min) return null;
  return `${need.kind} on ${largest.name} with ${formatGiB(largest.vramTotal)} VRAM, needs ${formatGiB(min)}: ${formatGiB(min - largest.vramTotal)} short`;
}
