import { createHash } from "node:crypto";
import { canonicalJson } from "../../shared/provenance/canonical-json.ts";
import { stepHashes, type ProvenanceStep } from "../../shared/provenance/provenance-manifest.ts";
import type { WorkStep } from "../../shared/steps/work-step.ts";

/**
 * A job's frame steps as provenance names them: {id, kind, hashes}. Every
 * `<name>Sha256` field of the resolved work step (model, scene, workflow)
 * becomes hashes.<name>; a command step's command line (program and
 * arguments, canonical JSON) is hashed as hashes.command.
 */
export function provenanceSteps(steps: readonly WorkStep[]): ProvenanceStep[] {
  return steps.map((s) => {
    const hashes = stepHashes(s as unknown as Record<string, unknown>);
    if (s.kind === "command") hashes.command = createHash("sha256").update(canonicalJson([s.program, ...s.args])).digest("hex");
    return { id: s.id, kind: s.kind, hashes };
  });
}
