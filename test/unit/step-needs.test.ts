import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stepNeed, unmetNeed, versionMatches } from "../../shared/steps/step-needs.ts";
import type { WorkStep } from "../../shared/steps/work-step.ts";

const HASH = "ab".repeat(32);
const blender: WorkStep = { id: "render", kind: "blender", scene: "a.blend", sceneSha256: HASH, engine: null, samples: null, resolution: null, percentage: null, version: "3.4" };
const command: WorkStep = { id: "flip", kind: "command", program: "ffmpeg-flip", args: ["{input}", "{output}"], per: "frame" };
const comfy: WorkStep = {
  id: "gen",
  kind: "comfyui",
  workflow: { "3": { class_type: "KSampler", inputs: {} }, "9": { class_type: "SaveImage", inputs: {} }, "12": { class_type: "MyCustomNode", inputs: {} } },
  workflowSha256: HASH,
  bind: { seed: null, image: null, prefix: null },
  per: "frame",
};

describe("step needs", () => {
  it("version prefixes match whole components only", () => {
    assert.equal(versionMatches("3.4.1", "3.4"), true);
    assert.equal(versionMatches("3.4.1", "3.4.1"), true);
    assert.equal(versionMatches("3.40.0", "3.4"), false);
    assert.equal(versionMatches("4.2.0", null), true);
  });

  it("says what an agent lacks: the kind, the version, the program, the node classes", () => {
    assert.equal(unmetNeed(stepNeed(blender), [{ kind: "model", version: "1.30.0", features: [] }]), "no blender executor");
    assert.equal(unmetNeed(stepNeed(blender), [{ kind: "blender", version: "4.2.0", features: ["shared-root"] }]), "blender 4.2.0, step render needs 3.4");
    assert.equal(unmetNeed(stepNeed(blender), [{ kind: "blender", version: "3.4.1", features: ["shared-root"] }]), null);
    // A scene by path needs the shared root mounted; a scene sent by content needs an agent that rebuilds trees.
    assert.equal(unmetNeed(stepNeed(blender), [{ kind: "blender", version: "3.4.1", features: ["scene-tree"] }]), "blender lacks feature shared-root");
    const uploaded: WorkStep = { ...blender, tree: [{ path: "a.blend", sha256: HASH, size: 1 }] } as WorkStep;
    assert.equal(unmetNeed(stepNeed(uploaded), [{ kind: "blender", version: "3.4.1", features: ["scene-tree"] }]), null);
    assert.equal(unmetNeed(stepNeed(uploaded), [{ kind: "blender", version: "3.4.1", features: ["shared-root"] }]), "blender lacks feature scene-tree");
    assert.equal(unmetNeed(stepNeed(command), [{ kind: "command", version: "0.1.0", features: ["ffmpeg-denoise"] }]), "command lacks allowed program ffmpeg-flip");
    assert.equal(unmetNeed(stepNeed(command), [{ kind: "command", version: "0.1.0", features: ["ffmpeg-flip"] }]), null);
    assert.equal(
      unmetNeed(stepNeed(comfy), [{ kind: "comfyui", version: "0.3.40", features: ["KSampler", "SaveImage"] }]),
      "comfyui lacks node class MyCustomNode",
    );
  });
});

describe("step needs: a comfyui step's minVram", () => {
  const GiB = 2 ** 30;
  const big: WorkStep = { ...comfy, minVramBytes: 12 * GiB } as WorkStep;
  const features = ["KSampler", "MyCustomNode", "SaveImage"];
  const card = (name: string, gib: number, type = "cuda") => ({ name, type, vramTotal: gib * GiB, vramFree: gib * GiB - GiB });

  it("is carried into the need; a step without it needs no device memory", () => {
    assert.equal(stepNeed(big).minVramBytes, 12 * GiB);
    assert.equal(stepNeed(comfy).minVramBytes, undefined);
    assert.equal(unmetNeed(stepNeed(comfy), [{ kind: "comfyui", version: "0.3.47", features }]), null);
  });

  it("needs a ComfyUI device with that much VRAM in total, and says how much is missing", () => {
    assert.equal(unmetNeed(stepNeed(big), [{ kind: "comfyui", version: "0.3.47", features, devices: [card("cuda:0 RTX 4090", 24)] }]), null);
    assert.equal(unmetNeed(stepNeed(big), [{ kind: "comfyui", version: "0.3.47", features, devices: [card("cuda:0 RTX 3060", 12)] }]), null);
    assert.equal(
      unmetNeed(stepNeed(big), [{ kind: "comfyui", version: "0.3.47", features, devices: [card("cuda:0 GTX 1080", 8)] }]),
      "comfyui on cuda:0 GTX 1080 with 8.0 GiB VRAM, needs 12.0 GiB: 4.0 GiB short",
    );
    // Free memory at join is only a hint: a card whose VRAM is mostly in use then still counts by its total.
    assert.equal(unmetNeed(stepNeed(big), [{ kind: "comfyui", version: "0.3.47", features, devices: [{ ...card("cuda:0 RTX 4090", 24), vramFree: GiB }] }]), null);
  });

  it("counts the largest GPU device, never a cpu device or a ComfyUI that reports none", () => {
    assert.equal(unmetNeed(stepNeed(big), [{ kind: "comfyui", version: "0.3.47", features, devices: [card("cuda:0 GTX 1080", 8), card("cuda:1 RTX 4090", 24)] }]), null);
    assert.equal(unmetNeed(stepNeed(big), [{ kind: "comfyui", version: "0.3.47", features, devices: [card("cpu", 64, "cpu")] }]), "comfyui on cpu only, needs 12.0 GiB VRAM");
    assert.equal(unmetNeed(stepNeed(big), [{ kind: "comfyui", version: "0.3.47", features }]), "comfyui that reports no device, needs 12.0 GiB VRAM");
  });

  it("a missing node class is named before the memory", () => {
    assert.equal(unmetNeed(stepNeed(big), [{ kind: "comfyui", version: "0.3.47", features: ["KSampler"], devices: [card("cuda:0 GTX 1080", 8)] }]), "comfyui lacks node class MyCustomNode, SaveImage");
  });
});
