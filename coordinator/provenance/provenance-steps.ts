import type { JobSpec } from "../../shared/job-spec/index.ts";
import { stepHashes, type ProvenanceStep } from "../../shared/provenance/provenance-manifest.ts";
import type { JobRow } from "../store/jobs-table.ts";

/**
 * A job's frame steps as provenance names them: {id, kind, hashes}. A model
 * step's hash is the one resolved at submit (the job row), unless the spec
 * pinned it; other kinds bring their own `<name>Sha256` fields.
 */
export function provenanceSteps(spec: JobSpec, job: Pick<JobRow, "modelSha256">): ProvenanceStep[] {
  return spec.steps
    .filter((s) => s.kind !== "assemble")
    .map((s) => {
      const hashes = stepHashes(s as unknown as Record<string, unknown>);
      if (s.kind === "model" && hashes.model === undefined && job.modelSha256) hashes.model = job.modelSha256;
      return { id: s.id, kind: s.kind, hashes };
    });
}
