import assert from "node:assert/strict";
import { test } from "node:test";
import { provenanceSteps } from "../../coordinator/provenance/provenance-steps.ts";
import type { WorkStep } from "../../shared/steps/work-step.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);

test("each step kind names the hashes of what it used", () => {
  const steps = provenanceSteps([
    { id: "grade", kind: "model", model: "colour-grade", modelSha256: A, window: null },
    { id: "denoise", kind: "command", program: "denoise", args: ["--strength", "3"], per: "frame" },
  ] as WorkStep[]);
  assert.deepEqual(steps[0], { id: "grade", kind: "model", hashes: { model: A } });
  assert.equal(steps[1]?.kind, "command");
  assert.match(steps[1]?.hashes.command ?? "", /^[0-9a-f]{64}$/);
  const other = provenanceSteps([{ id: "denoise", kind: "command", program: "denoise", args: ["--strength", "4"], per: "frame" }] as WorkStep[]);
  assert.notEqual(other[0]?.hashes.command, steps[1]?.hashes.command, "another command line, another hash");
  const scene = provenanceSteps([{ id: "r", kind: "blender", sceneSha256: B } as unknown as WorkStep]);
  assert.deepEqual(scene[0]?.hashes, { scene: B });
});
