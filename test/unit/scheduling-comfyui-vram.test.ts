import assert from "node:assert/strict";
import { test } from "node:test";
import { ineligibility } from "../../coordinator/scheduling/eligibility.ts";
import { routeJob } from "../../coordinator/scheduling/place-chunks.ts";
import type { KindCapability } from "../../shared/steps/kind-capability.ts";
import { agent, GiB, job } from "../helpers/scheduling-fixtures.ts";

// A comfyui step's minVram is a hard rule checked against the agent's ComfyUI devices (not the agent's own GPU probe).
const comfy = (vramGiB: number, name = "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync"): KindCapability[] => [
  { kind: "comfyui", version: "0.3.47", features: ["KSampler", "SaveImage"], devices: [{ name, type: "cuda", vramTotal: vramGiB * GiB, vramFree: vramGiB * GiB }] },
];
const flux = job("flux", { steps: [{ stepId: "gen", kind: "comfyui", version: null, features: ["KSampler", "SaveImage"], minVramBytes: 16 * GiB }] });

test("a comfyui step that needs 16 GiB goes only to agents whose ComfyUI has a card that large", () => {
  const big = agent("gpu-4090", { kinds: comfy(24) });
  const small = agent("gpu-3070", { kinds: comfy(8, "cuda:0 NVIDIA GeForce RTX 3070 : cudaMallocAsync") });
  assert.equal(ineligibility(big, flux), null);
  assert.equal(ineligibility(small, flux), "has comfyui on cuda:0 NVIDIA GeForce RTX 3070 : cudaMallocAsync with 8.0 GiB VRAM, needs 16.0 GiB: 8.0 GiB short (step gen)");
  const route = routeJob(flux, [big, small]);
  assert.equal(route.kind, "agents");
  assert.deepEqual(route.kind === "agents" ? route.eligible.map((a) => a.id) : [], ["gpu-4090"]);
});

test("a job no ComfyUI can hold waits, and its message says which agent lacks how much", () => {
  const route = routeJob(flux, [agent("gpu-3070", { kinds: comfy(8) }), agent("gpu-3080", { kinds: comfy(10, "cuda:0 RTX 3080") })]);
  assert.equal(route.kind, "hold");
  assert.match(route.kind === "hold" ? route.reason : "", /^no online agent can run this job: gpu-3070 has comfyui on .* with 8\.0 GiB VRAM, needs 16\.0 GiB: 8\.0 GiB short \(step gen\); gpu-3080 has comfyui on cuda:0 RTX 3080 with 10\.0 GiB VRAM, needs 16\.0 GiB: 6\.0 GiB short \(step gen\)$/);
});

test("the agent's own GPU probe does not stand in for ComfyUI's devices", () => {
  // 24 GiB from the agent's probe, but its ComfyUI runs on the CPU: a VRAM need is not met there.
  const cpuComfy: KindCapability[] = [{ kind: "comfyui", version: "0.3.47", features: ["KSampler", "SaveImage"], devices: [{ name: "cpu", type: "cpu", vramTotal: 64 * GiB, vramFree: 60 * GiB }] }];
  assert.equal(ineligibility(agent("a", { vramBytes: 24 * GiB, kinds: cpuComfy }), flux), "has comfyui on cpu only, needs 16.0 GiB VRAM (step gen)");
  // Without minVram the same agent may run the step.
  assert.equal(ineligibility(agent("a", { kinds: cpuComfy }), job("any", { steps: [{ stepId: "gen", kind: "comfyui", version: null, features: ["KSampler"] }] })), null);
});
