import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BadInputError } from "../../shared/errors.ts";
import { validateJobSpec } from "../../shared/job-spec/index.ts";

function refused(raw: unknown): string {
  try {
    validateJobSpec(raw);
  } catch (err) {
    assert.ok(err instanceof BadInputError, `expected BadInputError, got ${String(err)}`);
    return err.message;
  }
  assert.fail("expected the spec to be refused");
}

const blender = {
  name: "sh010 lighting",
  frames: { start: 1, end: 240 },
  steps: [{ id: "render", kind: "blender", scene: "shots/sh010.blend", engine: "cycles", samples: 64 }],
  chunking: { mode: "fixed", size: 10 },
  output: { framePattern: "sh010/frame_{frame:04}.png" },
};

describe("job spec: step kinds", () => {
  it("compiles the issue's Blender job without an input, overrides left null where not given", () => {
    const spec = validateJobSpec(blender);
    assert.equal(spec.input, null);
    assert.deepEqual(spec.frames, { start: 1, end: 240 });
    assert.deepEqual(spec.steps, [
      { id: "render", kind: "blender", scene: "shots/sh010.blend", engine: "cycles", samples: 64, resolution: null, percentage: null, version: null },
    ]);
  });

  it("a blender step with format: exr compiles with it, and its frame names must end in .exr (and only then)", () => {
    const exr = { ...blender, steps: [{ ...blender.steps[0], format: "exr" }], output: { framePattern: "sh010/frame_{frame:04}.exr" } };
    assert.deepEqual(validateJobSpec(exr).steps[0], { ...validateJobSpec(blender).steps[0], format: "exr" });
    assert.match(refused({ ...exr, output: blender.output }), /output\.framePattern: must end in \.exr: step 'render' writes OpenEXR frames/);
    assert.match(refused({ ...blender, output: exr.output }), /output\.framePattern: must not end in \.exr: step 'render' writes PNG frames/);
    assert.match(refused({ ...blender, steps: [{ ...blender.steps[0], format: "tiff" }] }), /steps\[0\]\.format/);
  });

  it("a job that makes its own frames needs a frame range; one that reads frames needs an input", () => {
    assert.match(refused({ ...blender, frames: undefined }), /frames: is required: step 'render' \(blender\) makes its own frames/);
    assert.match(refused({ name: "x", frames: { start: 0, end: 3 }, steps: [{ id: "g", kind: "model", model: "m" }] }), /input: is required: step 'g' \(model\) reads input frames/);
  });

  it("a blender step must come first and must name a .blend file", () => {
    const msg = refused({
      name: "x",
      input: { type: "generated", width: 8, height: 8, frames: 4 },
      steps: [{ id: "g", kind: "model", model: "m" }, { id: "r", kind: "blender", scene: "a.txt" }],
    });
    assert.match(msg, /steps\[1\]\.scene: must be a \.blend file/);
    assert.match(msg, /steps\[1\]\.kind: a blender step makes frames from nothing, so it must be the first step/);
  });

  it("accepts a chain: a model step, then a per-frame command step", () => {
    const spec = validateJobSpec({
      name: "chain",
      input: { type: "generated", width: 8, height: 8, frames: 4 },
      steps: [
        { id: "grade", kind: "model", model: "colour-grade" },
        { id: "flip", kind: "command", program: "ffmpeg-flip", args: ["-i", "{input}", "-vf", "hflip", "{output}"] },
      ],
    });
    assert.deepEqual(spec.steps[1], { id: "flip", kind: "command", program: "ffmpeg-flip", args: ["-i", "{input}", "-vf", "hflip", "{output}"], per: "frame" });
  });

  it("command steps: a program is a name, never a path; placeholders are whole arguments and fit the step's `per`", () => {
    const base = { name: "x", input: { type: "generated", width: 8, height: 8, frames: 4 } };
    assert.match(refused({ ...base, steps: [{ id: "c", kind: "command", program: "/usr/bin/ffmpeg", args: ["{output}"] }] }), /steps\[0\]\.program: must be a program name/);
    assert.match(refused({ ...base, steps: [{ id: "c", kind: "command", program: "ff", args: ["-i{input}", "{output}"] }] }), /steps\[0\]\.args\[0\]: \{input\} must be a whole argument/);
    assert.match(refused({ ...base, steps: [{ id: "c", kind: "command", program: "ff", args: ["{inputDir}", "{output}"] }] }), /\{inputDir\} is for per: chunk steps/);
    assert.match(refused({ ...base, steps: [{ id: "c", kind: "command", program: "ff", args: ["{input}"] }] }), /steps\[0\]\.args: must pass \{output\}/);
    assert.match(refused({ ...base, steps: [{ id: "c", kind: "command", program: "ff", args: ["{home}", "{output}"] }] }), /unknown placeholder \{home\}/);
  });

  it("comfyui steps: defaults for bind and per; a workflow must be a .json file", () => {
    const spec = validateJobSpec({ name: "seeds", frames: { start: 0, end: 399 }, steps: [{ id: "gen", kind: "comfyui", workflow: "wf.api.json", bind: { seed: { node: "3", input: "seed" } } }] });
    assert.deepEqual(spec.steps[0], { id: "gen", kind: "comfyui", workflow: "wf.api.json", bind: { seed: { node: "3", input: "seed" }, image: null, prefix: null }, per: "frame" });
    assert.match(refused({ name: "x", frames: { start: 0, end: 1 }, steps: [{ id: "gen", kind: "comfyui", workflow: "wf.png" }] }), /steps\[0\]\.workflow: must be a ComfyUI workflow/);
  });

  it("comfyui steps: minVram is a size with its unit, compiled to bytes; bad input names the field", () => {
    const gen = { id: "gen", kind: "comfyui", workflow: "wf.api.json" };
    const minVramOf = (minVram: string): unknown => {
      const step = validateJobSpec({ name: "flux", frames: { start: 0, end: 9 }, steps: [{ ...gen, minVram }] }).steps[0];
      return step?.kind === "comfyui" ? step.minVramBytes : undefined;
    };
    assert.equal(minVramOf("12GiB"), 12 * 2 ** 30);
    assert.equal(minVramOf("16 GB"), 16e9);
    const none = validateJobSpec({ name: "any", frames: { start: 0, end: 9 }, steps: [gen] }).steps[0];
    assert.equal(none !== undefined && "minVramBytes" in none, false);
    assert.match(refused({ name: "x", frames: { start: 0, end: 1 }, steps: [{ ...gen, minVram: "12G" }] }), /steps\[0\]\.minVram: '12G' is not a size/);
    assert.match(refused({ name: "x", frames: { start: 0, end: 1 }, steps: [{ ...gen, minVram: 12 }] }), /steps\[0\]\.minVram: expected a string/);
    // Only comfyui steps take it: elsewhere it is an unknown field, not silently ignored.
    assert.match(refused({ name: "x", frames: { start: 0, end: 1 }, steps: [{ id: "c", kind: "command", program: "ff", args: ["{output}"], minVram: "8GiB" }] }), /steps\[0\]\.minVram: unknown field/);
  });
});
