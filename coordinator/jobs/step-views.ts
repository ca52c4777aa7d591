import { commandStepSha256, type WorkStep } from "../../shared/steps/work-step.ts";

export interface StepView {
  id: string;
  kind: string;
  what: string;
  sha256: string;
}

/** How `nightshift job show` names each step and the hash of what it used. */
export function stepViews(steps: readonly WorkStep[]): StepView[] {
  return steps.map((s): StepView => {
    switch (s.kind) {
      case "model":
        return { id: s.id, kind: s.window === null ? "model" : "model (temporal)", what: s.window === null ? s.model : `${s.model}, window ${s.window}`, sha256: s.modelSha256 };
      case "blender": {
        const o = [s.engine, s.samples !== null ? `${s.samples} samples` : null, s.resolution ? `${s.resolution.width}x${s.resolution.height}` : null, s.percentage !== null ? `${s.percentage}%` : null, s.version ? `blender ${s.version}` : null].filter((x) => x !== null);
        return { id: s.id, kind: "blender", what: o.length ? `${s.scene} (${o.join(", ")})` : s.scene, sha256: s.sceneSha256 };
      }
      case "command":
        return { id: s.id, kind: "command", what: [s.program, ...s.args].join(" "), sha256: commandStepSha256(s) };
      case "comfyui":
        return { id: s.id, kind: "comfyui", what: `workflow of ${Object.keys(s.workflow).length} nodes, per ${s.per}`, sha256: s.workflowSha256 };
    }
  });
}
