import assert from "node:assert/strict";
import { test } from "node:test";
import { agentInfo } from "../../coordinator/scheduling/farm-snapshot.ts";
import { ineligibility } from "../../coordinator/scheduling/eligibility.ts";
import { job } from "../helpers/scheduling-fixtures.ts";
import { heartbeat } from "../helpers/heartbeat-fixture.ts";

const row = {
  id: "a1",
  name: "gpu-1",
  tags: [],
  gpus: [],
  ramBytes: 8 * 2 ** 30,
  kinds: [
    { kind: "model", version: "1.30.0", features: [] },
    { kind: "comfyui", version: "0.3.47", features: ["KSampler", "SaveImage"] },
  ],
};
const hb = (downKinds: string[]) => heartbeat("a1", { name: "gpu-1", downKinds });
const comfyJob = job("j", { steps: [{ stepId: "gen", kind: "comfyui", version: null, features: ["KSampler"] }] });

test("a kind the agent reports down in its heartbeat is not placed there until it is back", () => {
  assert.equal(ineligibility(agentInfo(row, hb([])), comfyJob), null);
  assert.equal(ineligibility(agentInfo(row, hb(["comfyui"])), comfyJob), "has no comfyui executor (step gen)");
  assert.equal(ineligibility(agentInfo(row, undefined), comfyJob), null);
});
